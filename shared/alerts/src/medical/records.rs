//! Storing, reading, erasing and break-glass reading the medical profile. The profile is one
//! envelope (its own data key, AES-256-GCM, the encryption context bound as associated data
//! and passed to the key ring); the item around it holds only the owner's id, a version and
//! a time. See docs/encryption.md.

use std::time::Duration;

use serde::Serialize;

use crate::emergencies::alert::Alert;
use crate::medical::profile::MedicalProfile;
use haven_kernel::audit::{self, AuditEvent};
use haven_kernel::envelope::{self, Envelope};
use haven_kernel::error::DomainError;
use haven_kernel::item::{Item, Key, Value};
use haven_kernel::ports::{Condition, Cursor, EncryptionContext, Ports, Query, Table, TableError};
use haven_kernel::roles::Role;

pub const RECORD_KIND: &str = "medical-profile";
/// The version of the sealed JSON's shape, bound into the encryption context.
pub const SCHEMA_VERSION: &str = "1";
const PREFIX: &str = "profile";
/// Staff of a hospital an alert was routed to may still read the profile this long after
/// the alert closed or was cancelled (handover, paperwork).
pub const BREAK_GLASS_GRACE: Duration = Duration::from_secs(60 * 60);

pub fn key(owner_id: &str) -> Key {
    Key::new(format!("USER#{owner_id}"), "MEDICAL#PROFILE")
}

/// Whose record, what kind, which shape: a key unwraps, and the ciphertext opens, only under
/// exactly this context.
pub fn context(owner_id: &str) -> EncryptionContext {
    EncryptionContext::new()
        .with("owner_id", owner_id)
        .with("record_kind", RECORD_KIND)
        .with("schema_version", SCHEMA_VERSION)
}

/// A profile as read: the profile and the version its ETag names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredProfile {
    #[serde(flatten)]
    pub profile: MedicalProfile,
    pub version: i64,
    pub updated_at: String,
}

fn today<P: Ports>(ports: &P) -> String {
    ports.clock().now().to_rfc3339()[..10].to_owned()
}

async fn seal<P: Ports>(
    ports: &P,
    owner_id: &str,
    profile: &MedicalProfile,
    version: i64,
) -> Result<Item, DomainError> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(profile).unwrap_or_default());
    let sealed = envelope::seal(ports.key_ring(), &context(owner_id), &plain)
        .await
        .map_err(|_| DomainError::Unavailable("encryption keys are unavailable".into()))?;
    let mut item = Item::new(&key(owner_id))
        .with("kind", Value::s(RECORD_KIND))
        .with("version", Value::n(version))
        .with("updated_at", Value::s(ports.clock().now().to_rfc3339()));
    sealed.write_to(&mut item, PREFIX);
    Ok(item)
}

/// Opens a stored profile. Anything that is not exactly what was sealed for this owner (a
/// changed byte, an envelope moved from another owner's item) is `Unreadable`, never data.
async fn open<P: Ports>(
    ports: &P,
    owner_id: &str,
    item: &Item,
) -> Result<StoredProfile, DomainError> {
    let sealed = Envelope::read_from(item, PREFIX).ok_or(DomainError::Unreadable)?;
    let plain = envelope::open(ports.key_ring(), &context(owner_id), &sealed).await?;
    let profile: MedicalProfile =
        serde_json::from_slice(&plain).map_err(|_| DomainError::Unreadable)?;
    Ok(StoredProfile {
        profile,
        version: item.i64("version").unwrap_or(0),
        updated_at: item.s("updated_at").unwrap_or_default().to_owned(),
    })
}

async fn audit_event<P: Ports>(
    ports: &P,
    action: &'static str,
    outcome: &'static str,
    actor: &str,
    subject: &str,
    detail: Option<String>,
) -> Result<(), DomainError> {
    let mut event = AuditEvent::new(action, outcome)
        .actor(actor)
        .subject(subject);
    if let Some(d) = detail {
        event = event.detail(d);
    }
    audit::record(ports, event).await
}

