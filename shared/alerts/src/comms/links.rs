//! Acknowledgement links: a hospital answers from an SMS or a webhook payload without
//! signing in. The link carries a 128-bit random token; only its SHA-256 is stored (with the
//! alert and hospital it answers for, and an expiry), so the table cannot be used to forge
//! one. Opening the link (GET) only shows the alert; answering takes a POST, so link
//! previewers in messaging apps cannot accept an alert by fetching it.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use haven_kernel::error::DomainError;
use haven_kernel::item::{EXPIRES_AT, Item, Key, Value};
use haven_kernel::ports::{Condition, Ports, Table};

/// A link stays good for two hours: long after any alert has found its hospital (an accept
/// still counts after the deadline), and short enough that a forwarded text soon shows
/// nothing. It is single-purpose: one alert, one hospital, answer or look.
pub const LINK_LIFETIME: Duration = Duration::from_secs(2 * 3600);
/// The path under the public URL; the token follows.
pub const PATH: &str = "/api/v1/hospital/comms/ack/";

fn key(token: &str) -> Key {
    let digest = Sha256::digest(token.as_bytes());
    Key::new(
        format!("ACKLINK#{}", data_encoding::HEXLOWER.encode(&digest)),
        "ACKLINK",
    )
}

/// Makes a link for `hospital_id` to answer `alert_id`; returns its URL.
pub async fn issue<P: Ports>(
    ports: &P,
    alert_id: &str,
    hospital_id: &str,
) -> Result<String, DomainError> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let expires = ports.clock().now().plus(LINK_LIFETIME).epoch_seconds();
    let item = Item::new(&key(&token))
        .with("alert_id", Value::s(alert_id))
        .with("hospital_id", Value::s(hospital_id))
        .with(EXPIRES_AT, Value::n(expires));
    ports
        .table()
        .put(item, Some(Condition::item_absent()))
        .await?;
    Ok(format!(
        "{}{PATH}{token}",
        ports.comms().public_base_url.trim_end_matches('/')
    ))
}

/// The alert and hospital a token answers for; not found when unknown or expired.
pub async fn resolve<P: Ports>(ports: &P, token: &str) -> Result<(String, String), DomainError> {
    resolve_with_expiry(ports, token)
        .await
        .map(|(alert, hospital, _)| (alert, hospital))
}

/// As [`resolve`], with the link's expiry (epoch seconds).
async fn resolve_with_expiry<P: Ports>(
    ports: &P,
    token: &str,
) -> Result<(String, String, i64), DomainError> {
    let not_found = || DomainError::NotFound("acknowledgement link".into());
    if token.len() != 22
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(not_found());
    }
    let now = ports.clock().now().epoch_seconds();
    let item = ports
        .table()
        .get(&key(token))
        .await?
        .filter(|i| !i.is_expired(now))
        .ok_or_else(not_found)?;
    let expires = item
        .get(EXPIRES_AT)
        .and_then(Value::as_i64)
        .unwrap_or_default();
    match (item.s("alert_id"), item.s("hospital_id")) {
        (Some(a), Some(h)) => Ok((a.to_owned(), h.to_owned(), expires)),
        _ => Err(not_found()),
    }
}

/// Where the hospital stands with the alert, as its answer page says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// The alert is offered to this hospital and its answer is awaited.
    Awaiting,
    /// No answer came in time and the alert went on to another hospital, which has not
    /// accepted yet: an accept now still brings the patient here.
    MovedOn,
    /// This hospital accepted.
    Accepted,
    /// This hospital declined.
    Declined,
    /// Another hospital accepted.
    TakenElsewhere,
    /// The alert was cancelled or is over.
    Closed,
}

