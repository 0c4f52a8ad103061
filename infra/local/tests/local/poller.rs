//! The local stand-in for Lambda's SQS event source: batches, partial batch failures, receive
//! counts and dead-lettering behave as on AWS.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use haven_kernel::ports::{OutgoingMessage, Ports, Queue, ReceiveOptions};
use haven_local::workers::{BatchOutcome, poll_once};
use haven_platform::EmbeddedPorts;
use lambda_runtime::LambdaEvent;

/// Fails every message whose body starts with `fail`, reporting it as a batch item failure.
fn worker(
    _ports: Arc<EmbeddedPorts>,
    event: LambdaEvent<SqsEvent>,
) -> futures::future::BoxFuture<'static, Result<SqsBatchResponse, lambda_runtime::Error>> {
    Box::pin(async move {
        let mut response = SqsBatchResponse::default();
        for record in event.payload.records {
            if record.body.as_deref().unwrap_or("").starts_with("fail") {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        Ok(response)
    })
}

/// Fails the whole invocation, as a panicking or erroring Lambda would.
fn broken_worker(
    _ports: Arc<EmbeddedPorts>,
    _event: LambdaEvent<SqsEvent>,
) -> futures::future::BoxFuture<'static, Result<SqsBatchResponse, lambda_runtime::Error>> {
    Box::pin(async { Err("the worker crashed".into()) })
}

fn ports() -> (Arc<EmbeddedPorts>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ports = EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");
    ports
        .backend
        .queue
        .declare("work-dlq", Duration::from_secs(30), None)
        .expect("dlq");
    ports
        .backend
        .queue
        .declare("work", Duration::from_secs(1), Some(("work-dlq", 2)))
        .expect("queue");
    (Arc::new(ports), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn successes_are_deleted_and_reported_failures_come_back_then_dead_letter() {
    let (ports, _dir) = ports();
    for body in ["ok 1", "fail 2", "ok 3"] {
        ports
            .queue()
            .send("work", OutgoingMessage::new(body))
            .await
            .expect("send");
    }
    let first = poll_once(&ports, "work", 10, Duration::from_secs(1), worker)
        .await
        .expect("poll");
    assert_eq!(
        first,
        BatchOutcome {
            received: 3,
            deleted: 2,
            failed: 1
        }
    );
    // The failure returns after its visibility timeout, once more, then goes to the DLQ.
    let second = poll_once(&ports, "work", 10, Duration::from_secs(3), worker)
        .await
        .expect("poll");
    assert_eq!(
        second,
        BatchOutcome {
            received: 1,
            deleted: 0,
            failed: 1
        }
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let third = poll_once(&ports, "work", 10, Duration::from_secs(1), worker)
        .await
        .expect("poll");
    assert_eq!(
        third.received, 0,
        "received twice: dead-lettered, not delivered a third time"
    );
    let dead = ports
        .queue()
        .receive(
            "work-dlq",
            ReceiveOptions {
                max_messages: 10,
                wait: Duration::from_secs(1),
                visibility: None,
            },
        )
        .await
        .expect("dlq");
    assert_eq!(
        dead.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["fail 2"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_invocation_returns_the_whole_batch() {
    let (ports, _dir) = ports();
    for body in ["ok 1", "ok 2"] {
        ports
            .queue()
            .send("work", OutgoingMessage::new(body))
            .await
            .expect("send");
    }
    let outcome = poll_once(&ports, "work", 10, Duration::from_secs(1), broken_worker)
        .await
        .expect("poll");
    assert_eq!(
        outcome,
        BatchOutcome {
            received: 2,
            deleted: 0,
            failed: 2
        }
    );
    let again = poll_once(&ports, "work", 10, Duration::from_secs(3), worker)
        .await
        .expect("poll");
    assert_eq!(
        again,
        BatchOutcome {
            received: 2,
            deleted: 2,
            failed: 0
        },
        "nothing was lost"
    );
}
