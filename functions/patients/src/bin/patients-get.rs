//! The `patients-get` Lambda function.
haven_platform::http_function!(haven_patients::get);
