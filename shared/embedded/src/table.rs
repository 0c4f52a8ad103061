//! The Table port on SQLite, with DynamoDB's semantics: conditional writes, all-or-nothing
//! transactions, sparse GSIs, resumable queries and TTL.

use std::time::Duration;

use haven_kernel::item::{EXPIRES_AT, PK, SK};
use haven_kernel::ports::table::{CancelReason, MAX_BATCH_GET, validate_transaction};
use haven_kernel::ports::{
    Condition, Cursor, Index, Page, Query, SortKey, Table, TableError, TransactOp, Update,
};
use haven_kernel::{Item, Key, Timestamp, Value};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql};

use crate::db::{Database, Db, DbError, Durability, Shared, immediate};

/// DynamoDB's item size limit, applied to the stored JSON.
pub(crate) const MAX_ITEM_BYTES: usize = 400 * 1024;
/// DynamoDB's key attribute limits.
const MAX_PK_BYTES: usize = 2048;
const MAX_SK_BYTES: usize = 1024;
const GSIS: [Index; 3] = [Index::Gsi1, Index::Gsi2, Index::Gsi3];

/// Expired rows are deleted at most this often, a bounded number at a time, during writes.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);
const SWEEP_BATCH: i64 = 100;
/// Rows are swept only this long after they expire. DynamoDB's deletions lag expiry too;
/// the grace keeps conditions on just-expired items deterministic instead of depending on
/// when a sweep happened to run.
const SWEEP_GRACE_SECONDS: i64 = 5 * 60;

impl From<DbError> for TableError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Busy => TableError::Throttled,
            other => TableError::Unavailable(other.describe()),
        }
    }
}

/// The DynamoDB-style table, in the `items` table of the shared database.
#[derive(Clone)]
pub struct SqliteTable {
    db: Database,
}

/// An item ready to store: validated, with its indexed columns copied out.
struct Row {
    key: Key,
    /// gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk.
    gsi: [Option<String>; 6],
    expires_at: Option<i64>,
    body: String,
}

/// Checks what DynamoDB refuses in an item and prepares its row.
fn encode(item: &Item) -> Result<Row, TableError> {
    let key_part = |name: &str, max: usize| match item.get(name) {
        Some(Value::S(s)) if !s.is_empty() && s.len() <= max => Ok(s.clone()),
        Some(Value::S(_)) => Err(TableError::Invalid(format!(
            "the key attribute {name} holds 1 to {max} bytes"
        ))),
        _ => Err(TableError::Invalid(format!(
            "every item needs a string {name}"
        ))),
    };
    let key = Key::new(key_part(PK, MAX_PK_BYTES)?, key_part(SK, MAX_SK_BYTES)?);
    let mut gsi: [Option<String>; 6] = Default::default();
    let names = GSIS
        .iter()
        .flat_map(|i| [i.partition_attribute(), i.sort_attribute()]);
    for (slot, name) in gsi.iter_mut().zip(names) {
        *slot = match item.get(name) {
            None => None,
            Some(Value::S(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => {
                return Err(TableError::Invalid(format!(
                    "the index attribute {name} must be a non-empty string"
                )));
            }
        };
    }
    let body = serde_json::to_string(item)
        .map_err(|_| TableError::Invalid("the item cannot be serialised".into()))?;
    if body.len() > MAX_ITEM_BYTES {
        return Err(TableError::Invalid("the item is larger than 400 KB".into()));
    }
    Ok(Row {
        key,
        gsi,
        expires_at: item.i64(EXPIRES_AT),
        body,
    })
}

fn decode(body: &str) -> Result<Item, DbError> {
    serde_json::from_str(body).map_err(|_| DbError::Corrupt("a stored item cannot be read"))
}

/// The current item, expired or not: expired items still exist for conditions until swept.
fn load(conn: &Connection, key: &Key) -> Result<Option<Item>, DbError> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM items WHERE pk = ?1 AND sk = ?2")
        .db()?
        .query_row((&key.pk, &key.sk), |r| r.get(0))
        .optional()
        .db()?;
    body.as_deref().map(decode).transpose()
}

fn store(conn: &Connection, row: &Row) -> Result<(), DbError> {
    let [g1p, g1s, g2p, g2s, g3p, g3s] = &row.gsi;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO items
            (pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk, expires_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .db()?
    .execute((
        &row.key.pk,
        &row.key.sk,
        g1p,
        g1s,
        g2p,
        g2s,
        g3p,
        g3s,
        row.expires_at,
        &row.body,
    ))
    .db()?;
    Ok(())
}

fn remove(conn: &Connection, key: &Key) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .db()?
        .execute((&key.pk, &key.sk))
        .db()?;
    Ok(())
}

/// Deletes a bounded batch of long-expired rows, at most once per interval.
fn sweep(conn: &Connection, shared: &Shared, now: Timestamp) -> Result<(), DbError> {
    if !shared.sweep_due(now, SWEEP_INTERVAL) {
        return Ok(());
    }
    let swept = conn
        .prepare_cached(
            "DELETE FROM items WHERE rowid IN
                (SELECT rowid FROM items WHERE expires_at <= ?1 LIMIT ?2)",
        )
        .db()?
        .execute((
            now.epoch_seconds().saturating_sub(SWEEP_GRACE_SECONDS),
            SWEEP_BATCH,
        ))
        .db()?;
    if swept > 0 {
        tracing::debug!(swept, "swept expired items");
    }
    Ok(())
}

fn check(condition: Option<&Condition>, current: Option<&Item>) -> Result<(), TableError> {
    match condition {
        Some(c) if !c.holds(current) => Err(TableError::ConditionFailed),
        _ => Ok(()),
    }
}

/// A bound parameter. Text is raw bytes so a prefix's exclusive upper bound can end in 0xFF,
/// a byte no UTF-8 text contains (SQLite compares text bytewise and does not validate it).
enum Param {
    Text(Vec<u8>),
    Int(i64),
}

impl Param {
    fn text(s: &str) -> Self {
        Param::Text(s.as_bytes().to_vec())
    }
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Text(bytes) => ToSqlOutput::Borrowed(ValueRef::Text(bytes)),
            Param::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
        })
    }
}

