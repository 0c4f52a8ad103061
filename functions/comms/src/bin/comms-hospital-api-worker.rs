//! The `comms-hospital-api-worker` Lambda function, fed by its SQS queue.
haven_platform::worker_function!(haven_comms::hospital_api_worker);
