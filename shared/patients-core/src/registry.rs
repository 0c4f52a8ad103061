//! The patient register of a hospital: create (with the next MRN), read, list, replace under
//! a version, soft-delete and restore, each audited with who, which patient and why.

use std::time::Duration;

use serde::Serialize;

use crate::access::{Purpose, Staff, View};
use crate::mrn::{self, Mrn};
use crate::record::{PatientDetails, PatientInput};
use crate::store::{self, IndexEntry, Sealed};
use haven_kernel::audit::{self, AuditEvent};
use haven_kernel::blind_index::{self, BlindIndex};
use haven_kernel::item::{EXPIRES_AT, Item, Key, Value};
use haven_kernel::ports::table::CancelReason;
use haven_kernel::ports::{
    Condition, Cursor, DataKey, Index, Ports, Query, Table, TableError, TransactOp, Update,
};
use haven_kernel::{DomainError, refs};

/// A deleted record can be restored for this long; then the table's TTL removes it.
pub const RESTORE_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);
/// Tries at the next MRN before giving up: each lost race means another create won a number.
const SEQUENCE_ATTEMPTS: usize = 200;
/// Of those, how many may end in the store being briefly unavailable.
const TRANSIENT_RETRIES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Deleted,
    /// Merged into another record (HL7 A40); reads redirect.
    Merged,
}

impl Status {
    fn of(item: &Item) -> Status {
        match item.s("status") {
            Some("deleted") => Status::Deleted,
            Some("merged") => Status::Merged,
            _ => Status::Active,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Deleted => "deleted",
            Status::Merged => "merged",
        }
    }
}

/// What the lab sees of a patient: enough to label a specimen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NameOnly {
    pub given_name: String,
    pub family_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Shown {
    Full(Box<PatientDetails>),
    NameOnly(NameOnly),
}

/// A patient as a reader may see them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientView {
    pub id: String,
    pub hospital_id: String,
    pub mrn: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_mrns: Vec<String>,
    pub status: Status,
    #[serde(flatten)]
    pub shown: Shown,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    /// Until when an admin may restore it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restorable_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
}

/// A patient record as read, before it is shaped for a reader.
#[derive(Clone)]
pub struct Opened {
    pub id: String,
    pub item: Item,
    pub sealed: Sealed,
}

impl Opened {
    pub fn hospital_id(&self) -> &str {
        self.item.s("hospital_id").unwrap_or_default()
    }
    pub fn version(&self) -> i64 {
        self.item.i64("version").unwrap_or(0)
    }
    pub fn status(&self) -> Status {
        Status::of(&self.item)
    }

    pub fn view(&self, view: View) -> PatientView {
        let d = &self.sealed.details;
        let shown = match view {
            View::Full => Shown::Full(Box::new(d.clone())),
            View::NameOnly => Shown::NameOnly(NameOnly {
                given_name: d.given_name.clone(),
                family_name: d.family_name.clone(),
            }),
        };
        let text = |n: &str| self.item.s(n).map(str::to_owned);
        PatientView {
            id: self.id.clone(),
            hospital_id: self.hospital_id().to_owned(),
            mrn: self.sealed.mrn.clone(),
            other_mrns: match view {
                View::Full => self.sealed.other_mrns.clone(),
                View::NameOnly => Vec::new(),
            },
            status: self.status(),
            shown,
            version: self.version(),
            created_at: text("created_at").unwrap_or_default(),
            updated_at: text("updated_at").unwrap_or_default(),
            deleted_at: text("deleted_at"),
            restorable_until: text("restorable_until"),
            merged_into: text("merged_into"),
        }
    }
}

