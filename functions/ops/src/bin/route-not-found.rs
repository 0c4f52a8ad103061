//! The `route-not-found` Lambda function.
haven_platform::http_function!(haven_ops::route_not_found);
