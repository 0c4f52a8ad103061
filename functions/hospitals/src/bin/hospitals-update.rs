//! The `hospitals-update` Lambda function.
haven_platform::http_function!(haven_hospitals::update);
