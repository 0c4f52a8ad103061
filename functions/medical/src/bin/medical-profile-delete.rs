//! The `medical-profile-delete` Lambda function.
haven_platform::http_function!(haven_medical::delete);
