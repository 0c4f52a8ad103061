//! The `patients-fhir` Lambda function.
haven_platform::http_function!(haven_patients::fhir);
