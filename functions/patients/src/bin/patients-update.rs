//! The `patients-update` Lambda function.
haven_platform::http_function!(haven_patients::update);
