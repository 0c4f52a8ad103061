//! The `health-ready` Lambda function.
haven_platform::http_function!(haven_ops::health_ready);