fn today<P: Ports>(ports: &P) -> chrono::NaiveDate {
    // The hospital's date: Kenya is UTC+3 all year.
    let millis = ports.clock().now().millis() + 3 * 3600 * 1000;
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// Reads and opens a patient record of any state.
pub async fn load<P: Ports>(ports: &P, patient_id: &str) -> Result<Option<Opened>, DomainError> {
    if !haven_kernel::ids::is_valid_id(patient_id) {
        return Ok(None);
    }
    let Some(item) = ports.table().get(&store::key(patient_id)).await? else {
        return Ok(None);
    };
    let sealed = store::open(ports, patient_id, &item).await?;
    Ok(Some(Opened {
        id: patient_id.to_owned(),
        item,
        sealed,
    }))
}

/// Writes one audit record per patient touched: who, which patient, what, and why.
pub async fn audit_access<P: Ports>(
    ports: &P,
    staff: &Staff,
    action: &'static str,
    purpose: Purpose,
    patients: &[(&str, &str)],
) -> Result<(), DomainError> {
    let events: Vec<AuditEvent> = patients
        .iter()
        .map(|(patient_id, hospital_id)| {
            AuditEvent::new(action, "success")
                .actor(&staff.user_id)
                .subject(&format!("patient/{patient_id}"))
                .recipient(hospital_id)
                .detail(format!("purpose={}", purpose.as_str()))
        })
        .collect();
    audit::record_all(ports, &events).await
}

pub(crate) async fn history_op<P: Ports>(
    ports: &P,
    patient_id: &str,
    event: &str,
    actor: &str,
    detail: Option<&str>,
) -> TransactOp {
    let at = ports.clock().now().to_rfc3339();
    let mut item = Item::new(&store::history_key(patient_id, &at, &ports.ids().next_id()))
        .with("event", Value::s(event))
        .with("actor", Value::s(actor))
        .with("at", Value::s(&at));
    if let Some(d) = detail {
        item.set("detail", Value::s(d));
    }
    TransactOp::Put {
        item,
        condition: None,
    }
}

/// The index entries of a record, each carrying the record's signature (all of them are
/// written again when it changes, so no entry keeps an old one).
fn index_puts(entries: &[IndexEntry], patient_id: &str) -> impl Iterator<Item = TransactOp> {
    let signature = store::signature(entries);
    entries.iter().map(move |e| TransactOp::Put {
        item: Item::new(&store::index_key(e, patient_id))
            .with("patient_id", Value::s(patient_id))
            .with("sig", Value::s(&signature)),
        condition: None,
    })
}

fn index_deletes(entries: &[IndexEntry], patient_id: &str) -> impl Iterator<Item = TransactOp> {
    entries.iter().map(move |e| TransactOp::Delete {
        key: store::index_key(e, patient_id),
        condition: None,
    })
}

/// The hospital's MRN prefix: kept with its sequence once issued, so a renamed hospital's
/// numbers do not change; the first time, the initials of its registered name.
async fn sequence_state<P: Ports>(
    ports: &P,
    hospital_id: &str,
) -> Result<(Option<i64>, String), DomainError> {
    if let Some(seq) = ports.table().get(&store::sequence_key(hospital_id)).await? {
        let prefix = seq.s("prefix").unwrap_or("H").to_owned();
        return Ok((seq.i64("last"), prefix));
    }
    let hospital = ports
        .table()
        .get(&refs::hospital_profile(hospital_id))
        .await?
        .ok_or_else(|| DomainError::invalid("hospital_id", "no hospital has this id"))?;
    let name = hospital.s(refs::HOSPITAL_NAME).unwrap_or_default();
    Ok((None, mrn::prefix_from_name(name)))
}

/// A record about to be written under a number already chosen.
pub struct NewRecord<'a> {
    pub hospital_id: &'a str,
    pub patient_id: &'a str,
    pub actor: &'a str,
    pub details: &'a PatientDetails,
    pub mrn: Mrn,
}

