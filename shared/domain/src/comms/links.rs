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

use crate::error::DomainError;
use crate::item::{EXPIRES_AT, Item, Key, Value};
use crate::ports::{Condition, Ports, Table};

/// A link stays good for a day: long after any alert has found its hospital.
pub const LINK_LIFETIME: Duration = Duration::from_secs(24 * 3600);
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
    match (item.s("alert_id"), item.s("hospital_id")) {
        (Some(a), Some(h)) => Ok((a.to_owned(), h.to_owned())),
        _ => Err(not_found()),
    }
}

/// What an acknowledgement link shows before it is used.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LinkView {
    pub alert_id: String,
    pub hospital_id: String,
    pub status: crate::emergencies::alert::Status,
    pub priority: crate::emergencies::alert::Priority,
    pub emergency_type: crate::emergencies::alert::EmergencyType,
    pub location: crate::comms::packet::PacketLocation,
    /// How to answer: POST `{decision: "accept" | "decline", reason?}` to the same URL.
    pub answer_with: &'static str,
}

/// `GET` on a link: the alert it answers, in brief.
pub async fn show<P: Ports>(ports: &P, token: &str) -> Result<LinkView, DomainError> {
    let (alert_id, hospital_id) = resolve(ports, token).await?;
    let (alert, _) = crate::emergencies::trigger::load_alert(ports, &alert_id).await?;
    Ok(LinkView {
        alert_id: alert.alert_id,
        hospital_id,
        status: alert.status,
        priority: alert.priority,
        emergency_type: alert.emergency_type,
        location: crate::comms::packet::PacketLocation {
            latitude: alert.location.latitude,
            longitude: alert.location.longitude,
        },
        answer_with: "POST {\"decision\": \"accept\" | \"decline\", \"reason\"?: text} to this URL",
    })
}
