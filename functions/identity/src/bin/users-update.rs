//! The `users-update` Lambda function.
haven_platform::http_function!(haven_identity::users_update);
