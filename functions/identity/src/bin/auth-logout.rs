//! The `auth-logout` Lambda function.
haven_platform::http_function!(haven_identity::logout);
