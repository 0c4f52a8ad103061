//! The `emergency-status` Lambda function.
haven_platform::http_function!(haven_emergencies::status);
