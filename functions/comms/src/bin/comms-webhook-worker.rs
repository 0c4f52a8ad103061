//! The `comms-webhook-worker` Lambda function, fed by its SQS queue.
haven_platform::worker_function!(haven_comms::webhook_worker);
