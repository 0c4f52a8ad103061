//! The `ambulances-list` Lambda function.
haven_platform::http_function!(haven_dispatch::list);
