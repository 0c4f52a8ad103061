//! The `ambulances-propose` Lambda function.
haven_platform::http_function!(haven_dispatch::propose);
