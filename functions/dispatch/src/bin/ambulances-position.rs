//! The `ambulances-position` Lambda function.
haven_platform::http_function!(haven_dispatch::position);
