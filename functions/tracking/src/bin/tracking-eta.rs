//! The `tracking-eta` Lambda function.
haven_platform::http_function!(haven_tracking::eta);
