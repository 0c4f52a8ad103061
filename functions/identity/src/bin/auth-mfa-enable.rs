//! The `auth-mfa-enable` Lambda function.
haven_platform::http_function!(haven_identity::mfa_enable);