/// The position a cursor names: the sort value of the index, then the table key.
struct Position {
    sort: String,
    pk: String,
    sk: String,
}

fn resume_position(query: &Query) -> Result<Option<Position>, TableError> {
    let Some(cursor) = &query.cursor else {
        return Ok(None);
    };
    let attributes = cursor.key_attributes()?;
    let text = |name: &str| {
        attributes
            .s(name)
            .map(str::to_owned)
            .ok_or(TableError::InvalidCursor)
    };
    let (p, s) = (
        query.index.partition_attribute(),
        query.index.sort_attribute(),
    );
    // A cursor from another partition or index would silently skip or repeat rows.
    if text(p)? != query.partition {
        return Err(TableError::InvalidCursor);
    }
    Ok(Some(Position {
        sort: text(s)?,
        pk: text(PK)?,
        sk: text(SK)?,
    }))
}

fn compare(sql: &mut String, params: &mut Vec<Param>, column: &str, op: &str, value: &str) {
    sql.push_str(&format!(" AND {column} {op} ?"));
    params.push(Param::text(value));
}

/// The SQL and parameters of a query (one row past the limit, to detect another page).
fn plan(query: &Query, now: Timestamp) -> Result<(String, Vec<Param>), TableError> {
    if query.partition.is_empty() {
        return Err(TableError::Invalid(
            "a query needs a partition value".into(),
        ));
    }
    if query.limit == Some(0) {
        return Err(TableError::Invalid("a query limit is at least 1".into()));
    }
    let position = resume_position(query)?;
    // Attribute names double as column names; they come from `Index`, never from input.
    let (p, s) = (
        query.index.partition_attribute(),
        query.index.sort_attribute(),
    );
    let on_gsi = query.index != Index::Table;
    let mut sql = format!("SELECT body, pk, sk, {p}, {s} FROM items WHERE {p} = ?");
    let mut params = vec![Param::text(&query.partition)];
    if on_gsi {
        // Sparse: matches the partial index's predicate, so SQLite can use it.
        sql.push_str(&format!(" AND {p} IS NOT NULL AND {s} IS NOT NULL"));
    }
    sql.push_str(" AND (expires_at IS NULL OR expires_at > ?)");
    params.push(Param::Int(now.epoch_seconds()));
    match &query.sort {
        None => {}
        Some(SortKey::Eq(v)) => {
            sql.push_str(&format!(" AND {s} = ?"));
            params.push(Param::text(v));
        }
        Some(SortKey::BeginsWith(prefix)) => {
            sql.push_str(&format!(" AND {s} >= ? AND {s} < ?"));
            let mut upper = prefix.as_bytes().to_vec();
            upper.push(0xFF);
            params.push(Param::text(prefix));
            params.push(Param::Text(upper));
        }
        Some(SortKey::Between(lo, hi)) => {
            if lo.as_bytes() > hi.as_bytes() {
                return Err(TableError::Invalid(
                    "BETWEEN needs its lower bound first".into(),
                ));
            }
            sql.push_str(&format!(" AND {s} >= ? AND {s} <= ?"));
            params.push(Param::text(lo));
            params.push(Param::text(hi));
        }
        Some(SortKey::Lt(v)) => compare(&mut sql, &mut params, s, "<", v),
        Some(SortKey::Le(v)) => compare(&mut sql, &mut params, s, "<=", v),
        Some(SortKey::Gt(v)) => compare(&mut sql, &mut params, s, ">", v),
        Some(SortKey::Ge(v)) => compare(&mut sql, &mut params, s, ">=", v),
    }
    let (after, direction) = if query.forward {
        (">", "ASC")
    } else {
        ("<", "DESC")
    };
    if let Some(at) = position {
        if on_gsi {
            // Sort values repeat on a GSI; the table key breaks ties so paging is stable.
            sql.push_str(&format!(" AND ({s}, pk, sk) {after} (?, ?, ?)"));
            params.push(Param::text(&at.sort));
            params.push(Param::text(&at.pk));
        } else {
            sql.push_str(&format!(" AND sk {after} ?"));
        }
        params.push(Param::text(&at.sk));
    }
    if on_gsi {
        sql.push_str(&format!(
            " ORDER BY {s} {direction}, pk {direction}, sk {direction}"
        ));
    } else {
        sql.push_str(&format!(" ORDER BY sk {direction}"));
    }
    if let Some(limit) = query.limit {
        // One row past the limit tells whether another page exists.
        sql.push_str(" LIMIT ?");
        params.push(Param::Int(i64::from(limit) + 1));
    }
    Ok((sql, params))
}

