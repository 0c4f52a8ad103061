//! The `medical-profile-update` Lambda function.
haven_platform::http_function!(haven_medical::update);
