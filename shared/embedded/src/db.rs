//! The one SQLite database every port of the embedded backend shares.
//!
//! One connection per `EmbeddedBackend::open`, behind a mutex, used only on tokio's blocking
//! pool so no async task ever holds it across an await. Other processes (`cargo lambda watch`
//! runs each function as its own process) open the same file: WAL lets readers and the one
//! writer proceed together, writes take the lock up front (`BEGIN IMMEDIATE`) so they wait in
//! the busy handler instead of failing on a lock upgrade, and `busy_timeout` bounds the wait.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use haven_domain::{Clock, Timestamp};
use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};
use tokio::sync::Notify;

use crate::EmbeddedError;

/// How long a statement waits for another connection's write lock before giving up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Bumped when the schema changes incompatibly.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    gsi1pk TEXT,
    gsi1sk TEXT,
    gsi2pk TEXT,
    gsi2sk TEXT,
    gsi3pk TEXT,
    gsi3sk TEXT,
    expires_at INTEGER,
    body TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
);
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk)
    WHERE gsi1pk IS NOT NULL AND gsi1sk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk)
    WHERE gsi2pk IS NOT NULL AND gsi2sk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi3 ON items (gsi3pk, gsi3sk, pk, sk)
    WHERE gsi3pk IS NOT NULL AND gsi3sk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY,
    visibility_ms INTEGER NOT NULL,
    dead_letter_queue TEXT,
    max_receives INTEGER
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT UNIQUE,
    sent_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (queue, visible_at);

CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS subscriptions (
    topic TEXT NOT NULL,
    queue TEXT NOT NULL,
    filter_policy TEXT NOT NULL,
    PRIMARY KEY (topic, queue)
);
CREATE TABLE IF NOT EXISTS sms_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    phone_number TEXT NOT NULL,
    text TEXT NOT NULL,
    sent_at INTEGER NOT NULL
);
";

/// What went wrong below a port, before it becomes that port's error. The text never holds
/// stored data: SQLite's own messages name tables and columns, not values, and decoding
/// errors are replaced by a fixed description.
#[derive(Debug)]
pub(crate) enum DbError {
    /// Another connection held the lock past the busy timeout.
    Busy,
    Sqlite(String),
    Corrupt(&'static str),
    /// The blocking task panicked or was cancelled.
    Task,
}

impl DbError {
    pub(crate) fn describe(&self) -> String {
        match self {
            DbError::Busy => "the database is busy".to_owned(),
            DbError::Sqlite(what) => format!("SQLite failed: {what}"),
            DbError::Corrupt(what) => (*what).to_owned(),
            DbError::Task => "the database task failed".to_owned(),
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => DbError::Busy,
            Some(code) => DbError::Sqlite(format!("{code:?}")),
            // Conversion errors may quote the value they failed on; keep only the kind.
            None => match e {
                rusqlite::Error::InvalidColumnType(_, name, ty) => {
                    DbError::Sqlite(format!("column {name} holds {ty}"))
                }
                _ => DbError::Sqlite("unexpected result".to_owned()),
            },
        }
    }
}

/// `.db()?` turns a rusqlite result into one whose error converts into any port's error.
pub(crate) trait Db<T> {
    fn db(self) -> Result<T, DbError>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T, DbError> {
        self.map_err(DbError::from)
    }
}

/// State shared by every handle of one open backend.
pub(crate) struct Shared {
    pub clock: Arc<dyn Clock>,
    /// Wakes in-process long polls when a message may have become visible; other processes
    /// are noticed by polling.
    pub poke: Notify,
    last_sweep_ms: AtomicI64,
}

impl Shared {
    /// True at most once per `interval` of clock time (and on the first call), so
    /// opportunistic housekeeping stays cheap.
    pub fn sweep_due(&self, now: Timestamp, interval: Duration) -> bool {
        let now = now.millis();
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        // abs_diff: a clock set backwards must not stop sweeping for good.
        now.abs_diff(last) >= interval.as_millis() as u64
            && self
                .last_sweep_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

struct Inner {
    conn: Mutex<Connection>,
    shared: Shared,
}

#[derive(Clone)]
pub(crate) struct Database(Arc<Inner>);

impl Database {
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, EmbeddedError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                mode,
                "SQLite did not switch to WAL; concurrent processes will block each other"
            );
        }
        // FULL: a committed emergency record survives a power cut, at a small cost per commit.
        conn.pragma_update(None, "synchronous", "FULL")?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(EmbeddedError::SchemaTooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(Database(Arc::new(Inner {
            conn: Mutex::new(conn),
            shared: Shared {
                clock,
                poke: Notify::new(),
                last_sweep_ms: AtomicI64::new(i64::MIN),
            },
        })))
    }

    pub fn shared(&self) -> &Shared {
        &self.0.shared
    }

    /// The connection, for the synchronous setup API. A panic while it was held left no open
    /// transaction behind (rusqlite rolls back on drop), so a poisoned lock is still usable.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        self.0
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the connection on the blocking pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Connection, &Shared) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let db = self.clone();
        match tokio::task::spawn_blocking(move || {
            let mut conn = db.lock();
            f(&mut conn, &db.0.shared)
        })
        .await
        {
            Ok(result) => result,
            Err(_) => Err(DbError::Task.into()),
        }
    }
}

/// A write transaction that holds the write lock from its first statement.
pub(crate) fn immediate(conn: &mut Connection) -> Result<Transaction<'_>, DbError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .db()
}
