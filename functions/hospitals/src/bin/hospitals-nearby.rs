//! The `hospitals-nearby` Lambda function.
haven_platform::http_function!(haven_hospitals::nearby);
