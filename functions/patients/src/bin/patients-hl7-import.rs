//! The `patients-hl7-import` Lambda function.
haven_platform::http_function!(haven_patients::hl7_import);
