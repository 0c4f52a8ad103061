//! The one SQLite database every port of the embedded backend shares.
//!
//! One writer connection and a few reader connections per `EmbeddedBackend::open`, each
//! behind its own mutex, never held across an await. A lookup by key runs on the calling
//! thread; a query that may read many rows runs on tokio's blocking pool. WAL mode lets the
//! readers run beside the writer, in this process and in others (`cargo lambda watch` runs
//! each function as its own process). A batch takes the write lock up front
//! (`BEGIN IMMEDIATE`) so it waits in the busy handler instead of failing on a lock upgrade,
//! and `busy_timeout` bounds the wait.
//!
//! Writes go to one writer thread, which runs every write waiting in one transaction (each
//! write in its own savepoint) and commits once: under a burst, a commit per batch instead of
//! per write, and no thread blocked on a lock for the writer.
//!
//! Durability: the writer commits with `synchronous = NORMAL` (no fsync per commit), and a
//! batch holding a write that must survive a power cut (every table write, every message or
//! event sent) is made durable by one `fdatasync` of the WAL before any of its writes is
//! answered (group commit). Bookkeeping of work in progress (receiving, deleting,
//! delaying a message) is not synced on its own: the WAL is a log, so a power cut can lose
//! only its tail, never reorder it, and what it loses is work that is then done again
//! (a message delivered again carries its old `webhook-id`), never work that was accepted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use haven_kernel::{Clock, Timestamp};
use rusqlite::{Connection, ErrorCode, Savepoint, TransactionBehavior};
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
#[derive(Debug, Clone)]
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

/// Wakes this process's long polls of one queue, and only that queue's, when a message may
/// have become visible there: one poller per message sent, not every poller of every queue
/// (each woken poller takes the writer to receive, so waking all of them for every message
/// cost the burst ~10 ms of CPU per alert). Sends from other processes are found by polling.
#[derive(Default)]
pub(crate) struct Wakeups {
    queues: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Wakeups {
    /// The signal of `queue`'s long polls.
    pub fn of(&self, queue: &str) -> Arc<Notify> {
        let mut queues = relock(&self.queues);
        match queues.get(queue) {
            Some(n) => n.clone(),
            None => {
                let n = Arc::new(Notify::new());
                queues.insert(queue.to_owned(), n.clone());
                n
            }
        }
    }

    /// A message may have become visible on `queue`: wakes one of its pollers (a poller busy
    /// elsewhere finds the permit when it next waits).
    pub fn sent(&self, queue: &str) {
        self.of(queue).notify_one();
    }

    /// Anything may have changed on `queue`: every poller of it looks.
    pub fn all_of(&self, queue: &str) {
        self.of(queue).notify_waiters();
    }

    /// Anything may have changed on any queue.
    pub fn everyone(&self) {
        for signal in relock(&self.queues).values() {
            signal.notify_waiters();
        }
    }
}

/// State shared by every handle of one open backend.
pub(crate) struct Shared {
    pub clock: Arc<dyn Clock>,
    /// Wakes in-process long polls of a queue when a message may have become visible there.
    pub wakeups: Wakeups,
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

/// The writer connection and what its thread needs: shared by the backend's handles and the
/// writer thread, which ends when the last handle is dropped.
struct Writer {
    conn: Mutex<Connection>,
    wal: PathBuf,
    /// How many times the WAL was synced, for tests and benchmarks.
    syncs: AtomicU64,
    shared: Arc<Shared>,
}

/// One write as the writer thread runs it: given the connection inside the batch, the
/// caller's closure runs and reports how to hand its result back once the batch is committed
/// (and synced); given the error that kept the batch from beginning, it answers with that.
type Job = Box<dyn FnOnce(Result<(&mut Connection, &Shared), DbError>) -> Option<Finish> + Send>;

struct Finish {
    ok: bool,
    durability: Durability,
    /// Hands back the result, or the batch's error when the batch did not commit.
    reply: Box<dyn FnOnce(Option<DbError>) + Send>,
}

/// Writes taken into one transaction at most.
const MAX_BATCH: usize = 64;

struct Inner {
    writer: Arc<Writer>,
    jobs: std::sync::mpsc::Sender<Job>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

#[derive(Clone)]
pub(crate) struct Database(Arc<Inner>);

fn connect(path: &Path) -> Result<Connection, EmbeddedError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // The table, queue and topic statements together are more than rusqlite's default of 16:
    // with that cache they pushed each other out and were parsed again on every call.
    conn.set_prepared_statement_cache_capacity(128);
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
        let shared = Arc::new(Shared {
            clock,
            wakeups: Wakeups::default(),
            last_sweep_ms: AtomicI64::new(i64::MIN),
        });
        let writer = Arc::new(Writer {
            conn: Mutex::new(conn),
            wal: PathBuf::from(wal),
            syncs: AtomicU64::new(0),
            shared,
        });
        let (jobs, queue) = std::sync::mpsc::channel();
        let on_thread = writer.clone();
        std::thread::Builder::new()
            .name("haven-sqlite-writer".into())
            .spawn(move || write_batches(&on_thread, &queue))
            .map_err(|source| EmbeddedError::Io {
                path: path.to_owned(),
                source,
            })?;
        Ok(Database(Arc::new(Inner {
            writer,
            jobs,
            readers,
            next_reader: AtomicUsize::new(0),
        })))
    }

