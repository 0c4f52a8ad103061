//! How a patient sits in the one table. The item holds the hospital, the state, the version
//! and the blind-index tokens; everything personal (names, MRNs, contacts, identifiers) is
//! one envelope under the patient's own data key, bound to the patient and the hospital.
//!
//! | item | pk | sk | what |
//! | --- | --- | --- | --- |
//! | patient | `PATIENT#{id}` | `PATIENT` | state, version, tokens, `details_*` envelope; `gsi1` `PATIENTS#{hospital}` / `{id}` while active |
//! | history | `PATIENT#{id}` | `HISTORY#{at}#{event id}` | what happened to the record, by whom (no personal data) |
//! | index entry | `PIDX#{token}` | `{rank}#{id}` | one per search token of an active patient |
//! | MRN sequence | `MRNSEQ#{hospital}` | `SEQUENCE` | the last number issued and the hospital's prefix |

use serde::{Deserialize, Serialize};

use crate::names::{self, Rank};
use crate::record::PatientDetails;
use haven_kernel::DomainError;
use haven_kernel::blind_index::BlindIndex;
use haven_kernel::envelope::{self, Envelope};
use haven_kernel::item::{Item, Key, Value};
use haven_kernel::ports::{DataKey, EncryptionContext, KeyRing, Ports};

pub const RECORD_KIND: &str = "patient";
const SCHEMA_VERSION: &str = "1";
pub const SEALED: &str = "details";

/// The record's key, as the kernel publishes it to other contexts (`refs::patient_record`).
pub fn key(patient_id: &str) -> Key {
    haven_kernel::refs::patient_record(patient_id)
}

pub fn sequence_key(hospital_id: &str) -> Key {
    Key::new(format!("MRNSEQ#{hospital_id}"), "SEQUENCE")
}

pub fn list_partition(hospital_id: &str) -> String {
    format!("PATIENTS#{hospital_id}")
}

/// The partition deleted records are listed under, for an admin to restore.
pub fn deleted_partition(hospital_id: &str) -> String {
    format!("PATIENTS_DELETED#{hospital_id}")
}

pub fn history_key(patient_id: &str, at: &str, event_id: &str) -> Key {
    Key::new(
        format!("PATIENT#{patient_id}"),
        format!("HISTORY#{at}#{event_id}"),
    )
}

pub fn index_key(entry: &IndexEntry, patient_id: &str) -> Key {
    Key::new(
        format!("PIDX#{}", entry.token),
        format!("{}#{patient_id}", entry.rank_digit()),
    )
}

/// Whose record, which hospital, which shape: the key unwraps only under exactly this.
pub fn context(patient_id: &str, hospital_id: &str) -> EncryptionContext {
    EncryptionContext::new()
        .with("record_kind", RECORD_KIND)
        .with("patient_id", patient_id)
        .with("hospital_id", hospital_id)
        .with("schema_version", SCHEMA_VERSION)
}

/// What the envelope holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub mrn: String,
    /// MRNs of records merged into this one (HL7 A40): each still finds it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_mrns: Vec<String>,
    pub details: PatientDetails,
}

pub async fn seal<P: Ports>(
    ports: &P,
    patient_id: &str,
    hospital_id: &str,
    sealed: &Sealed,
) -> Result<Envelope, DomainError> {
    let key = data_key(ports, patient_id, hospital_id).await?;
    seal_under(&key, patient_id, hospital_id, sealed)
}

/// A fresh data key for a patient's record.
pub async fn data_key<P: Ports>(
    ports: &P,
    patient_id: &str,
    hospital_id: &str,
) -> Result<DataKey, DomainError> {
    ports
        .key_ring()
        .generate_data_key(&context(patient_id, hospital_id))
        .await
        .map_err(|_| DomainError::Unavailable("encryption keys are unavailable".into()))
}

/// Seals under a key from [`data_key`]: a create that loses the race for an MRN seals the
/// next try under the same key.
pub fn seal_under(
    key: &DataKey,
    patient_id: &str,
    hospital_id: &str,
    sealed: &Sealed,
) -> Result<Envelope, DomainError> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(sealed).unwrap_or_default());
    envelope::seal_under(key, &context(patient_id, hospital_id), &plain)
        .map_err(|_| DomainError::Unavailable("encryption keys are unavailable".into()))
}

