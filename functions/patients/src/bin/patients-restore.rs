//! The `patients-restore` Lambda function.
haven_platform::http_function!(haven_patients::restore);