/// The writes of a new record (the record, its history, its index entries), without the
/// sequence update that claims its number: the item, what it seals, and the operations.
pub async fn new_record<P: Ports>(
    ports: &P,
    index: &BlindIndex,
    data_key: &DataKey,
    new: &NewRecord<'_>,
) -> Result<(Item, Sealed, Vec<TransactOp>), DomainError> {
    let sealed = Sealed {
        mrn: new.mrn.to_string(),
        other_mrns: Vec::new(),
        details: new.details.clone(),
    };
    let envelope = store::seal_under(data_key, new.patient_id, new.hospital_id, &sealed)?;
    let entries = store::entries(index, new.hospital_id, &sealed);
    let now = ports.clock().now().to_rfc3339();
    let mut item = Item::new(&store::key(new.patient_id))
        .with("kind", Value::s(store::RECORD_KIND))
        .with("hospital_id", Value::s(new.hospital_id))
        .with("status", Value::s(Status::Active.as_str()))
        .with("version", Value::n(1))
        .with("created_at", Value::s(&now))
        .with("updated_at", Value::s(&now))
        .with("created_by", Value::s(new.actor))
        .with("tokens", store::listed_value(&entries))
        .with("gsi1pk", Value::s(store::list_partition(new.hospital_id)))
        .with("gsi1sk", Value::s(new.patient_id));
    envelope.write_to(&mut item, store::SEALED);
    let mut ops = vec![
        TransactOp::Put {
            item: item.clone(),
            condition: Some(Condition::item_absent()),
        },
        history_op(ports, new.patient_id, "registered", new.actor, None).await,
    ];
    ops.extend(index_puts(&entries, new.patient_id));
    Ok((item, sealed, ops))
}

