//! The Publisher port on SQLite, with SNS's semantics: topics fan out to subscribed queues by
//! filter policy (raw message delivery), and SMS lands in a local outbox.

use std::collections::BTreeMap;

use haven_kernel::Timestamp;
use haven_kernel::ports::publisher::validate_phone_number;
use haven_kernel::ports::queue::MAX_BODY_BYTES;
use haven_kernel::ports::{PublishError, Publisher};
use rusqlite::OptionalExtension;

use crate::EmbeddedError;
use crate::db::{Database, Db, DbError, Durability, immediate};
use crate::filter::FilterPolicy;
use crate::queue::insert_message;

impl From<DbError> for PublishError {
    fn from(e: DbError) -> Self {
        PublishError::Unavailable(e.describe())
    }
}

/// One SMS "sent" by the embedded backend: the local stand-in for SNS SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRecord {
    pub message_id: String,
    pub phone_number: String,
    pub text: String,
    pub sent_at: Timestamp,
}

/// SNS-style topics, in the `topics`, `subscriptions` and `sms_outbox` tables.
#[derive(Clone)]
pub struct SqlitePublisher {
    db: Database,
}

impl SqlitePublisher {
    pub(crate) fn new(db: Database) -> Self {
        SqlitePublisher { db }
    }

    /// Declares a topic; declaring it again changes nothing.
    pub fn declare_topic(&self, name: &str) -> Result<(), EmbeddedError> {
        if name.is_empty() || name.len() > 256 {
            return Err(EmbeddedError::Invalid(
                "a topic name holds 1 to 256 characters".into(),
            ));
        }
        self.db
            .lock()
            .execute("INSERT OR IGNORE INTO topics (name) VALUES (?1)", [name])?;
        Ok(())
    }

