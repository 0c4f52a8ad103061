//! The `patients-list` Lambda function.
haven_platform::http_function!(haven_patients::list);
