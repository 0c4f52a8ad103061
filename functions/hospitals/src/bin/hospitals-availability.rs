//! The `hospitals-availability` Lambda function.
haven_platform::http_function!(haven_hospitals::availability);