/// Opens a patient item; anything but what was sealed for this patient is `Unreadable`.
pub async fn open<P: Ports>(
    ports: &P,
    patient_id: &str,
    item: &Item,
) -> Result<Sealed, DomainError> {
    let hospital_id = item.s("hospital_id").ok_or(DomainError::Unreadable)?;
    let envelope = Envelope::read_from(item, SEALED).ok_or(DomainError::Unreadable)?;
    let plain = envelope::open(
        ports.key_ring(),
        &context(patient_id, hospital_id),
        &envelope,
    )
    .await?;
    serde_json::from_slice(&plain).map_err(|_| DomainError::Unreadable)
}

/// One search token of a record, with how well it matches what was indexed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexEntry {
    pub rank: u8,
    pub token: String,
}

impl IndexEntry {
    fn rank_digit(&self) -> char {
        (b'0' + self.rank) as char
    }
    /// As listed on the patient item (`{rank}:{token}`), so the entries can be removed and
    /// put back without opening the record.
    pub fn listed(&self) -> String {
        format!("{}:{}", self.rank_digit(), self.token)
    }
    pub fn from_listed(text: &str) -> Option<Self> {
        let (rank, token) = text.split_once(':')?;
        Some(IndexEntry {
            rank: rank.parse().ok()?,
            token: token.to_owned(),
        })
    }
}

/// Ranks: 0 for a whole value (a name word, an MRN, a phone, an identifier), 1 for a prefix.
pub const EXACT: u8 = 0;
pub const PREFIX: u8 = 1;

/// The kinds of token, each its own HMAC domain.
pub mod kind {
    pub const NAME: &str = "name";
    pub const MRN: &str = "mrn";
    pub const PHONE: &str = "phone";
    pub const EMAIL: &str = "email";
    /// Any identifier, whatever its type: staff search by the number they hold.
    pub const IDENTIFIER: &str = "identifier";
}

/// Every token a record is found by, each once with its best rank.
pub fn entries(index: &BlindIndex, hospital_id: &str, sealed: &Sealed) -> Vec<IndexEntry> {
    let mut out: Vec<IndexEntry> = Vec::new();
    let mut add = |kind: &str, value: &str, rank: u8| {
        let token = index.token(hospital_id, kind, value);
        match out.iter_mut().find(|e| e.token == token) {
            Some(e) => e.rank = e.rank.min(rank),
            None => out.push(IndexEntry { rank, token }),
        }
    };
    for (term, rank) in names::index_terms(&sealed.details.name_words()) {
        add(
            kind::NAME,
            &term,
            if rank == Rank::Exact { EXACT } else { PREFIX },
        );
    }
    // At most two merged MRNs are indexed, so that an update of every field still fits one
    // transaction (DynamoDB: 100 items).
    for mrn in std::iter::once(&sealed.mrn).chain(sealed.other_mrns.iter().take(2)) {
        add(kind::MRN, mrn, EXACT);
    }
    if let Some(phone) = &sealed.details.phone {
        add(kind::PHONE, phone, EXACT);
    }
    if let Some(email) = &sealed.details.email {
        add(kind::EMAIL, email, EXACT);
    }
    for id in &sealed.details.identifiers {
        add(kind::IDENTIFIER, &id.value, EXACT);
    }
    out.sort();
    out
}

/// Characters of each token kept in a record's signature: 36 bits, so a word is mistaken for
/// another in one signature about once in 10^10 (and the opened record is checked anyway).
const SIGNATURE_CHARS: usize = 6;

/// A record's tokens cut short, carried on each of its index entries (`sig`): a search for
/// several words reads one word's entries and keeps those whose record also has the other
/// words, without reading the records.
pub fn signature(entries: &[IndexEntry]) -> String {
    let mut short: Vec<&str> = entries
        .iter()
        .map(|e| &e.token[..SIGNATURE_CHARS.min(e.token.len())])
        .collect();
    short.sort_unstable();
    short.dedup();
    short.join(",")
}

/// Whether a signature holds `token`.
pub fn signature_has(signature: &str, token: &str) -> bool {
    let short = &token[..SIGNATURE_CHARS.min(token.len())];
    signature.split(',').any(|s| s == short)
}

pub fn listed_entries(item: &Item) -> Vec<IndexEntry> {
    match item.get("tokens") {
        Some(Value::L(list)) => list
            .iter()
            .filter_map(Value::as_s)
            .filter_map(IndexEntry::from_listed)
            .collect(),
        _ => Vec::new(),
    }
}

pub fn listed_value(entries: &[IndexEntry]) -> Value {
    Value::L(entries.iter().map(|e| Value::s(e.listed())).collect())
}
