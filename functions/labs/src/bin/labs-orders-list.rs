//! The `labs-orders-list` Lambda function.
haven_platform::http_function!(haven_labs::order_list);
