//! The `auth-me` Lambda function.
haven_platform::http_function!(haven_identity::me);
