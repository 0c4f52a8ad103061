//! The `patients-delete` Lambda function.
haven_platform::http_function!(haven_patients::delete);
