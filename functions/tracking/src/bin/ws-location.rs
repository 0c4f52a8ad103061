//! The `ws-location` Lambda function (WebSocket API route).
haven_platform::socket_function!(haven_tracking::ws_location);
