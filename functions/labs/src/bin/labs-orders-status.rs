//! The `labs-orders-status` Lambda function.
haven_platform::http_function!(haven_labs::order_status);
