//! The `comms-outbox-relay` Lambda function, run on a schedule.
haven_platform::scheduled_function!(haven_comms::outbox_relay);