/// `POST /medical-profile`: the first profile of its owner (409 if there is one).
pub async fn create<P: Ports>(
    ports: &P,
    owner_id: &str,
    profile: MedicalProfile,
) -> Result<StoredProfile, DomainError> {
    profile.validate(&today(ports))?;
    let item = seal(ports, owner_id, &profile, 1).await?;
    match ports
        .table()
        .put(item, Some(Condition::item_absent()))
        .await
    {
        Ok(()) => {}
        Err(TableError::ConditionFailed) => {
            return Err(DomainError::conflict(
                "a medical profile exists; change it with PUT",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    audit_event(
        ports,
        "medical.created",
        "success",
        owner_id,
        owner_id,
        None,
    )
    .await?;
    read(ports, owner_id).await
}

/// `GET /medical-profile`.
pub async fn read<P: Ports>(ports: &P, owner_id: &str) -> Result<StoredProfile, DomainError> {
    let item = ports
        .table()
        .get(&key(owner_id))
        .await?
        .ok_or_else(|| DomainError::NotFound("medical profile".into()))?;
    open(ports, owner_id, &item).await
}

/// `PUT /medical-profile` with `If-Match`: replaces the profile if it is still at
/// `expected_version`, so two devices cannot silently overwrite each other.
pub async fn replace<P: Ports>(
    ports: &P,
    owner_id: &str,
    profile: MedicalProfile,
    expected_version: Option<i64>,
) -> Result<StoredProfile, DomainError> {
    let expected = expected_version.ok_or(DomainError::VersionRequired)?;
    profile.validate(&today(ports))?;
    let current = ports
        .table()
        .get(&key(owner_id))
        .await?
        .ok_or_else(|| DomainError::NotFound("medical profile".into()))?;
    let stale = |now: i64| {
        DomainError::stale(
            format!("the profile is at version {now}, not {expected}; read it again"),
            now,
        )
    };
    let now_version = current.i64("version").unwrap_or(0);
    if now_version != expected {
        return Err(stale(now_version));
    }
    let item = seal(ports, owner_id, &profile, expected + 1).await?;
    match ports
        .table()
        .put(item, Some(Condition::version_is(expected)))
        .await
    {
        Ok(()) => {}
        Err(TableError::ConditionFailed) => return Err(stale(expected + 1)),
        Err(e) => return Err(e.into()),
    }
    audit_event(
        ports,
        "medical.updated",
        "success",
        owner_id,
        owner_id,
        None,
    )
    .await?;
    read(ports, owner_id).await
}

/// `DELETE /medical-profile`: the record goes, and with it its wrapped data key, so no copy
/// of the ciphertext (a backup included) can be opened by Haven again. Nothing derived from
/// the profile is stored elsewhere (the FHIR export is built per request). The audit trail
/// keeps that it happened, not what was erased.
pub async fn erase<P: Ports>(ports: &P, owner_id: &str) -> Result<(), DomainError> {
    match ports
        .table()
        .delete(&key(owner_id), Some(Condition::item_present()))
        .await
    {
        Ok(_) => {}
        Err(TableError::ConditionFailed) => {
            return Err(DomainError::NotFound("medical profile".into()));
        }
        Err(e) => return Err(e.into()),
    }
    audit_event(ports, "medical.erased", "success", owner_id, owner_id, None).await
}

/// Staff asking to break the glass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub user_id: String,
    pub role: Role,
    pub hospital_id: Option<String>,
}

impl Reader {
    pub fn of(claims: &haven_identity_core::tokens::Claims) -> Self {
        Reader {
            user_id: claims.sub.clone(),
            role: claims.role,
            hospital_id: claims.hospital_id.clone(),
        }
    }
}

/// `GET /emergency/{alert_id}/medical-profile`: the clinical staff of a hospital the alert
/// was routed to read the patient's profile while the alert is open and for
/// [`BREAK_GLASS_GRACE`] after it ends. Every read and every refusal is audited under the
/// patient, so they can see it.
pub async fn break_glass<P: Ports>(
    ports: &P,
    reader: &Reader,
    alert_id: &str,
) -> Result<StoredProfile, DomainError> {
    let alert = match crate::emergencies::trigger::load_alert(ports, alert_id).await {
        Ok((alert, _)) => alert,
        Err(DomainError::NotFound(_)) => {
            audit_event(
                ports,
                "medical.break_glass",
                "refused",
                &reader.user_id,
                &reader.user_id,
                Some(format!("alert {alert_id} does not exist")),
            )
            .await?;
            return Err(DomainError::NotFound("alert".into()));
        }
        Err(e) => return Err(e),
    };
    let detail = format!(
        "alert {alert_id}; role {}; hospital {}",
        reader.role.as_str(),
        reader.hospital_id.as_deref().unwrap_or("none")
    );
    if let Err(why) = may_break_glass(ports, reader, &alert) {
        audit_event(
            ports,
            "medical.break_glass",
            "refused",
            &reader.user_id,
            &alert.patient_id,
            Some(format!("{detail}; {why}")),
        )
        .await?;
        return Err(DomainError::Forbidden);
    }
    let profile = read(ports, &alert.patient_id).await?;
    audit_event(
        ports,
        "medical.break_glass",
        "success",
        &reader.user_id,
        &alert.patient_id,
        Some(detail),
    )
    .await?;
    Ok(profile)
}

fn may_break_glass<P: Ports>(
    ports: &P,
    reader: &Reader,
    alert: &Alert,
) -> Result<(), &'static str> {
    if !matches!(
        reader.role,
        Role::Nurse | Role::Doctor | Role::HospitalAdmin
    ) {
        return Err("not clinical staff of a hospital");
    }
    let routed = reader
        .hospital_id
        .as_ref()
        .is_some_and(|h| alert.routed_to.contains(h));
    if !routed {
        return Err("the alert was not routed to this hospital");
    }
    if alert.status.is_open() {
        return Ok(());
    }
    let ended = alert
        .timeline
        .last()
        .and_then(|t| haven_kernel::Timestamp::parse_rfc3339(&t.at));
    match ended {
        Some(at) if ports.clock().now() <= at.plus(BREAK_GLASS_GRACE) => Ok(()),
        _ => Err("the break-glass window has closed"),
    }
}

/// One line of `GET /medical-profile/access-log`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Access {
    pub at: String,
    pub action: String,
    pub outcome: String,
    pub actor: Option<String>,
    /// For a disclosure: the hospital the profile went to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessLog {
    pub entries: Vec<Access>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The owner's medical audit trail, newest first: their own changes, and every break-glass
/// read or refusal by staff.
pub async fn access_log<P: Ports>(
    ports: &P,
    owner_id: &str,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<AccessLog, DomainError> {
    let page = ports
        .table()
        .query(
            Query::partition(format!("AUDIT#{owner_id}"))
                .backward()
                .limit(limit.clamp(1, 100))
                .after(cursor),
        )
        .await?;
    let entries = page
        .items
        .iter()
        .filter(|i| i.s("action").is_some_and(|a| a.starts_with("medical.")))
        .map(|i| Access {
            at: i.s("at").unwrap_or_default().to_owned(),
            action: i.s("action").unwrap_or_default().to_owned(),
            outcome: i.s("outcome").unwrap_or_default().to_owned(),
            actor: i.s("actor").map(str::to_owned),
            recipient: i.s("recipient").map(str::to_owned),
            detail: i.s("detail").map(str::to_owned),
        })
        .collect();
    Ok(AccessLog {
        entries,
        next_cursor: page.cursor.map(|c| c.as_str().to_owned()),
    })
}

/// `GET /medical-profile/fhir`: the profile as a FHIR R4 Bundle, with the account's name.
pub async fn fhir_export<P: Ports>(
    ports: &P,
    owner_id: &str,
) -> Result<serde_json::Value, DomainError> {
    let stored = read(ports, owner_id).await?;
    let user = haven_identity_core::accounts::find_by_id(ports, owner_id)
        .await?
        .ok_or_else(|| DomainError::NotFound("account".into()))?;
    let patient = crate::medical::fhir::PatientFacts {
        id: owner_id,
        full_name: &user.full_name,
        phone: user.phone.as_deref(),
    };
    Ok(crate::medical::fhir::bundle(
        &patient,
        &stored.profile,
        &ports.clock().now().to_rfc3339(),
    ))
}