/// What an acknowledgement link shows: never more than the webhook carries, and the clinical
/// details only while they help this hospital decide or prepare. The patient's medical
/// profile is not on the page (the signed webhook and the signed-in inbox carry it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LinkView {
    pub alert_id: String,
    pub hospital_id: String,
    /// The hospital being asked, as it was matched.
    pub hospital_name: String,
    pub status: crate::emergencies::alert::Status,
    pub priority: crate::emergencies::alert::Priority,
    pub emergency_type: crate::emergencies::alert::EmergencyType,
    pub location: crate::comms::packet::PacketLocation,
    pub distance_km: f64,
    pub eta_minutes: f64,
    pub offered_at: String,
    /// When the alert moves on without an answer, while one is awaited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_due_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_left: Option<i64>,
    pub state: LinkState,
    /// This hospital's answer, once given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<crate::comms::Answer>,
    /// The hospital that accepted, when another did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_by: Option<String>,
    pub can_answer: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clinical: Option<crate::comms::clinical::ClinicalPicture>,
    /// When this link stops working.
    pub link_expires_at: String,
    /// How to answer: POST `{decision: "accept" | "decline", reason?}` to the same URL, as
    /// JSON or as a form.
    pub answer_with: &'static str,
}

/// `GET` on a link: the alert it answers, and where this hospital stands with it.
pub async fn show<P: Ports>(ports: &P, token: &str) -> Result<LinkView, DomainError> {
    let (alert_id, hospital_id, expires) = resolve_with_expiry(ports, token).await?;
    let (alert, sealed) = crate::emergencies::trigger::load_alert(ports, &alert_id).await?;
    let latest = alert.offers.len();
    let (index, offer) = alert
        .offers
        .iter()
        .enumerate()
        .rev()
        .find(|(_, o)| o.hospital_id() == hospital_id)
        .ok_or_else(|| DomainError::NotFound("acknowledgement link".into()))?;
    let now = ports.clock().now();
    let accepted_elsewhere = alert
        .hospital
        .as_ref()
        .filter(|h| h.hospital_id != hospital_id && !alert.awaits_answer())
        .map(|h| h.name.clone());
    use crate::comms::Decision;
    use crate::emergencies::alert::Status;
    let state = match (&offer.answer, alert.status) {
        (_, Status::Cancelled | Status::Closed) => LinkState::Closed,
        (Some(a), _) if a.decision == Decision::Accept => LinkState::Accepted,
        (Some(_), _) => LinkState::Declined,
        (None, _) if !alert.awaits_answer() && accepted_elsewhere.is_some() => {
            LinkState::TakenElsewhere
        }
        (None, _) if !alert.awaits_answer() => LinkState::Closed,
        (None, _) if index + 1 < latest || offer.expired_at.is_some() => LinkState::MovedOn,
        (None, _) => LinkState::Awaiting,
    };
    let due = (state == LinkState::Awaiting)
        .then(|| haven_kernel::Timestamp::parse_rfc3339(&offer.offered_at))
        .flatten()
        .map(|t| t.plus(ports.comms().ack_deadline));
    let clinical = if matches!(
        state,
        LinkState::Awaiting | LinkState::MovedOn | LinkState::Accepted
    ) {
        let details = crate::emergencies::trigger::open_clinical(ports, &alert, sealed.as_ref())
            .await
            .map_err(|e| {
                tracing::warn!(alert_id = %alert.alert_id, error = %e, "clinical details not readable for the answer page");
                e
            })
            .ok();
        details
            .map(|d| crate::comms::clinical::ClinicalPicture::of(&d, None, &now.to_rfc3339()[..10]))
    } else {
        None
    };
    Ok(LinkView {
        alert_id: alert.alert_id.clone(),
        hospital_id: hospital_id.clone(),
        hospital_name: offer.hospital.name.clone(),
        status: alert.status,
        priority: alert.priority,
        emergency_type: alert.emergency_type,
        location: crate::comms::packet::PacketLocation {
            latitude: alert.location.latitude,
            longitude: alert.location.longitude,
        },
        distance_km: offer.hospital.distance_km,
        eta_minutes: offer.hospital.eta_minutes,
        offered_at: offer.offered_at.clone(),
        answer_due_at: due.map(|t| t.to_rfc3339()),
        seconds_left: due.map(|t| (t.epoch_seconds() - now.epoch_seconds()).max(0)),
        can_answer: matches!(state, LinkState::Awaiting | LinkState::MovedOn),
        state,
        answer: offer.answer.clone(),
        accepted_by: accepted_elsewhere,
        clinical,
        link_expires_at: haven_kernel::Timestamp::from_millis(expires * 1000).to_rfc3339(),
        answer_with: "POST {\"decision\": \"accept\" | \"decline\", \"reason\"?: text} to this URL, as JSON or as a form",
    })
}
