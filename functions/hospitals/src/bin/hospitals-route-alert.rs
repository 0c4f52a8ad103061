//! The `hospitals-route-alert` Lambda function.
haven_platform::http_function!(haven_hospitals::route_alert);
