//! The `jwks` Lambda function.
haven_platform::http_function!(haven_identity::jwks);
