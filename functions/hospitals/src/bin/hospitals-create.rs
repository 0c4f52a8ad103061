//! The `hospitals-create` Lambda function.
haven_platform::http_function!(haven_hospitals::create);
