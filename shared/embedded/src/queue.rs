//! The Queue port on SQLite, with SQS's semantics: delays, visibility timeouts, receipt
//! handles, long polling and redrive to a dead-letter queue.

use std::collections::BTreeMap;
use std::pin::pin;
use std::time::Duration;

use haven_kernel::Timestamp;
use haven_kernel::ports::queue::MAX_VISIBILITY;
use haven_kernel::ports::{
    OutgoingMessage, Queue, QueueDepth, QueueError, ReceiveOptions, ReceivedMessage,
};
use rusqlite::{Connection, OptionalExtension};

use crate::EmbeddedError;
use crate::db::{Database, Db, DbError, Durability, Shared, immediate};

/// How often a long poll looks again (on a reader, without the write lock) for messages sent
/// by other processes. Sends in this process wake one of the queue's pollers at once, and a
/// delayed message's poller wakes when it becomes visible.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

impl From<DbError> for QueueError {
    fn from(e: DbError) -> Self {
        QueueError::Unavailable(e.describe())
    }
}

/// SQS-style queues, in the `queues` and `messages` tables of the shared database.
#[derive(Clone)]
pub struct SqliteQueue {
    db: Database,
}

struct QueueSettings {
    visibility: Duration,
    /// The dead-letter queue and the receives after which a message moves there.
    dead_letter: Option<(String, u32)>,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn settings(conn: &Connection, queue: &str) -> Result<Option<QueueSettings>, DbError> {
    conn.prepare_cached(
        "SELECT visibility_ms, dead_letter_queue, max_receives FROM queues WHERE name = ?1",
    )
    .db()?
    .query_row([queue], |r| {
        let visibility: i64 = r.get(0)?;
        let dlq: Option<String> = r.get(1)?;
        let max: Option<i64> = r.get(2)?;
        Ok(QueueSettings {
            visibility: Duration::from_millis(u64::try_from(visibility).unwrap_or(0)),
            dead_letter: dlq.zip(max.map(|m| u32::try_from(m).unwrap_or(u32::MAX))),
        })
    })
    .optional()
    .db()
}

fn known(conn: &Connection, queue: &str) -> Result<QueueSettings, QueueError> {
    settings(conn, queue)?.ok_or_else(|| QueueError::UnknownQueue(queue.to_owned()))
}

/// Appends a message; shared with the publisher, which fans out inside its own transaction.
pub(crate) fn insert_message(
    conn: &Connection,
    queue: &str,
    body: &str,
    attributes: &BTreeMap<String, String>,
    now: Timestamp,
    delay: Duration,
) -> Result<String, DbError> {
    let id = uuid::Uuid::new_v4().to_string();
    let attributes = serde_json::to_string(attributes)
        .map_err(|_| DbError::Corrupt("attributes cannot be stored"))?;
    conn.prepare_cached(
        "INSERT INTO messages (id, queue, body, attributes, visible_at, receive_count, receipt, sent_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, NULL, ?6)",
    )
    .db()?
    .execute((&id, queue, body, &attributes, now.plus(delay).millis(), now.millis()))
    .db()?;
    Ok(id)
}

/// What one attempt at receiving found.
struct Received {
    messages: Vec<ReceivedMessage>,
    /// The dead-letter queue that over-received messages moved to, if any did.
    moved_to: Option<String>,
    /// When the queue's next message becomes visible (clock milliseconds), if it holds one
    /// and this attempt did not fill its batch.
    next_visible: Option<i64>,
}

/// When `queue`'s next message becomes visible (clock milliseconds): its smallest
/// `visible_at`, from the `(queue, visible_at)` index.
fn next_visible(conn: &Connection, queue: &str) -> Result<Option<i64>, DbError> {
    conn.prepare_cached("SELECT MIN(visible_at) FROM messages WHERE queue = ?1")
        .db()?
        .query_row([queue], |r| r.get(0))
        .db()
}

/// One attempt at receiving: delivers up to `max_messages`, moving over-received messages
/// to the dead-letter queue on the way.
fn receive_once(
    conn: &mut Connection,
    shared: &Shared,
    queue: &str,
    options: &ReceiveOptions,
) -> Result<Received, QueueError> {
    let tx = immediate(conn)?;
    // Read after the lock is held: waiting for another writer must not age `now`.
    let now = shared.clock.now();
    let settings = known(&tx, queue)?;
    // Redrive only into a declared queue; otherwise keep delivering rather than lose messages.
    let dead_letter = match settings.dead_letter {
        Some((dlq, max)) if settings_exist(&tx, &dlq)? => Some((dlq, max)),
        Some((dlq, _)) => {
            tracing::warn!(
                queue,
                dlq,
                "the dead-letter queue is not declared; not redriving"
            );
            None
        }
        None => None,
    };
    let visible_at = now
        .plus(options.visibility.unwrap_or(settings.visibility))
        .millis();
    let wanted = options.max_messages as usize;
    let mut delivered = Vec::new();
    let mut moved_to = None;
    // Walk the visible messages oldest first; `seq` only grows, so each is looked at once
    // even when a zero visibility timeout leaves it visible.
    let mut after_seq = 0i64;
    while delivered.len() < wanted {
        let batch: Vec<(i64, String, String, String, u32)> = tx
            .prepare_cached(
                "SELECT seq, id, body, attributes, receive_count FROM messages
                 WHERE queue = ?1 AND visible_at <= ?2 AND seq > ?3
                 ORDER BY seq LIMIT ?4",
            )
            .db()?
            .query_map(
                (
                    queue,
                    now.millis(),
                    after_seq,
                    (wanted - delivered.len()) as i64,
                ),
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .db()?
            .collect::<Result<_, _>>()
            .db()?;
        if batch.is_empty() {
            break;
        }
        for (seq, message_id, body, attributes, receive_count) in batch {
            after_seq = seq;
            match &dead_letter {
                // SQS delivers a message at most max_receives times, then redrives it.
                Some((dlq, max)) if receive_count >= *max => {
                    tx.prepare_cached(
                        "UPDATE messages SET queue = ?1, receive_count = 0, receipt = NULL, visible_at = ?2
                         WHERE seq = ?3",
                    )
                    .db()?
                    .execute((dlq, now.millis(), seq))
                    .db()?;
                    moved_to = Some(dlq.clone());
                }
                _ => {
                    let receipt = uuid::Uuid::new_v4().to_string();
                    tx.prepare_cached(
                        "UPDATE messages SET receive_count = receive_count + 1, receipt = ?1, visible_at = ?2,
                            owner = ?4
                         WHERE seq = ?3",
                    )
                    .db()?
                    .execute((&receipt, visible_at, seq, std::process::id()))
                    .db()?;
                    let attributes = serde_json::from_str(&attributes).map_err(|_| {
                        DbError::Corrupt("stored message attributes cannot be read")
                    })?;
                    delivered.push(ReceivedMessage {
                        message_id,
                        receipt_handle: receipt,
                        body,
                        attributes,
                        receive_count: receive_count.saturating_add(1),
                    });
                }
            }
        }
    }
    let next_visible = if delivered.len() < wanted {
        next_visible(&tx, queue)?
    } else {
        None
    };
    tx.commit().db()?;
    Ok(Received {
        messages: delivered,
        moved_to,
        next_visible,
    })
}

fn settings_exist(conn: &Connection, queue: &str) -> Result<bool, DbError> {
    Ok(settings(conn, queue)?.is_some())
}

/// Whether process `pid` is running (Linux: it has a /proc entry). Elsewhere every process
/// counts as running, so nothing is taken back early.
fn running(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

impl SqliteQueue {
    pub(crate) fn new(db: Database) -> Self {
        SqliteQueue { db }
    }

    /// Makes the messages that a process which is no longer running had received visible
    /// again at once, as if their visibility timeout had passed: a gateway killed in the middle
    /// of a burst hands its in-flight deliveries to the next one within a second, not after
    /// the queue's visibility timeout. Their receive counts stay, so a message
    /// that kills its workers still ends in its dead-letter queue. Returns how many.
    pub fn reclaim_orphans(&self) -> Result<usize, EmbeddedError> {
        let conn = self.db.lock();
        let now = self.db.shared().clock.now().millis();
        let owners: Vec<u32> = conn
            .prepare(
                "SELECT DISTINCT owner FROM messages
                 WHERE receipt IS NOT NULL AND visible_at > ?1 AND owner IS NOT NULL",
            )?
            .query_map([now], |r| r.get::<_, u32>(0))?
            .collect::<Result<_, _>>()?;
        let mut reclaimed = 0;
        for owner in owners {
            if owner == std::process::id() || running(owner) {
                continue;
            }
            reclaimed += conn.execute(
                "UPDATE messages SET visible_at = ?1, receipt = NULL, owner = NULL
                 WHERE owner = ?2 AND receipt IS NOT NULL AND visible_at > ?1",
                (now, owner),
            )?;
        }
        drop(conn);
        if reclaimed > 0 {
            self.db.shared().wakeups.everyone();
        }
        Ok(reclaimed)
    }

    /// Declares a queue, or updates its settings when it exists. `dead_letter` names the
    /// dead-letter queue and the receives after which a message moves there; that queue
    /// need not be declared first, but messages only move once it is.
    pub fn declare(
        &self,
        name: &str,
        visibility_timeout: Duration,
        dead_letter: Option<(&str, u32)>,
    ) -> Result<(), EmbeddedError> {
        if name.is_empty() || name.len() > 80 {
            return Err(EmbeddedError::Invalid(
                "a queue name holds 1 to 80 characters".into(),
            ));
        }
        if visibility_timeout > MAX_VISIBILITY {
            return Err(EmbeddedError::Invalid(
                "a visibility timeout is at most 12 hours".into(),
            ));
        }
        if let Some((dlq, max)) = dead_letter {
            if dlq == name || dlq.is_empty() {
                return Err(EmbeddedError::Invalid(format!(
                    "{name} cannot be its own dead-letter queue"
                )));
            }
            if !(1..=1000).contains(&max) {
                return Err(EmbeddedError::Invalid("max receives is 1 to 1000".into()));
            }
        }
        let mut conn = self.db.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO queues (name, visibility_ms, dead_letter_queue, max_receives) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET visibility_ms = excluded.visibility_ms,
                dead_letter_queue = excluded.dead_letter_queue, max_receives = excluded.max_receives",
            (
                name,
                millis(visibility_timeout),
                dead_letter.map(|(q, _)| q),
                dead_letter.map(|(_, m)| i64::from(m)),
            ),
        )?;
        tx.commit()?;
        Ok(())
    }
}

impl Queue for SqliteQueue {
    async fn send(&self, queue: &str, message: OutgoingMessage) -> Result<String, QueueError> {
        message.validate()?;
        let name = queue.to_owned();
        let id = self
            .db
            .write(Durability::Durable, move |conn, shared| {
                let tx = immediate(conn)?;
                known(&tx, &name)?;
                let id = insert_message(
                    &tx,
                    &name,
                    &message.body,
                    &message.attributes,
                    shared.clock.now(),
                    message.delay,
                )?;
                tx.commit().db()?;
                Ok::<_, QueueError>(id)
            })
            .await?;
        self.db.shared().wakeups.sent(queue);
        Ok(id)
    }

    async fn receive(
        &self,
        queue: &str,
        options: ReceiveOptions,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        options.validate()?;
        let deadline = tokio::time::Instant::now() + options.wait;
        let shared = self.db.shared();
        let signal = shared.wakeups.of(queue);
        // The first look, and any after a wake-up, receives (under the write lock); a look
        // after a quiet pause only reads whether anything is visible, so idle pollers never
        // queue for the writer.
        let mut receive = true;
        loop {
            // Registered before looking, so a send between the look and the wait still wakes us.
            let mut woken = pin!(signal.notified());
            woken.as_mut().enable();
            let next = if receive {
                let (queue_name, opts) = (queue.to_owned(), options.clone());
                let found = self
                    .db
                    .write(Durability::Lazy, move |conn, shared| {
                        receive_once(conn, shared, &queue_name, &opts)
                    })
                    .await?;
                if let Some(dlq) = &found.moved_to {
                    shared.wakeups.all_of(dlq);
                }
                if !found.messages.is_empty() {
                    return Ok(found.messages);
                }
                found.next_visible
            } else {
                let next = self
                    .db
                    .read_here(|conn, _| next_visible(conn, queue).map_err(QueueError::from))?;
                if next.is_some_and(|at| at <= shared.clock.now().millis()) {
                    receive = true;
                    continue;
                }
                next
            };
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(vec![]);
            }
            // Until the next message is due (at least a millisecond: no spinning), the next
            // look for other processes' sends, or the end of the wait.
            let due = next.map(|at| {
                let ms = at.saturating_sub(shared.clock.now().millis()).max(1);
                Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
            });
            let pause = POLL_INTERVAL
                .min(deadline - now)
                .min(due.unwrap_or(Duration::MAX));
            tokio::select! {
                _ = woken => receive = true,
                _ = tokio::time::sleep(pause) => receive = false,
            }
        }
    }

    async fn delete(&self, queue: &str, receipt_handle: &str) -> Result<(), QueueError> {
        let (queue, receipt) = (queue.to_owned(), receipt_handle.to_owned());
        self.db
            .write(Durability::Lazy, move |conn, _| {
                let tx = immediate(conn)?;
                known(&tx, &queue)?;
                // Nothing matched: already deleted (or received again); SQS reports success.
                tx.prepare_cached("DELETE FROM messages WHERE queue = ?1 AND receipt = ?2")
                    .db()?
                    .execute((&queue, &receipt))
                    .db()?;
                tx.commit().db()?;
                Ok(())
            })
            .await
    }

    async fn change_visibility(
        &self,
        queue: &str,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        if timeout > MAX_VISIBILITY {
            return Err(QueueError::Invalid("visibility is at most 12 hours".into()));
        }
        let (name, receipt) = (queue.to_owned(), receipt_handle.to_owned());
        self.db
            .write(Durability::Lazy, move |conn, shared| {
                let tx = immediate(conn)?;
                known(&tx, &name)?;
                let now = shared.clock.now();
                let changed = tx
                    .prepare_cached(
                        "UPDATE messages SET visible_at = ?1
                         WHERE queue = ?2 AND receipt = ?3 AND visible_at > ?4",
                    )
                    .db()?
                    .execute((now.plus(timeout).millis(), &name, &receipt, now.millis()))
                    .db()?;
                if changed == 0 {
                    return Err(QueueError::InvalidReceipt);
                }
                tx.commit().db()?;
                Ok(())
            })
            .await?;
        self.db.shared().wakeups.sent(queue);
        Ok(())
    }

    async fn depth(&self, queue: &str) -> Result<QueueDepth, QueueError> {
        let queue = queue.to_owned();
        self.db
            .read(move |conn, shared| {
                known(conn, &queue)?;
                let now = shared.clock.now().millis();
                let (visible, in_flight, delayed): (i64, i64, i64) = conn
                    .prepare_cached(
                        "SELECT
                            COALESCE(SUM(visible_at <= ?2), 0),
                            COALESCE(SUM(visible_at > ?2 AND receipt IS NOT NULL), 0),
                            COALESCE(SUM(visible_at > ?2 AND receipt IS NULL), 0)
                         FROM messages WHERE queue = ?1",
                    )
                    .db()?
                    .query_row((&queue, now), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .db()?;
                let count = |n: i64| u64::try_from(n).unwrap_or(0);
                Ok(QueueDepth {
                    visible: count(visible),
                    in_flight: count(in_flight),
                    delayed: count(delayed),
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use haven_kernel::ports::{OutgoingMessage, Queue, QueueDepth, QueueError, ReceiveOptions};

    use crate::testing::backend;

    fn one() -> ReceiveOptions {
        ReceiveOptions {
            max_messages: 1,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn visibility_receipts_and_depth() {
        let (_dir, b, clock) = backend();
        let q = &b.queue;
        q.declare("work", Duration::from_secs(30), None)
            .expect("declare");
        let id = q
            .send("work", OutgoingMessage::new("a").attribute("kind", "test"))
            .await
            .expect("send");
        q.send(
            "work",
            OutgoingMessage::new("b").delayed(Duration::from_secs(60)),
        )
        .await
        .expect("send delayed");
        assert_eq!(
            q.depth("work").await.expect("depth"),
            QueueDepth {
                visible: 1,
                in_flight: 0,
                delayed: 1
            }
        );

        let got = q
            .receive("work", ReceiveOptions::default())
            .await
            .expect("receive");
        assert_eq!(got.len(), 1, "the delayed message is not visible yet");
        assert_eq!(
            (got[0].message_id.as_str(), got[0].body.as_str()),
            (id.as_str(), "a")
        );
        assert_eq!(
            got[0].attributes.get("kind").map(String::as_str),
            Some("test")
        );
        assert_eq!(got[0].receive_count, 1);
        assert_eq!(
            q.depth("work").await.expect("depth"),
            QueueDepth {
                visible: 0,
                in_flight: 1,
                delayed: 1
            }
        );
        assert!(
            q.receive("work", ReceiveOptions::default())
                .await
                .expect("receive")
                .is_empty()
        );

        // The visibility timeout passes: delivered again, under a new receipt.
        clock.advance(Duration::from_secs(30));
        let again = q.receive("work", one()).await.expect("receive");
        assert_eq!(again[0].receive_count, 2);
        assert_ne!(again[0].receipt_handle, got[0].receipt_handle);
        // The old receipt no longer names an in-flight delivery.
        assert_eq!(
            q.change_visibility("work", &got[0].receipt_handle, Duration::ZERO)
                .await,
            Err(QueueError::InvalidReceipt)
        );
        q.delete("work", &got[0].receipt_handle)
            .await
            .expect("stale delete is a no-op");
        assert_eq!(q.depth("work").await.expect("depth").in_flight, 1);

        // Visible again at once; then deleted for good.
        q.change_visibility("work", &again[0].receipt_handle, Duration::ZERO)
            .await
            .expect("change visibility");
        let third = q.receive("work", one()).await.expect("receive");
        assert_eq!(third[0].body, "a");
        q.delete("work", &third[0].receipt_handle)
            .await
            .expect("delete");
        q.delete("work", &third[0].receipt_handle)
            .await
            .expect("delete is idempotent");

        clock.advance(Duration::from_secs(60));
        let delayed = q
            .receive("work", ReceiveOptions::default())
            .await
            .expect("receive");
        assert_eq!(delayed.len(), 1);
        assert_eq!(delayed[0].body, "b");
    }

    #[tokio::test]
    async fn unknown_queues_and_invalid_requests() {
        let (_dir, b, _) = backend();
        let q = &b.queue;
        let unknown = |r: Result<_, QueueError>| matches!(r, Err(QueueError::UnknownQueue(_)));
        assert!(unknown(
            q.send("nope", OutgoingMessage::new("x")).await.map(|_| ())
        ));
        assert!(unknown(
            q.receive("nope", ReceiveOptions::default())
                .await
                .map(|_| ())
        ));
        assert!(unknown(q.delete("nope", "r").await));
        assert!(unknown(
            q.change_visibility("nope", "r", Duration::ZERO).await
        ));
        assert!(unknown(q.depth("nope").await.map(|_| ())));
        assert!(matches!(
            q.send("sms", OutgoingMessage::new("")).await,
            Err(QueueError::Invalid(_))
        ));
        let too_late = OutgoingMessage::new("x").delayed(Duration::from_secs(16 * 60));
        assert!(matches!(
            q.send("sms", too_late).await,
            Err(QueueError::Invalid(_))
        ));
        let too_many = ReceiveOptions {
            max_messages: 11,
            ..Default::default()
        };
        assert!(matches!(
            q.receive("sms", too_many).await,
            Err(QueueError::Invalid(_))
        ));
        assert_eq!(
            q.change_visibility("sms", "no-such-receipt", Duration::ZERO)
                .await,
            Err(QueueError::InvalidReceipt)
        );
        assert!(
            q.declare("loop", Duration::from_secs(1), Some(("loop", 3)))
                .is_err()
        );
        assert!(
            q.declare("x", Duration::from_secs(1), Some(("dlq", 0)))
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_message_moves_to_the_dead_letter_queue_after_max_receives() {
        let (_dir, b, _) = backend();
        let q = &b.queue;
        q.declare("jobs", Duration::from_secs(30), Some(("jobs-dlq", 3)))
            .expect("declare");
        q.declare("jobs-dlq", Duration::from_secs(30), None)
            .expect("declare dlq");
        let id = q
            .send("jobs", OutgoingMessage::new("poison"))
            .await
            .expect("send");
        // Zero visibility: every receive delivers it again at once.
        let retry = ReceiveOptions {
            visibility: Some(Duration::ZERO),
            ..Default::default()
        };
        for n in 1..=3 {
            let got = q.receive("jobs", retry.clone()).await.expect("receive");
            assert_eq!(got.len(), 1, "delivery {n}");
            assert_eq!(got[0].receive_count, n);
        }
        assert!(
            q.receive("jobs", retry.clone())
                .await
                .expect("receive")
                .is_empty(),
            "redriven"
        );
        assert_eq!(q.depth("jobs").await.expect("depth"), QueueDepth::default());
        let dead = q
            .receive("jobs-dlq", ReceiveOptions::default())
            .await
            .expect("receive dlq");
        assert_eq!(dead.len(), 1);
        assert_eq!(
            (dead[0].message_id.as_str(), dead[0].body.as_str()),
            (id.as_str(), "poison")
        );
        assert_eq!(
            dead[0].receive_count, 1,
            "a fresh count in the dead-letter queue"
        );
    }

    #[tokio::test]
    async fn a_batch_fills_past_redriven_messages_and_zero_visibility_does_not_loop() {
        let (_dir, b, _) = backend();
        let q = &b.queue;
        q.declare("jobs", Duration::from_secs(30), Some(("jobs-dlq", 1)))
            .expect("declare");
        q.declare("jobs-dlq", Duration::from_secs(30), None)
            .expect("declare dlq");
        q.send("jobs", OutgoingMessage::new("old"))
            .await
            .expect("send");
        let zero = ReceiveOptions {
            visibility: Some(Duration::ZERO),
            ..Default::default()
        };
        assert_eq!(
            q.receive("jobs", zero.clone())
                .await
                .expect("receive")
                .len(),
            1
        );
        for body in ["n1", "n2"] {
            q.send("jobs", OutgoingMessage::new(body))
                .await
                .expect("send");
        }
        let got = q.receive("jobs", zero).await.expect("receive");
        let bodies: Vec<_> = got.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(
            bodies,
            ["n1", "n2"],
            "the over-received message moved, the others delivered once each"
        );
        assert_eq!(q.depth("jobs-dlq").await.expect("depth").visible, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn long_poll_wakes_on_send() {
        let (_dir, b, _) = backend();
        let q = b.queue.clone();
        let poller = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let options = ReceiveOptions {
                wait: Duration::from_secs(10),
                ..Default::default()
            };
            let got = q.receive("webhook", options).await.expect("receive");
            (got, started.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        b.queue
            .send("webhook", OutgoingMessage::new("ping"))
            .await
            .expect("send");
        let (got, waited) = poller.await.expect("poller");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, "ping");
        assert!(
            waited < Duration::from_secs(5),
            "woke on send, after {waited:?}"
        );

        // Nothing arrives: an empty batch once the wait is over.
        let started = std::time::Instant::now();
        let options = ReceiveOptions {
            wait: Duration::from_millis(300),
            ..Default::default()
        };
        assert!(
            b.queue
                .receive("webhook", options)
                .await
                .expect("receive")
                .is_empty()
        );
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn long_poll_sees_sends_from_another_connection() {
        let (dir, b, clock) = backend();
        let other = crate::EmbeddedBackend::open(dir.path(), std::sync::Arc::new(clock))
            .expect("second open");
        let q = b.queue.clone();
        let poller = tokio::spawn(async move {
            let options = ReceiveOptions {
                wait: Duration::from_secs(10),
                ..Default::default()
            };
            q.receive("sms", options).await.expect("receive")
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        other
            .queue
            .send("sms", OutgoingMessage::new("x"))
            .await
            .expect("send");
        let got = tokio::time::timeout(Duration::from_secs(5), poller)
            .await
            .expect("the poll notices within its interval")
            .expect("poller");
        assert_eq!(got.len(), 1);
    }
}
