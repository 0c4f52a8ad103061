//! The `emergency-verify` Lambda function.
haven_platform::http_function!(haven_emergencies::verify);
