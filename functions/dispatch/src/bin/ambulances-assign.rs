//! The `ambulances-assign` Lambda function.
haven_platform::http_function!(haven_dispatch::assign);
