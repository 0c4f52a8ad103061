//! The embedded backend: every port on one machine. Table, queues and topics live in one
//! SQLite file (WAL, shared safely by several processes); keys are wrapped under a local
//! master key file; WebSocket pushes go to sockets the local gateway holds in-process.

mod blobs;
mod db;
pub mod filter;
mod keyring;
mod publisher;
mod queue;
mod sockets;
mod table;

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use haven_kernel::Clock;
use haven_kernel::catalogue::{QUEUES, TOPICS};

pub use blobs::{FileBlobs, LocalGrant, LocalUrlError, ROUTE_PREFIX as BLOB_ROUTE_PREFIX};
pub use keyring::FileKeyRing;
pub use publisher::{SmsRecord, SqlitePublisher};
pub use queue::SqliteQueue;
pub use sockets::LocalSockets;
pub use table::SqliteTable;

use db::Database;

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "haven.sqlite3";
/// The master key file inside the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";
/// The directory of sealed blobs inside the data directory.
pub const BLOBS_DIR: &str = "blobs";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("cannot use {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the database failed: {0}")]
    Database(#[from] rusqlite::Error),
    #[error(
        "the database has schema version {found}, newer than this build supports ({supported})"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    #[error(
        "the key file {path} may be read by group or others (mode {mode:o}); make it owner-only (chmod 600)"
    )]
    KeyFilePermissions { path: PathBuf, mode: u32 },
    #[error("the key file {path} holds {len} bytes, not 32")]
    KeyFileSize { path: PathBuf, len: u64 },
    #[error("no queue named {0}")]
    UnknownQueue(String),
    #[error("no topic named {0}")]
    UnknownTopic(String),
    #[error("invalid declaration: {0}")]
    Invalid(String),
}

/// Every port of the embedded backend. The handles are cheap clones sharing one connection.
#[derive(Clone)]
pub struct EmbeddedBackend {
    pub table: SqliteTable,
    pub queue: SqliteQueue,
    pub publisher: SqlitePublisher,
    pub key_ring: FileKeyRing,
    pub connections: LocalSockets,
    /// Documents and other files, sealed in `data_dir/blobs`.
    pub blobs: FileBlobs,
}

