//! The `hospitals-capabilities` Lambda function.
haven_platform::http_function!(haven_hospitals::capabilities);