fn run_query(conn: &Connection, query: &Query, now: Timestamp) -> Result<Page, TableError> {
    let (sql, params) = plan(query, now)?;
    let on_gsi = query.index != Index::Table;
    let (p, s) = (
        query.index.partition_attribute(),
        query.index.sort_attribute(),
    );
    let mut statement = conn.prepare_cached(&sql).db()?;
    let mut rows = statement
        .query(rusqlite::params_from_iter(params.iter()))
        .db()?;
    let mut items = Vec::new();
    let mut last_keys = None;
    let mut more = false;
    while let Some(row) = rows.next().db()? {
        if query.limit.is_some_and(|l| items.len() >= l as usize) {
            more = true;
            break;
        }
        let body: String = row.get(0).db()?;
        items.push(decode(&body)?);
        let keys: [String; 4] = [
            row.get(1).db()?,
            row.get(2).db()?,
            row.get(3).db()?,
            row.get(4).db()?,
        ];
        last_keys = Some(keys);
    }
    let cursor = match (more, last_keys) {
        (true, Some([pk, sk, pv, sv])) => {
            let mut attributes = Item::new(&Key::new(pk, sk));
            if on_gsi {
                attributes.set(p, Value::S(pv));
                attributes.set(s, Value::S(sv));
            }
            Some(Cursor::from_key_attributes(&attributes))
        }
        _ => None,
    };
    Ok(Page { items, cursor })
}

/// What one operation of a transaction will write once every condition has held.
enum Planned {
    Store(Row),
    Remove(Key),
    Nothing,
}

impl SqliteTable {
    pub(crate) fn new(db: Database) -> Self {
        SqliteTable { db }
    }

    pub(crate) fn database(&self) -> &Database {
        &self.db
    }
}

