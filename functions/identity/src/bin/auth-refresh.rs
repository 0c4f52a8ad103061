//! The `auth-refresh` Lambda function.
haven_platform::http_function!(haven_identity::refresh);
