//! The `labs-orders-create` Lambda function.
haven_platform::http_function!(haven_labs::order_create);