    /// Subscribes a declared queue to a declared topic with a filter policy (`""`: every
    /// message). Subscribing again replaces the policy, as SNS's SetSubscriptionAttributes.
    pub fn subscribe(
        &self,
        topic: &str,
        queue: &str,
        filter_policy_json: &str,
    ) -> Result<(), EmbeddedError> {
        FilterPolicy::parse(filter_policy_json).map_err(|e| {
            EmbeddedError::Invalid(format!("filter policy of {topic} -> {queue}: {e}"))
        })?;
        let mut conn = self.db.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let exists = |sql: &str, name: &str| -> Result<bool, rusqlite::Error> {
            Ok(tx.query_row(sql, [name], |_| Ok(())).optional()?.is_some())
        };
        if !exists("SELECT 1 FROM topics WHERE name = ?1", topic)? {
            return Err(EmbeddedError::UnknownTopic(topic.to_owned()));
        }
        if !exists("SELECT 1 FROM queues WHERE name = ?1", queue)? {
            return Err(EmbeddedError::UnknownQueue(queue.to_owned()));
        }
        tx.execute(
            "INSERT INTO subscriptions (topic, queue, filter_policy) VALUES (?1, ?2, ?3)
             ON CONFLICT (topic, queue) DO UPDATE SET filter_policy = excluded.filter_policy",
            (topic, queue, filter_policy_json),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Every SMS sent so far, oldest first.
    pub fn sms_outbox(&self) -> Result<Vec<SmsRecord>, EmbeddedError> {
        let conn = self.db.lock();
        let mut statement = conn.prepare(
            "SELECT message_id, phone_number, text, sent_at FROM sms_outbox ORDER BY seq",
        )?;
        let records = statement
            .query_map([], |r| {
                Ok(SmsRecord {
                    message_id: r.get(0)?,
                    phone_number: r.get(1)?,
                    text: r.get(2)?,
                    sent_at: Timestamp::from_millis(r.get(3)?),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(records)
    }
}

impl Publisher for SqlitePublisher {
    async fn publish(
        &self,
        topic: &str,
        message: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<String, PublishError> {
        if message.is_empty() || message.len() > MAX_BODY_BYTES {
            return Err(PublishError::Invalid(
                "a message holds 1 byte to 256 KiB".into(),
            ));
        }
        let (topic, message, attributes) =
            (topic.to_owned(), message.to_owned(), attributes.clone());
        let delivered = self
            .db
            .write(Durability::Durable, move |conn, shared| {
                let tx = immediate(conn)?;
                let known = tx
                    .prepare_cached("SELECT 1 FROM topics WHERE name = ?1")
                    .db()?
                    .query_row([&topic], |_| Ok(()))
                    .optional()
                    .db()?;
                if known.is_none() {
                    return Err(PublishError::UnknownTopic(topic));
                }
                // Only queues that still exist: SNS drops deliveries to a deleted queue.
                let subscriptions: Vec<(String, String)> = tx
                    .prepare_cached(
                        "SELECT s.queue, s.filter_policy FROM subscriptions s
                         JOIN queues q ON q.name = s.queue WHERE s.topic = ?1 ORDER BY s.queue",
                    )
                    .db()?
                    .query_map([&topic], |r| Ok((r.get(0)?, r.get(1)?)))
                    .db()?
                    .collect::<Result<_, _>>()
                    .db()?;
                let now = shared.clock.now();
                let mut delivered = Vec::new();
                for (queue, policy) in subscriptions {
                    let matches = match FilterPolicy::parse(&policy) {
                        Ok(p) => p.matches(&attributes),
                        Err(e) => {
                            // Checked when subscribing; only a hand-edited database gets here.
                            tracing::warn!(
                                topic,
                                queue,
                                error = e,
                                "skipping a subscription with a bad filter policy"
                            );
                            false
                        }
                    };
                    if matches {
                        insert_message(
                            &tx,
                            &queue,
                            &message,
                            &attributes,
                            now,
                            std::time::Duration::ZERO,
                        )?;
                        delivered.push(queue);
                    }
                }
                tx.commit().db()?;
                Ok(delivered)
            })
            .await?;
        for queue in &delivered {
            self.db.shared().wakeups.sent(queue);
        }
        Ok(uuid::Uuid::new_v4().to_string())
    }

    async fn send_sms(&self, phone_number: &str, text: &str) -> Result<String, PublishError> {
        validate_phone_number(phone_number)?;
        if text.is_empty() {
            return Err(PublishError::Invalid("an SMS needs text".into()));
        }
        let (phone, text) = (phone_number.to_owned(), text.to_owned());
        self.db
            .write(Durability::Durable, move |conn, shared| {
                let id = uuid::Uuid::new_v4().to_string();
                conn.prepare_cached(
                    "INSERT INTO sms_outbox (message_id, phone_number, text, sent_at) VALUES (?1, ?2, ?3, ?4)",
                )
                .db()?
                .execute((&id, &phone, &text, shared.clock.now().millis()))
                .db()?;
                Ok(id)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use haven_kernel::ports::{PublishError, Publisher, Queue, ReceiveOptions};

    use crate::testing::{backend, start};

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    async fn bodies(
        b: &crate::EmbeddedBackend,
        queue: &str,
    ) -> Vec<(String, BTreeMap<String, String>)> {
        b.queue
            .receive(queue, ReceiveOptions::default())
            .await
            .expect("receive")
            .into_iter()
            .map(|m| (m.body, m.attributes))
            .collect()
    }

    #[tokio::test]
    async fn publish_fans_out_by_filter_policy() {
        let (_dir, b, _) = backend();
        let p = &b.publisher;
        let both = attrs(&[("channels", r#"["webhook","sms"]"#)]);
        p.publish("alerts", r#"{"alert":1}"#, &both)
            .await
            .expect("publish");
        p.publish(
            "alerts",
            r#"{"alert":2}"#,
            &attrs(&[("channels", r#"["hospital-api"]"#)]),
        )
        .await
        .expect("publish");
        p.publish("alerts", r#"{"alert":3}"#, &attrs(&[]))
            .await
            .expect("publish to nobody");

        let webhook = bodies(&b, "webhook").await;
        assert_eq!(
            webhook,
            [(r#"{"alert":1}"#.to_owned(), both.clone())],
            "raw delivery with attributes"
        );
        assert_eq!(bodies(&b, "sms").await.len(), 1);
        let hospital = bodies(&b, "hospital-api").await;
        assert_eq!(hospital.len(), 1);
        assert_eq!(hospital[0].0, r#"{"alert":2}"#);

        // A subscription without a filter gets everything.
        b.queue
            .declare("audit", Duration::from_secs(30), None)
            .expect("declare");
        p.subscribe("alerts", "audit", "").expect("subscribe");
        p.subscribe("alerts", "audit", "")
            .expect("subscribing again is harmless");
        p.publish("alerts", "x", &attrs(&[]))
            .await
            .expect("publish");
        assert_eq!(bodies(&b, "audit").await.len(), 1);

        assert_eq!(
            p.publish("nope", "x", &attrs(&[])).await,
            Err(PublishError::UnknownTopic("nope".into()))
        );
        assert!(matches!(
            p.publish("alerts", "", &attrs(&[])).await,
            Err(PublishError::Invalid(_))
        ));
        p.declare_topic("alerts")
            .expect("declaring again is harmless");
    }

    #[tokio::test]
    async fn sms_goes_to_the_outbox_in_order() {
        let (_dir, b, clock) = backend();
        let p = &b.publisher;
        let first = p.send_sms("+254712345678", "first").await.expect("sms");
        clock.advance(Duration::from_secs(1));
        let second = p.send_sms("+254700000001", "second").await.expect("sms");
        assert!(matches!(
            p.send_sms("0712345678", "x").await,
            Err(PublishError::Invalid(_))
        ));
        assert!(matches!(
            p.send_sms("+254712345678", "").await,
            Err(PublishError::Invalid(_))
        ));
        let outbox = p.sms_outbox().expect("outbox");
        assert_eq!(outbox.len(), 2);
        assert_eq!(
            (outbox[0].message_id.as_str(), outbox[0].text.as_str()),
            (first.as_str(), "first")
        );
        assert_eq!(outbox[0].phone_number, "+254712345678");
        assert_eq!(outbox[0].sent_at, start());
        assert_eq!(outbox[1].message_id, second);
        assert_eq!(outbox[1].sent_at, start().plus(Duration::from_secs(1)));
    }
}
