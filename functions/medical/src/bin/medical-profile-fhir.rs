//! The `medical-profile-fhir` Lambda function.
haven_platform::http_function!(haven_medical::fhir);
