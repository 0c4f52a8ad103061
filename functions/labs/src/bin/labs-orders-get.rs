//! The `labs-orders-get` Lambda function.
haven_platform::http_function!(haven_labs::order_get);