    pub fn shared(&self) -> &Shared {
        &self.0.writer.shared
    }

    /// The writer connection, for the synchronous setup API. A panic while it was held left
    /// no open transaction behind (rusqlite rolls back on drop), so a poisoned lock is still
    /// usable.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        relock(&self.0.writer.conn)
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
        self.0.writer.syncs.load(Ordering::Relaxed)
    }

    /// Runs a short read (a few lookups by key) on the calling thread. Its statements take
    /// microseconds, less than the two thread hand-offs of the blocking pool cost on every
    /// request, and in WAL mode a reader never waits for the writer. Scans and queries that
    /// may read many rows go through [`Self::read`].
    pub fn read_here<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection, &Shared) -> Result<T, E>,
    {
        let conn = self.reader();
        f(&conn, &self.0.writer.shared)
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
            f(&conn, &db.0.writer.shared)
        })
        .await
        {
            Ok(result) => result,
            Err(_) => Err(DbError::Task.into()),
        }
    }

    /// Runs `f` on the writer thread, inside the batch transaction of the writes queued with
    /// it (`f`'s own transaction is a savepoint there); a `Durable` write returns once the
    /// batch is on disk.
    pub async fn write<T, E, F>(&self, durability: Durability, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Connection, &Shared) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (sender, answer) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |batch| {
            let (conn, shared) = match batch {
                Ok(inside) => inside,
                Err(e) => {
                    let _ = sender.send(Err(E::from(e)));
                    return None;
                }
            };
            let result = f(conn, shared);
            Some(Finish {
                ok: result.is_ok(),
                durability,
                reply: Box::new(move |failed| {
                    let result = match (failed, result) {
                        (Some(e), Ok(_)) => Err(E::from(e)),
                        (_, result) => result,
                    };
                    // The caller may have gone (its request was cancelled): nothing to tell.
                    let _ = sender.send(result);
                }),
            })
        });
        if self.0.jobs.send(job).is_err() {
            return Err(DbError::Task.into());
        }
        answer.await.unwrap_or_else(|_| Err(DbError::Task.into()))
    }
}

/// The writer thread: takes every write waiting, runs them in one `BEGIN IMMEDIATE`
/// transaction (each in its own savepoint, so one that fails leaves nothing behind), commits
/// once, syncs the WAL once if any of them must be durable, then answers them all. Under a
/// burst this turns a commit and a sync per write into one per batch, and no thread waits on
/// a lock for the writer. Ends when the backend's last handle is dropped.
fn write_batches(writer: &Writer, queue: &std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut conn = relock(&writer.conn);
        let mut finished = Vec::with_capacity(batch.len());
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE").db() {
            drop(conn);
            // Another process held the write lock past the busy timeout, or SQLite is failing:
            // the batch is not run, and each caller is told why.
            tracing::warn!(error = %e.describe(), writes = batch.len(), "a batch of writes could not begin");
            for job in batch {
                job(Err(e.clone()));
            }
            continue;
        }
        for job in batch {
            if let Err(e) = conn.execute_batch("SAVEPOINT job").db() {
                job(Err(e));
                continue;
            }
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                job(Ok((&mut conn, &writer.shared)))
            }));
            match run {
                Ok(None) => {}
                Ok(Some(finish)) => {
                    let undo = if finish.ok {
                        "RELEASE job"
                    } else {
                        "ROLLBACK TO job; RELEASE job"
                    };
                    if conn.execute_batch(undo).is_err() {
                        (finish.reply)(Some(DbError::Corrupt("a write could not be finished")));
                        continue;
                    }
                    finished.push(finish);
                }
                // Its answer channel is gone with it: the caller sees the task failed.
                Err(_) => {
                    let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                }
            }
        }
        let committed = conn.execute_batch("COMMIT").db();
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        drop(conn);
        let synced = match &committed {
            Ok(())
                if finished
                    .iter()
                    .any(|f| f.ok && f.durability == Durability::Durable) =>
            {
                sync_wal(writer)
            }
            _ => Ok(()),
        };
        for finish in finished {
            let failed = match (&committed, &synced, finish.durability) {
                (Err(e), _, _) => Some(e.clone()),
                (Ok(()), Err(e), Durability::Durable) => Some(DbError::Corrupt(e)),
                _ => None,
            };
            (finish.reply)(failed);
        }
    }
}

/// One `fdatasync` of the WAL: every commit before it is on disk.
fn sync_wal(writer: &Writer) -> Result<(), &'static str> {
    match std::fs::File::open(&writer.wal) {
        Ok(f) => f.sync_data().map_err(|_| "the WAL could not be synced")?,
        // A checkpoint that reset the WAL has already synced the database file.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => return Err("the WAL could not be opened to sync"),
    }
    writer.syncs.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A write's own transaction: a savepoint inside the writer thread's batch (which holds the
/// write lock from its `BEGIN IMMEDIATE`); dropped without `commit`, it undoes the write.
pub(crate) fn immediate(conn: &mut Connection) -> Result<Savepoint<'_>, DbError> {
    conn.savepoint().db()
}
