//! The `emergency-history` Lambda function.
haven_platform::http_function!(haven_emergencies::history);
