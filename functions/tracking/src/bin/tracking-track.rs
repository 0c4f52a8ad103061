//! The `tracking-track` Lambda function.
haven_platform::http_function!(haven_tracking::track);
