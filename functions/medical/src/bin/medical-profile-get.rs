//! The `medical-profile-get` Lambda function.
haven_platform::http_function!(haven_medical::get);
