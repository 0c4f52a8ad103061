//! The `medical-profile-access-log` Lambda function.
haven_platform::http_function!(haven_medical::access_log);
