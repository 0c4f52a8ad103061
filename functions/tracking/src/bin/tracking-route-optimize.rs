//! The `tracking-route-optimize` Lambda function.
haven_platform::http_function!(haven_tracking::route_optimize);
