//! The `auth-emergency-bypass` Lambda function.
haven_platform::http_function!(haven_identity::emergency_bypass);
