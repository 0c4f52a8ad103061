//! The `emergency-alert` Lambda function.
haven_platform::http_function!(haven_emergencies::alert);
