//! The `patients-search` Lambda function.
haven_platform::http_function!(haven_patients::search);
