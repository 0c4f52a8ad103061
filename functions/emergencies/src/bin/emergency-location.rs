//! The `emergency-location` Lambda function.
haven_platform::http_function!(haven_emergencies::location);
