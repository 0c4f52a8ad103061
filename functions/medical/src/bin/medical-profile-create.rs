//! The `medical-profile-create` Lambda function.
haven_platform::http_function!(haven_medical::create);
