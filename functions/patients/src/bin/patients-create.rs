//! The `patients-create` Lambda function.
haven_platform::http_function!(haven_patients::create);
