//! The one SQLite database every port of the embedded backend shares.
//!
//! One writer connection and a few reader connections per `EmbeddedBackend::open`, each
//! behind its own mutex and used only on tokio's blocking pool, so no async task ever holds
//! one across an await. WAL mode lets the readers run beside the writer, in this process and
//! in others (`cargo lambda watch` runs each function as its own process). Writes take the
//! lock up front (`BEGIN IMMEDIATE`) so they wait in the busy handler instead of failing on a
//! lock upgrade, and `busy_timeout` bounds the wait.
//!
//! Durability: the writer commits with `synchronous = NORMAL` (no fsync per commit), and a
//! write that must survive a power cut (every table write, every message or event sent) is
//! made durable after its commit by one `fdatasync` of the WAL file, shared by every commit
//! that came before it (group commit). Bookkeeping of work in progress (receiving, deleting,
//! delaying a message) is not synced on its own: the WAL is a log, so a power cut can lose
//! only its tail, never reorder it, and what it loses is work that is then done again
//! (a message delivered again carries its old `webhook-id`), never work that was accepted.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use haven_kernel::{Clock, Timestamp};
use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};
use tokio::sync::Notify;

use crate::EmbeddedError;

/// How long a statement waits for another connection's write lock before giving up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Bumped when the schema changes incompatibly.
const SCHEMA_VERSION: i64 = 2;

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
    sent_at INTEGER NOT NULL,
    owner INTEGER
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

/// Reader connections per open backend: enough for the gateway's concurrent requests on a
/// small machine; each read holds one only for the statement.
const READERS: usize = 4;

/// Whether a write must be on disk before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Accepted work (an alert, a message sent): synced before the call returns.
    Durable,
    /// Bookkeeping that a crash may only replay.
    Lazy,
}

/// Group commit of the WAL: commits are numbered as they happen (under the writer lock), and
/// one `fdatasync` makes every commit numbered before it durable.
struct Syncs {
    committed: AtomicU64,
    synced: Mutex<u64>,
    /// How many times the WAL was synced, for tests and benchmarks.
    count: AtomicU64,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    wal: PathBuf,
    syncs: Syncs,
    shared: Shared,
}

#[derive(Clone)]
pub(crate) struct Database(Arc<Inner>);

fn connect(path: &Path) -> Result<Connection, EmbeddedError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

impl Database {
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, EmbeddedError> {
        let mut conn = connect(path)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                mode,
                "SQLite did not switch to WAL; concurrent processes will block each other"
            );
        }
        // NORMAL: commits are not synced one by one; `Durability::Durable` writes sync the WAL
        // after committing (see the module's notes), so an accepted alert survives a power cut.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(EmbeddedError::SchemaTooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        tx.execute_batch(SCHEMA)?;
        if version < 2 {
            // v2: who holds a message in flight, so a restart can take back a dead process's.
            let has_owner: bool = tx
                .prepare("SELECT 1 FROM pragma_table_info('messages') WHERE name = 'owner'")?
                .exists([])?;
            if !has_owner {
                tx.execute_batch("ALTER TABLE messages ADD COLUMN owner INTEGER")?;
            }
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        let readers = (0..READERS)
            .map(|_| {
                let reader = connect(path)?;
                reader.pragma_update(None, "query_only", true)?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<Vec<_>, EmbeddedError>>()?;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Ok(Database(Arc::new(Inner {
            writer: Mutex::new(conn),
            readers,
            next_reader: AtomicUsize::new(0),
            wal: PathBuf::from(wal),
            syncs: Syncs {
                committed: AtomicU64::new(0),
                synced: Mutex::new(0),
                count: AtomicU64::new(0),
            },
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

    /// The writer connection, for the synchronous setup API. A panic while it was held left
    /// no open transaction behind (rusqlite rolls back on drop), so a poisoned lock is still
    /// usable.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        relock(&self.0.writer)
    }

    /// A reader connection: a free one if there is, else the next in turn.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        let readers = &self.0.readers;
        for r in readers {
            if let Ok(guard) = r.try_lock() {
                return guard;
            }
        }
        let i = self.0.next_reader.fetch_add(1, Ordering::Relaxed) % readers.len();
        relock(&readers[i])
    }

    /// Times the WAL was synced since the backend opened.
    pub fn syncs(&self) -> u64 {
        self.0.syncs.count.load(Ordering::Relaxed)
    }

    /// Makes every commit up to `ticket` durable: one `fdatasync` of the WAL covers all the
    /// commits before it, so concurrent writers mostly find theirs already done.
    fn make_durable(&self, ticket: u64) -> Result<(), DbError> {
        let syncs = &self.0.syncs;
        let mut synced = relock(&syncs.synced);
        if *synced >= ticket {
            return Ok(());
        }
        let target = syncs.committed.load(Ordering::Acquire);
        match std::fs::File::open(&self.0.wal) {
            Ok(f) => f
                .sync_data()
                .map_err(|_| DbError::Corrupt("the WAL could not be synced"))?,
            // A checkpoint that reset the WAL has already synced the database file.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => return Err(DbError::Corrupt("the WAL could not be opened to sync")),
        }
        syncs.count.fetch_add(1, Ordering::Relaxed);
        *synced = target;
        Ok(())
    }

    /// Runs a read on a reader connection on the blocking pool.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection, &Shared) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let db = self.clone();
        match tokio::task::spawn_blocking(move || {
            let conn = db.reader();
            f(&conn, &db.0.shared)
        })
        .await
        {
            Ok(result) => result,
            Err(_) => Err(DbError::Task.into()),
        }
    }

    /// Runs `f` (which commits its own transaction) on the writer connection on the blocking
    /// pool; a `Durable` write returns once it is on disk.
    pub async fn write<T, E, F>(&self, durability: Durability, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Connection, &Shared) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let db = self.clone();
        match tokio::task::spawn_blocking(move || {
            let (result, ticket) = {
                let mut conn = db.lock();
                let result = f(&mut conn, &db.0.shared);
                // Numbered while the writer is held, so tickets follow commit order.
                let ticket = db.0.syncs.committed.fetch_add(1, Ordering::AcqRel) + 1;
                (result, ticket)
            };
            match result {
                Ok(value) if durability == Durability::Durable => {
                    db.make_durable(ticket).map_err(E::from)?;
                    Ok(value)
                }
                other => other,
            }
        })
        .await
        {
            Ok(result) => result,
            Err(_) => Err(DbError::Task.into()),
        }
    }
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A write transaction that holds the write lock from its first statement.
pub(crate) fn immediate(conn: &mut Connection) -> Result<Transaction<'_>, DbError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .db()
}
