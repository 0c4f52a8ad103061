//! The `auth-verify` Lambda function.
haven_platform::http_function!(haven_identity::verify);
