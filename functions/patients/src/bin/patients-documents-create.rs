//! The `patients-documents-create` Lambda function.
haven_platform::http_function!(haven_patients::documents_create);
