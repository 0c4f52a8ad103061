//! The `auth-register` Lambda function.
haven_platform::http_function!(haven_identity::register);
