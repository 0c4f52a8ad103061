//! The `ambulances-get` Lambda function.
haven_platform::http_function!(haven_dispatch::get);