impl EmbeddedBackend {
    /// Creates `data_dir` if needed, opens/creates `data_dir/haven.sqlite3` (WAL) and
    /// `data_dir/master.key`, declares every queue of `catalogue::QUEUES` and every topic and
    /// subscription of `catalogue::TOPICS`.
    pub fn open(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<Self, EmbeddedError> {
        // Owner-only, as the directory holds the master key (existing directories are left
        // as they are).
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(|source| EmbeddedError::Io {
                path: data_dir.to_owned(),
                source,
            })?;
        let key_ring = FileKeyRing::open(&data_dir.join(MASTER_KEY_FILE))?;
        let db = Database::open(&data_dir.join(DATABASE_FILE), clock)?;
        let blobs = FileBlobs::open(data_dir.join(BLOBS_DIR), key_ring.clone())?;
        let backend = EmbeddedBackend {
            table: SqliteTable::new(db.clone()),
            queue: SqliteQueue::new(db.clone()),
            publisher: SqlitePublisher::new(db.clone()),
            key_ring,
            connections: LocalSockets::default(),
            blobs,
        };
        for q in QUEUES {
            let dead_letter = q.dead_letter.map(|d| (d.queue, d.max_receives));
            backend
                .queue
                .declare(q.name, q.visibility_timeout, dead_letter)?;
        }
        for topic in TOPICS {
            backend.publisher.declare_topic(topic.name)?;
            for s in topic.subscriptions {
                backend
                    .publisher
                    .subscribe(topic.name, s.queue, s.filter_policy)?;
            }
        }
        // A process that died holding messages (a killed gateway) gives them back now.
        let reclaimed = backend.queue.reclaim_orphans()?;
        if reclaimed > 0 {
            tracing::info!(
                messages = reclaimed,
                "took back messages a stopped process had in flight"
            );
        }
        Ok(backend)
    }

    /// Cheap readiness probe of the database (a trivial query).
    pub fn ping(&self) -> Result<(), EmbeddedError> {
        self.table
            .database()
            .lock()
            .query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// How many times the write-ahead log was synced to disk since the backend opened: one
    /// per group of durable writes (benchmarks and tests read it).
    pub fn wal_syncs(&self) -> u64 {
        self.table.database().syncs()
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;

    use haven_kernel::{ManualClock, Timestamp};

    use crate::EmbeddedBackend;

    /// Where test clocks start (not `const`: `Timestamp::from_millis` is not).
    pub(crate) fn start() -> Timestamp {
        Timestamp::from_millis(1_700_000_000_000)
    }

    /// A backend in a fresh directory on a clock that moves only when told to.
    pub(crate) fn backend() -> (tempfile::TempDir, EmbeddedBackend, ManualClock) {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = ManualClock::at(start());
        let backend =
            EmbeddedBackend::open(dir.path(), Arc::new(clock.clone())).expect("open backend");
        (dir, backend, clock)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use haven_kernel::ports::{Condition, OutgoingMessage, Queue, ReceiveOptions, Table};
    use haven_kernel::{Item, Key, ManualClock, Value};

    use super::*;
    use crate::testing::{backend, start};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn durable_writes_share_syncs_and_bookkeeping_takes_none() {
        let (_dir, b, _) = backend();
        let before = b.wal_syncs();
        let writes: Vec<_> = (0..64)
            .map(|i| {
                let t = b.table.clone();
                tokio::spawn(async move {
                    t.put(Item::new(&Key::new(format!("G#{i}"), "X")), None)
                        .await
                })
            })
            .collect();
        for w in writes {
            w.await.expect("task").expect("put");
        }
        let synced = b.wal_syncs() - before;
        assert!(
            (1..=64).contains(&synced),
            "every durable write is synced, at most once each: {synced}"
        );
        // Each durable write waited for its sync: all 64 are readable, from the readers.
        for i in 0..64 {
            assert!(
                b.table
                    .get(&Key::new(format!("G#{i}"), "X"))
                    .await
                    .expect("get")
                    .is_some()
            );
        }
        // Receiving and deleting are bookkeeping: no sync of their own.
        b.queue
            .send("webhook", OutgoingMessage::new("m"))
            .await
            .expect("send");
        let before = b.wal_syncs();
        let got = b
            .queue
            .receive("webhook", ReceiveOptions::default())
            .await
            .expect("receive");
        b.queue
            .delete("webhook", &got[0].receipt_handle)
            .await
            .expect("delete");
        assert_eq!(b.wal_syncs(), before);
    }

    /// Writes queued together share one transaction on the writer thread, each in its own
    /// savepoint: half of these 40 transactions fail their condition after writing their
    /// first item; those leave nothing behind, and every other one is whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_write_that_fails_inside_a_batch_leaves_nothing_and_spoils_no_other() {
        use haven_kernel::ports::TransactOp;
        let (_dir, b, _) = backend();
        let taken = Key::new("TAKEN", "X");
        b.table.put(Item::new(&taken), None).await.expect("put");
        let writes: Vec<_> = (0..40)
            .map(|i| {
                let t = b.table.clone();
                let taken = taken.clone();
                tokio::spawn(async move {
                    let mut ops = vec![TransactOp::Put {
                        item: Item::new(&Key::new(format!("B#{i}"), "ONE")),
                        condition: None,
                    }];
                    // The odd ones also claim an item that exists: their whole write fails.
                    let claim = if i % 2 == 1 {
                        taken
                    } else {
                        Key::new(format!("B#{i}"), "TWO")
                    };
                    ops.push(TransactOp::Put {
                        item: Item::new(&claim).with("by", Value::n(i)),
                        condition: Some(Condition::item_absent()),
                    });
                    t.transact_write(ops).await.is_ok()
                })
            })
            .collect();
        for (i, w) in writes.into_iter().enumerate() {
            let ok = w.await.expect("task");
            assert_eq!(ok, i % 2 == 0, "write {i}");
            let one = b
                .table
                .get(&Key::new(format!("B#{i}"), "ONE"))
                .await
                .expect("get");
            assert_eq!(one.is_some(), ok, "write {i} is whole or absent");
        }
        let held = b.table.get(&taken).await.expect("get").expect("taken");
        assert!(
            held.get("by").is_none(),
            "no failed write changed the taken item"
        );
    }

    #[tokio::test]
    async fn messages_a_dead_process_held_come_back_at_once() {
        let (_dir, b, _) = backend();
        for body in ["mine", "theirs"] {
            b.queue
                .send("webhook", OutgoingMessage::new(body))
                .await
                .expect("send");
        }
        let got = b
            .queue
            .receive("webhook", ReceiveOptions::default())
            .await
            .expect("receive");
        assert_eq!(got.len(), 2);
        // "theirs" was received by a process that has since died.
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let dead = child.id();
        child.wait().expect("reaped");
        b.table
            .database()
            .lock()
            .execute(
                "UPDATE messages SET owner = ?1 WHERE body = 'theirs'",
                [dead],
            )
            .expect("owner");
        assert_eq!(b.queue.reclaim_orphans().expect("reclaim"), 1);
        let again = b
            .queue
            .receive("webhook", ReceiveOptions::default())
            .await
            .expect("receive");
        assert_eq!(again.len(), 1, "only the dead process's message");
        assert_eq!(again[0].body, "theirs");
        assert_eq!(again[0].receive_count, 2, "its receives still count");
        assert_eq!(b.queue.reclaim_orphans().expect("reclaim"), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_do_not_wait_for_the_writer() {
        let (_dir, b, _) = backend();
        let key = Key::new("R#1", "X");
        b.table
            .put(Item::new(&key).with("n", Value::n(1)), None)
            .await
            .expect("put");
        // Hold the writer as a long write would; a read still answers at once.
        let db = b.table.database().clone();
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _writer = db.lock();
            held_tx.send(()).expect("held");
            release_rx.recv().ok();
        });
        held_rx.recv().expect("the writer is held");
        let read = tokio::time::timeout(std::time::Duration::from_secs(2), b.table.get(&key)).await;
        release_tx.send(()).expect("release");
        holder.join().expect("holder");
        assert!(
            read.expect("a read while the writer is held")
                .expect("get")
                .is_some()
        );
    }

    #[tokio::test]
    async fn two_opens_of_one_directory_see_each_others_writes() {
        let (dir, first, _) = backend();
        let second = EmbeddedBackend::open(dir.path(), Arc::new(ManualClock::at(start())))
            .expect("second open");
        first.ping().expect("ping");
        second.ping().expect("ping");

        let key = Key::new("USER#1", "PROFILE");
        first
            .table
            .put(Item::new(&key).with("name", Value::s("Wanjiru")), None)
            .await
            .expect("put");
        let seen = second.table.get(&key).await.expect("get").expect("item");
        assert_eq!(seen.s("name"), Some("Wanjiru"));
        // The second sees the first's item for conditions too.
        let again = second
            .table
            .put(Item::new(&key), Some(Condition::item_absent()))
            .await;
        assert_eq!(again, Err(haven_kernel::ports::TableError::ConditionFailed));

        second
            .queue
            .send("sms", OutgoingMessage::new("hello"))
            .await
            .expect("send");
        let got = first
            .queue
            .receive("sms", ReceiveOptions::default())
            .await
            .expect("receive");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, "hello");

        // Both opened the same key file, so keys wrapped by one unwrap in the other.
        let context = haven_kernel::ports::EncryptionContext::new().with("record", "1");
        use haven_kernel::ports::KeyRing;
        let data_key = first
            .key_ring
            .generate_data_key(&context)
            .await
            .expect("generate");
        let plain = second
            .key_ring
            .decrypt_data_key(&data_key.wrapped, &context)
            .await
            .expect("decrypt");
        assert_eq!(*plain, *data_key.plaintext);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_on_two_connections_all_succeed() {
        let (dir, first, _) = backend();
        let second = EmbeddedBackend::open(dir.path(), Arc::new(ManualClock::at(start())))
            .expect("second open");
        let mut tasks = Vec::new();
        for (n, backend) in [first.clone(), second.clone()].into_iter().enumerate() {
            tasks.push(tokio::spawn(async move {
                for i in 0..50 {
                    backend
                        .table
                        .update(
                            &Key::new("COUNTER", "X"),
                            haven_kernel::ports::Update::new().add("n", 1),
                            None,
                        )
                        .await
                        .expect("update");
                    backend
                        .table
                        .put(Item::new(&Key::new("P", format!("{n}-{i}"))), None)
                        .await
                        .expect("put");
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        let counter = first
            .table
            .get(&Key::new("COUNTER", "X"))
            .await
            .expect("get")
            .expect("item");
        assert_eq!(counter.i64("n"), Some(100));
    }

    #[test]
    fn open_declares_the_catalogue_and_is_idempotent() {
        let (dir, backend, clock) = backend();
        drop(backend);
        let again = EmbeddedBackend::open(dir.path(), Arc::new(clock)).expect("reopen");
        assert!(matches!(
            again.publisher.subscribe("alerts", "no-such-queue", ""),
            Err(EmbeddedError::UnknownQueue(_))
        ));
        assert!(matches!(
            again.publisher.subscribe("no-such-topic", "sms", ""),
            Err(EmbeddedError::UnknownTopic(_))
        ));
        assert!(matches!(
            again
                .publisher
                .subscribe("alerts", "sms", r#"{"a":"not-an-array"}"#),
            Err(EmbeddedError::Invalid(_))
        ));
    }
}