/// `POST /patients`: a new record with the hospital's next MRN. The number, the record, its
/// index entries and its history go in one transaction conditioned on the number read, so
/// racing creates each get their own number and a failed create uses none (no gaps).
pub async fn create<P: Ports>(
    ports: &P,
    staff: &Staff,
    input: PatientInput,
    purpose: Purpose,
) -> Result<Opened, DomainError> {
    let hospital_id = staff.hospital_to_write(input.hospital_id.as_deref())?;
    let details = input.validate(today(ports))?;
    let index = blind_index::load(ports).await?;
    let patient_id = ports.ids().next_id();
    let data_key = store::data_key(ports, &patient_id, &hospital_id).await?;
    let mut transient = 0;
    for attempt in 0..SEQUENCE_ATTEMPTS {
        if attempt > 0 {
            // Lost the race for a number: wait a random moment, so that the creates still
            // racing spread out instead of colliding again (1-2 ms at first, up to 50 ms).
            let cap = 1u64 << attempt.min(5);
            let wait = rand::random_range(1..=cap.min(50) + 1);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        let (last, prefix) = sequence_state(ports, &hospital_id).await?;
        let number = last.unwrap_or(0) + 1;
        let (item, sealed, record_ops) = new_record(
            ports,
            &index,
            &data_key,
            &NewRecord {
                hospital_id: &hospital_id,
                patient_id: &patient_id,
                actor: &staff.user_id,
                details: &details,
                mrn: Mrn::new(&prefix, number as u64),
            },
        )
        .await?;
        let sequence_condition = match last {
            None => Condition::item_absent(),
            Some(n) => Condition::equals("last", Value::n(n)),
        };
        let mut ops = vec![TransactOp::Update {
            key: store::sequence_key(&hospital_id),
            update: Update::new()
                .set("last", Value::n(number))
                .set("prefix", Value::s(&prefix)),
            condition: Some(sequence_condition),
        }];
        ops.extend(record_ops);
        match ports.table().transact_write(ops).await {
            Ok(()) => {
                audit_access(
                    ports,
                    staff,
                    "patient.created",
                    purpose,
                    &[(&patient_id, &hospital_id)],
                )
                .await?;
                return Ok(Opened {
                    id: patient_id,
                    item,
                    sealed,
                });
            }
            // The record is there already: an earlier try committed and its answer was lost.
            Err(TableError::TransactionCanceled(reasons))
                if reasons.get(1) == Some(&CancelReason::ConditionFailed) =>
            {
                return load(ports, &patient_id)
                    .await?
                    .ok_or_else(|| DomainError::Unavailable("storage is unavailable".into()));
            }
            // Another create took this number (or, on DynamoDB, was writing the sequence at
            // the same moment: `TransactionConflict`): read the sequence again.
            Err(TableError::TransactionCanceled(reasons))
                if matches!(
                    reasons.first(),
                    Some(CancelReason::ConditionFailed | CancelReason::Other)
                ) => {}
            // A moment's unavailability: the transaction is all or nothing, so try again (a
            // try that did commit is found by the arm above).
            Err(TableError::Unavailable(_) | TableError::Throttled)
                if transient < TRANSIENT_RETRIES =>
            {
                transient += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(DomainError::Unavailable(
        "the hospital's record numbers are too busy; try again".into(),
    ))
}

/// Reads a record the caller may see. Another hospital's record is `NotFound`, as if absent,
/// and so is a deleted one unless an admin asks for it.
pub async fn read_scoped<P: Ports>(
    ports: &P,
    staff: &Staff,
    patient_id: &str,
    include_deleted: bool,
) -> Result<(Opened, View), DomainError> {
    let opened = load(ports, patient_id)
        .await?
        .ok_or_else(|| DomainError::NotFound("patient".into()))?;
    let view = staff.view_of(opened.hospital_id())?;
    match opened.status() {
        Status::Active => {}
        Status::Deleted if include_deleted && staff.may_restore() => {}
        _ => return Err(DomainError::NotFound("patient".into())),
    }
    Ok((opened, view))
}

/// `GET /patients/{id}`: a merged record answers with the one it was merged into.
pub async fn read<P: Ports>(
    ports: &P,
    staff: &Staff,
    patient_id: &str,
    purpose: Purpose,
) -> Result<PatientView, DomainError> {
    let (opened, view) = read_record(ports, staff, patient_id, "patient.read", purpose).await?;
    Ok(opened.view(view))
}

/// Reads a record for a reader, following merges, and audits the read as `action`.
pub async fn read_record<P: Ports>(
    ports: &P,
    staff: &Staff,
    patient_id: &str,
    action: &'static str,
    purpose: Purpose,
) -> Result<(Opened, View), DomainError> {
    let mut id = patient_id.to_owned();
    // A chain of merges is short; the bound only guards against a loop.
    for _ in 0..4 {
        let Some(opened) = load(ports, &id).await? else {
            break;
        };
        if opened.status() == Status::Merged {
            staff.view_of(opened.hospital_id())?;
            match opened.item.s("merged_into") {
                Some(next) => {
                    id = next.to_owned();
                    continue;
                }
                None => break,
            }
        }
        let (opened, view) = read_scoped(ports, staff, &id, true).await?;
        audit_access(
            ports,
            staff,
            action,
            purpose,
            &[(&opened.id, opened.hospital_id())],
        )
        .await?;
        return Ok((opened, view));
    }
    Err(DomainError::NotFound("patient".into()))
}

/// A page of a hospital's patients, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientPage {
    pub patients: Vec<PatientView>,
    pub next_cursor: Option<String>,
}

/// `GET /patients?status=active|deleted`.
pub async fn list<P: Ports>(
    ports: &P,
    staff: &Staff,
    hospital_id: Option<&str>,
    deleted: bool,
    limit: u32,
    cursor: Option<Cursor>,
    purpose: Purpose,
) -> Result<PatientPage, DomainError> {
    let hospital_id = staff.hospital_to_read(hospital_id)?;
    let view = staff.view_of(&hospital_id)?;
    if deleted && !staff.may_restore() {
        return Err(DomainError::Forbidden);
    }
    let partition = if deleted {
        store::deleted_partition(&hospital_id)
    } else {
        store::list_partition(&hospital_id)
    };
    let page = ports
        .table()
        .query(
            Query::partition(partition)
                .on(Index::Gsi1)
                .backward()
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let opened = open_all(ports, page.items).await?;
    let touched: Vec<(&str, &str)> = opened
        .iter()
        .map(|o| (o.id.as_str(), o.hospital_id()))
        .collect();
    audit_access(ports, staff, "patient.listed", purpose, &touched).await?;
    Ok(PatientPage {
        patients: opened.iter().map(|o| o.view(view)).collect(),
        next_cursor: page.cursor.map(|c| c.as_str().to_owned()),
    })
}

/// Opens records read together, concurrently (on AWS each is a KMS call unless cached).
pub async fn open_all<P: Ports>(ports: &P, items: Vec<Item>) -> Result<Vec<Opened>, DomainError> {
    let opens = items.into_iter().filter_map(|item| {
        let id = item
            .s("pk")
            .and_then(|pk| pk.strip_prefix("PATIENT#"))?
            .to_owned();
        Some(async move {
            let sealed = store::open(ports, &id, &item).await?;
            Ok::<_, DomainError>(Opened { id, item, sealed })
        })
    });
    futures::future::join_all(opens).await.into_iter().collect()
}

/// `PUT /patients/{id}` with `If-Match`: replaces the details; the MRN stays.
pub async fn replace<P: Ports>(
    ports: &P,
    staff: &Staff,
    patient_id: &str,
    input: PatientInput,
    expected_version: Option<i64>,
    purpose: Purpose,
) -> Result<Opened, DomainError> {
    let expected = expected_version.ok_or(DomainError::VersionRequired)?;
    let (current, _) = read_scoped(ports, staff, patient_id, false).await?;
    staff.may_write()?;
    if current.version() != expected {
        return Err(DomainError::stale(
            "the patient was changed since it was read; read it again",
            current.version(),
        ));
    }
    let hospital_id = current.hospital_id().to_owned();
    let details = input.validate(today(ports))?;
    let index = blind_index::load(ports).await?;
    let sealed = Sealed {
        details,
        ..current.sealed.clone()
    };
    let envelope = store::seal(ports, patient_id, &hospital_id, &sealed).await?;
    let old = store::listed_entries(&current.item);
    let new = store::entries(&index, &hospital_id, &sealed);
    let removed: Vec<IndexEntry> = old.iter().filter(|e| !new.contains(e)).cloned().collect();
    let mut item = current.item.clone();
    envelope.write_to(&mut item, store::SEALED);
    item.set("version", Value::n(expected + 1));
    item.set("updated_at", Value::s(ports.clock().now().to_rfc3339()));
    item.set("tokens", store::listed_value(&new));
    let mut ops = vec![
        TransactOp::Put {
            item: item.clone(),
            condition: Some(Condition::And(vec![
                Condition::version_is(expected),
                Condition::equals("status", Value::s(Status::Active.as_str())),
            ])),
        },
        history_op(ports, patient_id, "updated", &staff.user_id, None).await,
    ];
    ops.extend(index_deletes(&removed, patient_id));
    // Every entry again, not only the added ones: each carries the new signature.
    ops.extend(index_puts(&new, patient_id));
    ports
        .table()
        .transact_write(ops)
        .await
        .map_err(|e| stale_or(e, expected))?;
    audit_access(
        ports,
        staff,
        "patient.updated",
        purpose,
        &[(patient_id, &hospital_id)],
    )
    .await?;
    Ok(Opened {
        id: patient_id.to_owned(),
        item,
        sealed,
    })
}

fn stale_or(e: TableError, expected: i64) -> DomainError {
    match e {
        TableError::TransactionCanceled(_) | TableError::ConditionFailed => DomainError::stale(
            "the patient was changed since it was read; read it again",
            expected + 1,
        ),
        other => other.into(),
    }
}

/// A record moving between states: the item's update, the history event, the audit action
/// and the index entries that go or come back with it.
struct StateChange {
    from: Status,
    update: Update,
    event: &'static str,
    action: &'static str,
    index_ops: Vec<TransactOp>,
}

/// Applies a [`StateChange`] in one transaction under the record's version and state, then
/// audits it.
async fn change_state<P: Ports>(
    ports: &P,
    staff: &Staff,
    current: &Opened,
    change: StateChange,
    purpose: Purpose,
) -> Result<(), DomainError> {
    let version = current.version();
    let mut ops = vec![
        TransactOp::Update {
            key: store::key(&current.id),
            update: change.update,
            condition: Some(Condition::And(vec![
                Condition::version_is(version),
                Condition::equals("status", Value::s(change.from.as_str())),
            ])),
        },
        history_op(ports, &current.id, change.event, &staff.user_id, None).await,
    ];
    ops.extend(change.index_ops);
    ports
        .table()
        .transact_write(ops)
        .await
        .map_err(|e| stale_or(e, version))?;
    audit_access(
        ports,
        staff,
        change.action,
        purpose,
        &[(&current.id, current.hospital_id())],
    )
    .await
}

/// `DELETE /patients/{id}`: gone from lists and search at once, restorable for 30 days.
pub async fn remove<P: Ports>(
    ports: &P,
    staff: &Staff,
    patient_id: &str,
    purpose: Purpose,
) -> Result<PatientView, DomainError> {
    let (current, view) = read_scoped(ports, staff, patient_id, false).await?;
    if !staff.may_restore() {
        return Err(DomainError::Forbidden);
    }
    let hospital_id = current.hospital_id().to_owned();
    let now = ports.clock().now();
    let until = now.plus(RESTORE_WINDOW);
    let version = current.version();
    let update = Update::new()
        .set("status", Value::s(Status::Deleted.as_str()))
        .set("version", Value::n(version + 1))
        .set("deleted_at", Value::s(now.to_rfc3339()))
        .set("restorable_until", Value::s(until.to_rfc3339()))
        .set(EXPIRES_AT, Value::n(until.epoch_seconds()))
        .set("updated_at", Value::s(now.to_rfc3339()))
        .set("gsi1pk", Value::s(store::deleted_partition(&hospital_id)));
    let entries = store::listed_entries(&current.item);
    let index_ops = index_deletes(&entries, patient_id).collect();
    let change = StateChange {
        from: Status::Active,
        update,
        event: "deleted",
        action: "patient.deleted",
        index_ops,
    };
    change_state(ports, staff, &current, change, purpose).await?;
    let (after, _) = read_scoped(ports, staff, patient_id, true).await?;
    Ok(after.view(view))
}

/// `POST /patients/{id}/restore`: back in lists and search, with its MRN.
pub async fn restore<P: Ports>(
    ports: &P,
    staff: &Staff,
    patient_id: &str,
    purpose: Purpose,
) -> Result<PatientView, DomainError> {
    if !staff.may_restore() {
        // Scope first, so another hospital's staff still see 404.
        let opened = load(ports, patient_id)
            .await?
            .ok_or_else(|| DomainError::NotFound("patient".into()))?;
        staff.view_of(opened.hospital_id())?;
        return Err(DomainError::Forbidden);
    }
    let (current, view) = read_scoped(ports, staff, patient_id, true).await?;
    if current.status() != Status::Deleted {
        return Err(DomainError::Conflict {
            message: "only a deleted record can be restored".into(),
            current: Some(current.status().as_str().into()),
        });
    }
    let hospital_id = current.hospital_id().to_owned();
    let version = current.version();
    let update = Update::new()
        .set("status", Value::s(Status::Active.as_str()))
        .set("version", Value::n(version + 1))
        .set("updated_at", Value::s(ports.clock().now().to_rfc3339()))
        .set("gsi1pk", Value::s(store::list_partition(&hospital_id)))
        .remove("deleted_at")
        .remove("restorable_until")
        .remove(EXPIRES_AT);
    let entries = store::listed_entries(&current.item);
    let index_ops = index_puts(&entries, patient_id).collect();
    let change = StateChange {
        from: Status::Deleted,
        update,
        event: "restored",
        action: "patient.restored",
        index_ops,
    };
    change_state(ports, staff, &current, change, purpose).await?;
    let (after, _) = read_scoped(ports, staff, patient_id, false).await?;
    Ok(after.view(view))
}

/// One entry of a record's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub at: String,
    pub event: String,
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPage {
    pub patient_id: String,
    pub entries: Vec<HistoryEntry>,
    pub next_cursor: Option<String>,
}

/// `GET /patients/{id}/medical-history`: what Haven knows happened, newest first.
pub async fn history<P: Ports>(
    ports: &P,
    staff: &Staff,
    patient_id: &str,
    limit: u32,
    cursor: Option<Cursor>,
    purpose: Purpose,
) -> Result<HistoryPage, DomainError> {
    let (opened, view) = read_scoped(ports, staff, patient_id, false).await?;
    if view != View::Full {
        return Err(DomainError::Forbidden);
    }
    let page = ports
        .table()
        .query(
            Query::partition(store::key(patient_id).pk)
                .sort(haven_kernel::ports::SortKey::BeginsWith("HISTORY#".into()))
                .backward()
                .limit(limit)
                .after(cursor.clone()),
        )
        .await?;
    let mut entries: Vec<HistoryEntry> = page
        .items
        .iter()
        .map(|i| HistoryEntry {
            at: i.s("at").unwrap_or_default().to_owned(),
            event: i.s("event").unwrap_or_default().to_owned(),
            actor: i.s("actor").map(str::to_owned),
            detail: i.s("detail").map(str::to_owned),
        })
        .collect();
    if let Some(user_id) = opened.sealed.details.haven_user_id.as_deref() {
        // This page covers from its oldest entry (or the beginning, on the last page) up to
        // where the page before it ended (the cursor's entry), so each alert is on one page.
        let newer_than_page = cursor
            .as_ref()
            .and_then(|c| c.key_attributes().ok())
            .and_then(|k| k.s("sk").map(str::to_owned))
            .and_then(|sk| sk.strip_prefix("HISTORY#").map(str::to_owned))
            .and_then(|rest| rest.split_once('#').map(|(at, _)| at.to_owned()));
        let oldest_on_page = page
            .cursor
            .as_ref()
            .and_then(|_| entries.last().map(|e| e.at.clone()));
        entries.extend(
            alerts_routed_here(
                ports,
                user_id,
                opened.hospital_id(),
                oldest_on_page,
                newer_than_page,
            )
            .await?,
        );
        entries.sort_by(|a, b| b.at.cmp(&a.at));
    }
    audit_access(
        ports,
        staff,
        "patient.history_read",
        purpose,
        &[(patient_id, opened.hospital_id())],
    )
    .await?;
    Ok(HistoryPage {
        patient_id: patient_id.to_owned(),
        entries,
        next_cursor: page.cursor.map(|c| c.as_str().to_owned()),
    })
}

/// At most this many alerts of one person join one page of history.
const ALERTS_PER_PAGE: u32 = 100;

/// The emergency alerts of Haven user `user_id` that were routed to `hospital_id`, raised in
/// `[from, before)`: read through the emergencies context's published keys
/// (`haven_kernel::refs`), never its types. An alert carries no clinical detail here.
async fn alerts_routed_here<P: Ports>(
    ports: &P,
    user_id: &str,
    hospital_id: &str,
    from: Option<String>,
    before: Option<String>,
) -> Result<Vec<HistoryEntry>, DomainError> {
    use haven_kernel::ports::SortKey;
    let window = match (from, before) {
        (Some(from), Some(before)) => Some(SortKey::Between(from, before)),
        (Some(from), None) => Some(SortKey::Ge(from)),
        (None, Some(before)) => Some(SortKey::Lt(before)),
        (None, None) => None,
    };
    let mut query = Query::partition(refs::user_alerts_partition(user_id))
        .on(Index::Gsi1)
        .backward()
        .limit(ALERTS_PER_PAGE);
    if let Some(w) = window {
        query = query.sort(w);
    }
    let alerts = ports.table().query(query).await?.items;
    let routings: Vec<Key> = alerts
        .iter()
        .filter_map(|a| a.s(Index::Gsi1.sort_attribute()))
        .map(|sort| refs::hospital_alert_routing(hospital_id, sort))
        .collect();
    let routed = ports.table().get_many(&routings).await?;
    Ok(alerts
        .iter()
        .zip(routed)
        .filter_map(|(alert, routing)| {
            let routing = routing?;
            let sort = alert.s(Index::Gsi1.sort_attribute())?;
            let (created_at, _) = sort.split_once('#')?;
            Some(HistoryEntry {
                at: created_at.to_owned(),
                event: "emergency_alert".to_owned(),
                actor: None,
                detail: Some(format!(
                    "alert {} ({}), routed here at {}; now {}",
                    alert.s(refs::ALERT_ID).unwrap_or_default(),
                    alert.s(refs::ALERT_KIND).unwrap_or("emergency"),
                    routing.s(refs::ROUTED_AT).unwrap_or_default(),
                    alert.s(refs::ALERT_STATUS).unwrap_or_default(),
                )),
            })
        })
        .collect())
}

/// The active record of `hospital_id` with this MRN (its own or one merged into it).
pub async fn find_by_mrn<P: Ports>(
    ports: &P,
    hospital_id: &str,
    mrn: &Mrn,
) -> Result<Option<Opened>, DomainError> {
    let Some(index) = blind_index::load_existing(ports).await? else {
        return Ok(None);
    };
    let token = index.token(hospital_id, store::kind::MRN, &mrn.to_string());
    let page = ports
        .table()
        .query(Query::partition(format!("PIDX#{token}")).limit(2))
        .await?;
    for item in page.items {
        let Some(id) = item.s("patient_id") else {
            continue;
        };
        if let Some(opened) = load(ports, id).await?
            && opened.status() == Status::Active
            && opened.hospital_id() == hospital_id
        {
            return Ok(Some(opened));
        }
    }
    Ok(None)
}

/// Merges `retired` into `survivor` (HL7 A40): the survivor keeps its MRN and gains the
/// retired one's, so both find it; the retired record redirects to it and leaves lists and
/// search. One transaction, under both versions.
pub async fn merge<P: Ports>(
    ports: &P,
    staff: &Staff,
    survivor_id: &str,
    retired_id: &str,
    purpose: Purpose,
) -> Result<Opened, DomainError> {
    if survivor_id == retired_id {
        return Err(DomainError::invalid(
            "MRG",
            "a record cannot be merged into itself",
        ));
    }
    staff.may_write()?;
    let (survivor, _) = read_scoped(ports, staff, survivor_id, false).await?;
    let (retired, _) = read_scoped(ports, staff, retired_id, false).await?;
    if survivor.hospital_id() != retired.hospital_id() {
        return Err(DomainError::NotFound("patient".into()));
    }
    let hospital_id = survivor.hospital_id().to_owned();
    let index = blind_index::load(ports).await?;
    let mut sealed = survivor.sealed.clone();
    for mrn in std::iter::once(&retired.sealed.mrn).chain(&retired.sealed.other_mrns) {
        if *mrn != sealed.mrn && !sealed.other_mrns.contains(mrn) {
            sealed.other_mrns.push(mrn.clone());
        }
    }
    let envelope = store::seal(ports, survivor_id, &hospital_id, &sealed).await?;
    let old = store::listed_entries(&survivor.item);
    let new = store::entries(&index, &hospital_id, &sealed);
    let mut item = survivor.item.clone();
    envelope.write_to(&mut item, store::SEALED);
    let version = survivor.version();
    item.set("version", Value::n(version + 1));
    item.set("updated_at", Value::s(ports.clock().now().to_rfc3339()));
    item.set("tokens", store::listed_value(&new));
    let retired_version = retired.version();
    let now = ports.clock().now().to_rfc3339();
    let mut ops = vec![
        TransactOp::Put {
            item: item.clone(),
            condition: Some(Condition::version_is(version)),
        },
        TransactOp::Update {
            key: store::key(retired_id),
            update: Update::new()
                .set("status", Value::s(Status::Merged.as_str()))
                .set("merged_into", Value::s(survivor_id))
                .set("version", Value::n(retired_version + 1))
                .set("updated_at", Value::s(&now))
                .set("tokens", Value::L(Vec::new()))
                .remove("gsi1pk")
                .remove("gsi1sk"),
            condition: Some(Condition::And(vec![
                Condition::version_is(retired_version),
                Condition::equals("status", Value::s(Status::Active.as_str())),
            ])),
        },
        history_op(
            ports,
            survivor_id,
            "merged",
            &staff.user_id,
            Some(&format!("from {retired_id}")),
        )
        .await,
        history_op(
            ports,
            retired_id,
            "merged",
            &staff.user_id,
            Some(&format!("into {survivor_id}")),
        )
        .await,
    ];
    ops.extend(index_deletes(
        &old.iter()
            .filter(|e| !new.contains(e))
            .cloned()
            .collect::<Vec<_>>(),
        survivor_id,
    ));
    ops.extend(index_puts(&new, survivor_id));
    ops.extend(index_deletes(
        &store::listed_entries(&retired.item),
        retired_id,
    ));
    ports
        .table()
        .transact_write(ops)
        .await
        .map_err(|e| stale_or(e, version))?;
    audit_access(
        ports,
        staff,
        "patient.merged",
        purpose,
        &[(survivor_id, &hospital_id), (retired_id, &hospital_id)],
    )
    .await?;
    Ok(Opened {
        id: survivor_id.to_owned(),
        item,
        sealed,
    })
}
