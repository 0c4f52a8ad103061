//! The `emergency-cancel` Lambda function.
haven_platform::http_function!(haven_emergencies::cancel);
