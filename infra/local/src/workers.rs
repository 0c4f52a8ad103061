//! The Lambda SQS event source, played locally: receive a batch, hand it to the worker,
//! delete what succeeded and leave the reported failures to come back after their
//! visibility timeout (`ReportBatchItemFailures`), so receive counts and dead-lettering work
//! exactly as on AWS.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use haven_kernel::ports::{Ports, Queue, QueueError, ReceiveOptions};
use lambda_runtime::{Context, LambdaEvent};

use crate::events::sqs_event;
use crate::functions::WorkerFunction;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    pub received: usize,
    pub deleted: usize,
    pub failed: usize,
}

/// One poll: at most `batch_size` messages, waiting up to `wait` for the first.
pub async fn poll_once<P: Ports>(
    ports: &Arc<P>,
    queue: &str,
    batch_size: u32,
    wait: Duration,
    worker: WorkerFunction<P>,
) -> Result<BatchOutcome, QueueError> {
    let options = ReceiveOptions {
        max_messages: batch_size,
        wait,
        visibility: None,
    };
    let messages = ports.queue().receive(queue, options).await?;
    if messages.is_empty() {
        return Ok(BatchOutcome::default());
    }
    let mut outcome = BatchOutcome {
        received: messages.len(),
        ..Default::default()
    };
    let event: SqsEvent = serde_json::from_value(sqs_event(queue, &messages))
        .map_err(|e| QueueError::Invalid(format!("building the SQS event: {e}")))?;
    let mut context = Context::default();
    context.request_id = crate::new_request_id();
    let failed_ids: Vec<String> =
        match worker(ports.clone(), LambdaEvent::new(event, context)).await {
            Ok(response) => response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect(),
            // A failed invocation fails the whole batch, as on Lambda.
            Err(e) => {
                tracing::error!(queue, error = %e, "worker failed the whole batch");
                messages.iter().map(|m| m.message_id.clone()).collect()
            }
        };
    // Deleted together: one trip each to the writer, none waiting for another.
    let done: Vec<&str> = messages
        .iter()
        .filter(|m| !failed_ids.contains(&m.message_id))
        .map(|m| m.receipt_handle.as_str())
        .collect();
    outcome.failed = messages.len() - done.len();
    futures::future::try_join_all(done.iter().map(|r| ports.queue().delete(queue, r))).await?;
    outcome.deleted = done.len();
    Ok(outcome)
}

/// Polls `queue` until the process ends, backing off when the queue is unavailable.
pub async fn run<P: Ports>(
    ports: Arc<P>,
    queue: &'static str,
    batch_size: u32,
    worker: WorkerFunction<P>,
) {
    loop {
        match poll_once(&ports, queue, batch_size, Duration::from_secs(5), worker).await {
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(queue, error = %e, "poll failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Runs a scheduled function every `every`, as an EventBridge schedule would.
pub async fn every<P: Ports>(ports: Arc<P>, function: &'static str, every: Duration) {
    let Some(handler) = crate::functions::scheduled_function::<P>(function) else {
        tracing::error!(function, "no scheduled function of that name");
        return;
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let mut context = Context::default();
        context.request_id = crate::new_request_id();
        let event = serde_json::json!({
            "source": "aws.events",
            "detail-type": "Scheduled Event",
            "detail": {},
        });
        if let Err(e) = handler(ports.clone(), LambdaEvent::new(event, context)).await {
            tracing::warn!(function, error = %e, "scheduled run failed");
        }
    }
}

/// How the local gateway plays Lambda's event sources and EventBridge.
#[derive(Debug, Clone, Copy)]
pub struct Pipeline {
    /// Concurrent pollers per queue (Lambda starts several for a busy queue).
    pub pollers_per_queue: usize,
    /// How often scheduled functions run; AWS runs them each minute, locally sooner is
    /// kinder to a developer waiting for a stranded alert.
    pub schedule_every: Duration,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline {
            pollers_per_queue: 4,
            schedule_every: Duration::from_secs(5),
        }
    }
}

/// Starts a poller for every worker of the catalogue and a timer for every scheduled
/// function. Dropping the handles does not stop them; abort them to stop.
pub fn spawn_all<P: Ports>(ports: &Arc<P>, pipeline: Pipeline) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    for w in haven_edge::catalogue::QUEUE_WORKERS {
        let Some(worker) = crate::functions::worker_function::<P>(w.function) else {
            continue;
        };
        for _ in 0..pipeline.pollers_per_queue.max(1) {
            handles.push(tokio::spawn(run(
                ports.clone(),
                w.queue,
                w.batch_size,
                worker,
            )));
        }
    }
    for s in haven_edge::catalogue::SCHEDULED_FUNCTIONS {
        handles.push(tokio::spawn(every(
            ports.clone(),
            s.function,
            pipeline.schedule_every,
        )));
    }
    handles
}
