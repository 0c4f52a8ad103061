//! The `auth-mfa-verify` Lambda function.
haven_platform::http_function!(haven_identity::mfa_verify);