/// The live item at `key`, if any (an expired one counts as absent, swept or not).
fn lookup(conn: &Connection, key: &Key, now: i64) -> Result<Option<Item>, TableError> {
    let body: Option<String> = conn
        .prepare_cached(
            "SELECT body FROM items WHERE pk = ?1 AND sk = ?2
                AND (expires_at IS NULL OR expires_at > ?3)",
        )
        .db()?
        .query_row((&key.pk, &key.sk, now), |r| r.get(0))
        .optional()
        .db()?;
    let item = body.as_deref().map(decode).transpose()?;
    Ok(item.filter(|i| !i.is_expired(now)))
}

impl Table for SqliteTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.db
            .read_here(|conn, shared| lookup(conn, key, shared.clock.now().epoch_seconds()))
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, TableError> {
        let look = |conn: &Connection, shared: &Shared, keys: &[Key]| {
            let now = shared.clock.now().epoch_seconds();
            keys.iter().map(|key| lookup(conn, key, now)).collect()
        };
        // A batch of the port's size (a search's candidates) is well under a millisecond, so
        // it runs on this thread; a bigger one goes to the blocking pool.
        if keys.len() <= MAX_BATCH_GET {
            return self.db.read_here(|conn, shared| look(conn, shared, keys));
        }
        let keys = keys.to_vec();
        self.db
            .read(move |conn, shared| look(conn, shared, &keys))
            .await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        let row = encode(&item)?;
        self.db
            .write(Durability::Durable, move |conn, shared| {
                let tx = immediate(conn)?;
                sweep(&tx, shared, shared.clock.now())?;
                if condition.is_some() {
                    check(condition.as_ref(), load(&tx, &row.key)?.as_ref())?;
                }
                store(&tx, &row)?;
                tx.commit().db()?;
                Ok(())
            })
            .await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        update.validate()?;
        let key = key.clone();
        self.db
            .write(Durability::Durable, move |conn, shared| {
                let tx = immediate(conn)?;
                sweep(&tx, shared, shared.clock.now())?;
                let current = load(&tx, &key)?;
                check(condition.as_ref(), current.as_ref())?;
                let next = update.apply(&key, current.as_ref())?;
                store(&tx, &encode(&next)?)?;
                tx.commit().db()?;
                Ok(next)
            })
            .await
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<Option<Item>, TableError> {
        let key = key.clone();
        self.db
            .write(Durability::Durable, move |conn, shared| {
                let tx = immediate(conn)?;
                sweep(&tx, shared, shared.clock.now())?;
                let current = load(&tx, &key)?;
                check(condition.as_ref(), current.as_ref())?;
                if current.is_some() {
                    remove(&tx, &key)?;
                }
                tx.commit().db()?;
                Ok(current)
            })
            .await
    }

    async fn query(&self, query: Query) -> Result<Page, TableError> {
        self.db
            .read(move |conn, shared| run_query(conn, &query, shared.clock.now()))
            .await
    }

    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        validate_transaction(&ops)?;
        // Static checks first, as DynamoDB refuses a malformed request before evaluating it.
        let rows = ops
            .iter()
            .map(|op| match op {
                TransactOp::Put { item, .. } => encode(item).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.db
            .write(Durability::Durable, move |conn, shared| {
                let tx = immediate(conn)?;
                sweep(&tx, shared, shared.clock.now())?;
                let mut reasons = Vec::with_capacity(ops.len());
                let mut plans = Vec::with_capacity(ops.len());
                for (op, row) in ops.into_iter().zip(rows) {
                    let key = op.key().ok_or_else(|| {
                        TableError::Invalid("every item needs string pk and sk".into())
                    })?;
                    let current = load(&tx, &key)?;
                    let condition = match &op {
                        TransactOp::Put { condition, .. }
                        | TransactOp::Update { condition, .. }
                        | TransactOp::Delete { condition, .. } => condition.as_ref(),
                        TransactOp::Check { condition, .. } => Some(condition),
                    };
                    if check(condition, current.as_ref()).is_err() {
                        reasons.push(CancelReason::ConditionFailed);
                        plans.push(Planned::Nothing);
                        continue;
                    }
                    let plan = match (op, row) {
                        (TransactOp::Put { .. }, Some(row)) => Some(Planned::Store(row)),
                        (TransactOp::Update { key, update, .. }, _) => update
                            .apply(&key, current.as_ref())
                            .and_then(|next| encode(&next))
                            .ok()
                            .map(Planned::Store),
                        (TransactOp::Delete { key, .. }, _) => Some(Planned::Remove(key)),
                        (TransactOp::Check { .. }, _) => Some(Planned::Nothing),
                        (TransactOp::Put { .. }, None) => None,
                    };
                    match plan {
                        Some(plan) => {
                            reasons.push(CancelReason::None);
                            plans.push(plan);
                        }
                        // DynamoDB cancels with a validation reason when an update cannot apply.
                        None => {
                            reasons.push(CancelReason::Other);
                            plans.push(Planned::Nothing);
                        }
                    }
                }
                if reasons.iter().any(|r| *r != CancelReason::None) {
                    // Dropping `tx` rolls back; nothing was written anyway.
                    return Err(TableError::TransactionCanceled(reasons));
                }
                for plan in &plans {
                    match plan {
                        Planned::Store(row) => store(&tx, row)?,
                        Planned::Remove(key) => remove(&tx, key)?,
                        Planned::Nothing => {}
                    }
                }
                tx.commit().db()?;
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use haven_kernel::ports::table::CancelReason;
    use haven_kernel::ports::{
        Condition, Cursor, Index, Query, SortKey, Table, TableError, TransactOp, Update,
    };
    use haven_kernel::{Item, Key, Value};

    use crate::testing::{backend, start};

    fn item(pk: &str, sk: &str) -> Item {
        Item::new(&Key::new(pk, sk))
    }

    fn sks(page: &haven_kernel::ports::Page) -> Vec<String> {
        page.items
            .iter()
            .map(|i| i.s("sk").unwrap_or_default().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn conditional_put_update_delete() {
        let (_dir, b, _) = backend();
        let t = &b.table;
        let key = Key::new("A#1", "META");
        t.put(
            item("A#1", "META").with("version", Value::n(1)),
            Some(Condition::item_absent()),
        )
        .await
        .expect("first put");
        assert_eq!(
            t.put(item("A#1", "META"), Some(Condition::item_absent()))
                .await,
            Err(TableError::ConditionFailed)
        );
        // A failed condition leaves the item as it was.
        assert_eq!(
            t.get(&key)
                .await
                .expect("get")
                .and_then(|i| i.i64("version")),
            Some(1)
        );

        let next = t
            .update(
                &key,
                Update::new().add("version", 1).set("s", Value::s("x")),
                Some(Condition::version_is(1)),
            )
            .await
            .expect("update");
        assert_eq!(next.i64("version"), Some(2));
        assert_eq!(t.get(&key).await.expect("get"), Some(next.clone()));
        assert_eq!(
            t.update(
                &key,
                Update::new().add("version", 1),
                Some(Condition::version_is(1))
            )
            .await,
            Err(TableError::ConditionFailed)
        );
        // Update on a missing item creates it, unless the condition needs it present.
        let other = Key::new("A#2", "META");
        assert_eq!(
            t.update(
                &other,
                Update::new().set("x", Value::n(1)),
                Some(Condition::item_present())
            )
            .await,
            Err(TableError::ConditionFailed)
        );
        let created = t
            .update(&other, Update::new().set("x", Value::n(1)), None)
            .await
            .expect("create");
        assert_eq!(created.key(), Some(other.clone()));
        assert!(matches!(
            t.update(&other, Update::new().set("pk", Value::s("y")), None)
                .await,
            Err(TableError::Invalid(_))
        ));

        assert_eq!(
            t.delete(&key, Some(Condition::version_is(1))).await,
            Err(TableError::ConditionFailed)
        );
        assert_eq!(
            t.delete(&key, Some(Condition::version_is(2)))
                .await
                .expect("delete"),
            Some(next)
        );
        assert_eq!(t.get(&key).await.expect("get"), None);
        assert_eq!(t.delete(&key, None).await.expect("delete again"), None);
    }

    #[tokio::test]
    async fn put_refuses_what_dynamodb_refuses() {
        let (_dir, b, _) = backend();
        let t = &b.table;
        let mut no_sk = item("A", "B");
        no_sk.remove("sk");
        assert!(matches!(
            t.put(no_sk, None).await,
            Err(TableError::Invalid(_))
        ));
        let numeric_pk = item("A", "B").with("pk", Value::n(1));
        assert!(matches!(
            t.put(numeric_pk, None).await,
            Err(TableError::Invalid(_))
        ));
        let numeric_gsi = item("A", "B").with("gsi2sk", Value::n(1));
        assert!(matches!(
            t.put(numeric_gsi, None).await,
            Err(TableError::Invalid(_))
        ));
        let huge = item("A", "B").with("blob", Value::s("x".repeat(401 * 1024)));
        assert!(matches!(
            t.put(huge, None).await,
            Err(TableError::Invalid(_))
        ));
        // An update whose result breaks the rules is refused the same way.
        assert!(matches!(
            t.update(
                &Key::new("A", "B"),
                Update::new().set("gsi1pk", Value::Bool(true)),
                None
            )
            .await,
            Err(TableError::Invalid(_))
        ));
        assert_eq!(t.get(&Key::new("A", "B")).await.expect("get"), None);
        // The error text never carries item contents.
        let secret = item("A", "B").with("gsi1pk", Value::n(424242));
        let err = t.put(secret, None).await.expect_err("refused").to_string();
        assert!(!err.contains("424242"), "{err}");
    }

    #[tokio::test]
    async fn transactions_are_all_or_nothing() {
        let (_dir, b, _) = backend();
        let t = &b.table;
        t.put(item("T", "existing").with("version", Value::n(1)), None)
            .await
            .expect("seed");
        let ops = vec![
            TransactOp::Put {
                item: item("T", "new"),
                condition: Some(Condition::item_absent()),
            },
            TransactOp::Update {
                key: Key::new("T", "existing"),
                update: Update::new().add("version", 1),
                condition: Some(Condition::version_is(7)),
            },
            TransactOp::Delete {
                key: Key::new("T", "other"),
                condition: None,
            },
        ];
        assert_eq!(
            t.transact_write(ops).await,
            Err(TableError::TransactionCanceled(vec![
                CancelReason::None,
                CancelReason::ConditionFailed,
                CancelReason::None
            ]))
        );
        assert_eq!(
            t.get(&Key::new("T", "new")).await.expect("get"),
            None,
            "rolled back"
        );

        let ops = vec![
            TransactOp::Put {
                item: item("T", "new"),
                condition: Some(Condition::item_absent()),
            },
            TransactOp::Update {
                key: Key::new("T", "existing"),
                update: Update::new().add("version", 1),
                condition: Some(Condition::version_is(1)),
            },
            TransactOp::Check {
                key: Key::new("T", "existing"),
                condition: Condition::item_present(),
            }
            .clone(),
        ];
        // Two operations on one item are refused before anything is evaluated.
        assert!(matches!(
            t.transact_write(ops).await,
            Err(TableError::Invalid(_))
        ));

        let ops = vec![
            TransactOp::Put {
                item: item("T", "new"),
                condition: Some(Condition::item_absent()),
            },
            TransactOp::Update {
                key: Key::new("T", "existing"),
                update: Update::new().add("version", 1),
                condition: Some(Condition::version_is(1)),
            },
            TransactOp::Check {
                key: Key::new("T", "guard"),
                condition: Condition::item_absent(),
            },
        ];
        t.transact_write(ops).await.expect("commits");
        assert!(t.get(&Key::new("T", "new")).await.expect("get").is_some());
        assert_eq!(
            t.get(&Key::new("T", "existing"))
                .await
                .expect("get")
                .and_then(|i| i.i64("version")),
            Some(2)
        );
        // An update that cannot apply cancels the whole transaction.
        let ops = vec![
            TransactOp::Delete {
                key: Key::new("T", "new"),
                condition: None,
            },
            TransactOp::Update {
                key: Key::new("T", "existing"),
                update: Update::new().set("gsi1pk", Value::n(3)),
                condition: None,
            },
        ];
        assert_eq!(
            t.transact_write(ops).await,
            Err(TableError::TransactionCanceled(vec![
                CancelReason::None,
                CancelReason::Other
            ]))
        );
        assert!(t.get(&Key::new("T", "new")).await.expect("get").is_some());
    }

    #[test]
    fn queries_use_the_partial_gsi_indexes() {
        let (_dir, b, _) = backend();
        let conn = b.table.db.lock();
        let cursor = Cursor::from_key_attributes(
            &item("a", "b")
                .with("gsi3pk", Value::s("g"))
                .with("gsi3sk", Value::s("c")),
        );
        for (index, name) in [
            (Index::Gsi1, "items_gsi1"),
            (Index::Gsi2, "items_gsi2"),
            (Index::Gsi3, "items_gsi3"),
        ] {
            let mut query = Query::partition("g")
                .on(index)
                .sort(SortKey::BeginsWith("x".into()))
                .limit(3);
            if index == Index::Gsi3 {
                query = query.after(Some(cursor.clone())).backward();
            }
            let (sql, params) = super::plan(&query, start()).expect("plan");
            let mut statement = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("explain");
            let details: Vec<String> = statement
                .query_map(rusqlite::params_from_iter(params.iter()), |r| r.get(3))
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("details");
            let plan = details.join("; ");
            assert!(plan.contains(name), "{index:?}: {plan}");
            assert!(
                !plan.contains("TEMP B-TREE"),
                "{index:?} sorts without a temporary b-tree: {plan}"
            );
        }
    }

    #[tokio::test]
    async fn gsis_are_sparse() {
        let (_dir, b, _) = backend();
        let t = &b.table;
        t.put(
            item("U#1", "P")
                .with("gsi1pk", Value::s("EMAIL#a"))
                .with("gsi1sk", Value::s("U")),
            None,
        )
        .await
        .expect("put");
        // Only one of the two index attributes: not in the index.
        t.put(item("U#2", "P").with("gsi1pk", Value::s("EMAIL#a")), None)
            .await
            .expect("put");
        let page = t
            .query(Query::partition("EMAIL#a").on(Index::Gsi1))
            .await
            .expect("query");
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].s("pk"), Some("U#1"));
        assert_eq!(page.cursor, None);
        // Removing an index attribute takes the item out of the index.
        t.update(&Key::new("U#1", "P"), Update::new().remove("gsi1sk"), None)
            .await
            .expect("update");
        let page = t
            .query(Query::partition("EMAIL#a").on(Index::Gsi1))
            .await
            .expect("query");
        assert!(page.items.is_empty());
        assert!(
            t.query(Query::partition("EMAIL#a").on(Index::Gsi2))
                .await
                .expect("query")
                .items
                .is_empty()
        );
    }

    #[tokio::test]
    async fn sort_key_conditions_and_byte_order() {
        let (_dir, b, _) = backend();
        let t = &b.table;
        for sk in ["A#1", "A#2", "A#\u{10FFFF}x", "B#1", "a", "É"] {
            t.put(item("P", sk), None).await.expect("put");
        }
        let q = |s: SortKey| t.query(Query::partition("P").sort(s));
        assert_eq!(
            sks(&q(SortKey::BeginsWith("A#".into())).await.expect("q")),
            ["A#1", "A#2", "A#\u{10FFFF}x"]
        );
        assert_eq!(
            sks(&q(SortKey::Eq("B#1".into())).await.expect("q")),
            ["B#1"]
        );
        assert_eq!(
            sks(&q(SortKey::Between("A#2".into(), "B#1".into()))
                .await
                .expect("q")),
            ["A#2", "A#\u{10FFFF}x", "B#1"]
        );
        assert_eq!(
            sks(&q(SortKey::Lt("A#2".into())).await.expect("q")),
            ["A#1"]
        );
        assert_eq!(
            sks(&q(SortKey::Le("A#2".into())).await.expect("q")),
            ["A#1", "A#2"]
        );
        assert_eq!(sks(&q(SortKey::Gt("a".into())).await.expect("q")), ["É"]);
        assert_eq!(
            sks(&q(SortKey::Ge("a".into())).await.expect("q")),
            ["a", "É"]
        );
        assert!(matches!(
            q(SortKey::Between("b".into(), "a".into())).await,
            Err(TableError::Invalid(_))
        ));
        let all = t.query(Query::partition("P").backward()).await.expect("q");
        assert_eq!(sks(&all), ["É", "a", "B#1", "A#\u{10FFFF}x", "A#2", "A#1"]);
    }

    async fn pages(t: &super::SqliteTable, query: Query) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = t
                .query(query.clone().after(cursor.take()))
                .await
                .expect("page");
            out.push(sks(&page));
            match page.cursor {
                Some(c) => {
                    cursor = Some(Cursor::parse(c.as_str()).expect("cursor travels as text"))
                }
                None => return out,
            }
        }
    }

    #[tokio::test]
    async fn cursors_page_both_ways_on_table_and_gsi() {
        let (_dir, b, _) = backend();
        let t = &b.table;
        for i in 1..=5 {
            t.put(item("P", &format!("S{i}")), None).await.expect("put");
        }
        let forward = pages(t, Query::partition("P").limit(2)).await;
        assert_eq!(forward, [vec!["S1", "S2"], vec!["S3", "S4"], vec!["S5"]]);
        let backward = pages(t, Query::partition("P").limit(2).backward()).await;
        assert_eq!(backward, [vec!["S5", "S4"], vec!["S3", "S2"], vec!["S1"]]);
        // A page that ends exactly at the last item carries no cursor.
        assert_eq!(
            pages(t, Query::partition("P").limit(5)).await,
            [vec!["S1", "S2", "S3", "S4", "S5"]]
        );
        let prefixed = pages(
            t,
            Query::partition("P")
                .sort(SortKey::Ge("S2".into()))
                .limit(3),
        )
        .await;
        assert_eq!(prefixed, [vec!["S2", "S3", "S4"], vec!["S5"]]);

        // On a GSI, items share sort values: the table key breaks the tie.
        for (pk, g) in [
            ("X#1", "same"),
            ("X#2", "same"),
            ("X#3", "same"),
            ("X#4", "other"),
            ("X#5", "same"),
        ] {
            t.put(
                item(pk, pk)
                    .with("gsi2pk", Value::s("OPEN"))
                    .with("gsi2sk", Value::s(g)),
                None,
            )
            .await
            .expect("put");
        }
        let q = Query::partition("OPEN").on(Index::Gsi2).limit(2);
        assert_eq!(
            pages(t, q.clone()).await,
            [vec!["X#4", "X#1"], vec!["X#2", "X#3"], vec!["X#5"]]
        );
        assert_eq!(
            pages(t, q.backward()).await,
            [vec!["X#5", "X#3"], vec!["X#2", "X#1"], vec!["X#4"]]
        );

        // A cursor for another partition or a garbled one is refused.
        let first = t.query(Query::partition("P").limit(1)).await.expect("page");
        let elsewhere = Query::partition("Q").after(first.cursor);
        assert_eq!(t.query(elsewhere).await, Err(TableError::InvalidCursor));
        let table_cursor = t
            .query(Query::partition("P").limit(1))
            .await
            .expect("page")
            .cursor;
        assert_eq!(
            t.query(Query::partition("OPEN").on(Index::Gsi2).after(table_cursor))
                .await,
            Err(TableError::InvalidCursor)
        );
        assert!(matches!(
            t.query(Query::partition("P").limit(0)).await,
            Err(TableError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn expired_items_are_invisible_to_reads_but_not_to_conditions_until_swept() {
        let (_dir, b, clock) = backend();
        let t = &b.table;
        let now = start().epoch_seconds();
        t.put(
            item("S", "short").with("expires_at", Value::n(now + 10)),
            None,
        )
        .await
        .expect("put");
        t.put(
            item("S", "long").with("expires_at", Value::n(now + 1000)),
            None,
        )
        .await
        .expect("put");
        t.put(item("S", "never"), None).await.expect("put");
        let key = Key::new("S", "short");
        assert!(t.get(&key).await.expect("get").is_some());

        clock.advance(std::time::Duration::from_secs(10));
        assert_eq!(
            t.get(&key).await.expect("get"),
            None,
            "expiry is inclusive of the instant"
        );
        assert_eq!(
            sks(&t.query(Query::partition("S")).await.expect("q")),
            ["long", "never"]
        );
        // Still there for conditions, as in DynamoDB before its sweeper runs.
        assert_eq!(
            t.put(item("S", "short"), Some(Condition::item_absent()))
                .await,
            Err(TableError::ConditionFailed)
        );

        // Long after expiry a write sweeps the row away.
        clock.advance(std::time::Duration::from_secs(3600));
        t.put(item("S", "other"), None).await.expect("put sweeps");
        t.put(item("S", "short"), Some(Condition::item_absent()))
            .await
            .expect("swept");
        assert_eq!(
            sks(&t.query(Query::partition("S")).await.expect("q")),
            ["never", "other", "short"]
        );
    }
}
