//! The `patients-history` Lambda function.
haven_platform::http_function!(haven_patients::history);
