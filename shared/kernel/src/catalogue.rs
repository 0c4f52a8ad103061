//! The queues and topics Haven runs on, declared once. The embedded backend creates them
//! from this list; `template.yaml` declares the same ones (a test checks the two agree).

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadLetter {
    pub queue: &'static str,
    /// Receives after which a message moves to the dead-letter queue.
    pub max_receives: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: &'static str,
    pub visibility_timeout: Duration,
    pub dead_letter: Option<DeadLetter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    pub queue: &'static str,
    /// An SNS filter policy on message attributes (JSON); empty for "everything".
    pub filter_policy: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: &'static str,
    pub subscriptions: &'static [Subscription],
}

/// Worker functions run for at most this long per batch: the messages of a batch are handled
/// at once, so a batch takes one webhook attempt (`CommsSettings::attempt_timeout`, at most
/// `MAX_ATTEMPT_TIMEOUT`) plus its table writes.
pub const WORKER_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a webhook attempt may be given, so a batch always ends inside `WORKER_TIMEOUT`.
pub const MAX_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(7);
/// A crashed or timed-out invocation's messages come back after this long. AWS's general
/// advice (six times the function timeout) guards against a second copy while an invocation
/// is throttled; here a second copy is harmless (the delivery lease makes it wait, and the
/// receiver dedupes on `webhook-id`), and an emergency cannot wait three minutes.
/// docs/operations.md ("Queue timeouts") has the reasoning.
pub const VISIBILITY: Duration = Duration::from_secs(15);
const DLQ_VISIBILITY: Duration = Duration::from_secs(30);

pub const ALERTS_TOPIC: &str = "alerts";
pub const WEBHOOK_QUEUE: &str = "webhook";
pub const SMS_QUEUE: &str = "sms";
pub const HOSPITAL_API_QUEUE: &str = "hospital-api";
pub const DEADLINES_QUEUE: &str = "deadlines";

const fn channel(name: &'static str, dlq: &'static str) -> QueueSpec {
    QueueSpec {
        name,
        visibility_timeout: VISIBILITY,
        dead_letter: Some(DeadLetter {
            queue: dlq,
            max_receives: 10,
        }),
    }
}

const fn dead_letter_queue(name: &'static str) -> QueueSpec {
    QueueSpec {
        name,
        visibility_timeout: DLQ_VISIBILITY,
        dead_letter: None,
    }
}

pub const QUEUES: &[QueueSpec] = &[
    channel(WEBHOOK_QUEUE, "webhook-dlq"),
    channel(SMS_QUEUE, "sms-dlq"),
    channel(HOSPITAL_API_QUEUE, "hospital-api-dlq"),
    channel(DEADLINES_QUEUE, "deadlines-dlq"),
    dead_letter_queue("webhook-dlq"),
    dead_letter_queue("sms-dlq"),
    dead_letter_queue("hospital-api-dlq"),
    dead_letter_queue("deadlines-dlq"),
];

/// One event per matched alert goes to the alerts topic; each channel queue takes the events
/// whose `channels` attribute (a string array) names it.
pub const TOPICS: &[TopicSpec] = &[TopicSpec {
    name: ALERTS_TOPIC,
    subscriptions: &[
        Subscription {
            queue: WEBHOOK_QUEUE,
            filter_policy: r#"{"channels":["webhook"]}"#,
        },
        Subscription {
            queue: SMS_QUEUE,
            filter_policy: r#"{"channels":["sms"]}"#,
        },
        Subscription {
            queue: HOSPITAL_API_QUEUE,
            filter_policy: r#"{"channels":["hospital-api"]}"#,
        },
    ],
}];

pub fn queue(name: &str) -> Option<&'static QueueSpec> {
    QUEUES.iter().find(|q| q.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dead_letter_and_subscription_names_a_declared_queue() {
        for q in QUEUES {
            if let Some(dl) = q.dead_letter {
                assert!(queue(dl.queue).is_some(), "{} -> {}", q.name, dl.queue);
                // A live invocation's messages stay hidden until it has surely ended.
                assert!(q.visibility_timeout > WORKER_TIMEOUT);
                assert!(MAX_ATTEMPT_TIMEOUT + Duration::from_secs(2) <= WORKER_TIMEOUT);
            }
        }
        for t in TOPICS {
            for s in t.subscriptions {
                assert!(queue(s.queue).is_some());
                serde_json::from_str::<serde_json::Value>(s.filter_policy).expect("policy is JSON");
            }
        }
    }
}
