//! The `emergency-medical-profile` Lambda function.
haven_platform::http_function!(haven_medical::break_glass);
