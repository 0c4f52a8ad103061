//! The `patients-documents-list` Lambda function.
haven_platform::http_function!(haven_patients::documents_list);
