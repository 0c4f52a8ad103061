//! The `ambulances-create` Lambda function.
haven_platform::http_function!(haven_dispatch::create);
