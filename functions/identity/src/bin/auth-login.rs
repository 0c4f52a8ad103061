//! The `auth-login` Lambda function.
haven_platform::http_function!(haven_identity::login);
