//! Handing an alert to the notification pipeline, transactional-outbox style. The event is
//! written as an outbox item in the same transaction as the alert change, so a stored alert
//! always has its pending notification; it is then published to the alerts topic and the
//! outbox item deleted. An item left behind by a crash or an outage is still in the `OUTBOX`
//! view of GSI2 for the relay to publish.
//!
//! Events carry ids only: the channel workers read the alert for what they need, so no
//! personal or medical data sits in queues.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Timestamp;
use crate::catalogue::ALERTS_TOPIC;
use crate::emergencies::alert::Alert;
use crate::hospitals::Channel;
use crate::item::{Item, Key, Value, value_to_json};
use crate::ports::{Condition, Index, Ports, Publisher, Query, Table, TableError};

pub const ALERT_MATCHED: &str = "alert.matched";
pub const ALERT_CANCELLED: &str = "alert.cancelled";
/// The GSI2 partition listing undelivered events.
pub const OUTBOX: &str = "OUTBOX";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEvent {
    pub event: &'static str,
    pub alert_id: String,
    pub hospital_id: String,
    pub status: &'static str,
    pub priority: &'static str,
    pub emergency_type: &'static str,
    pub at: String,
}

/// The outbox item of one event about `alert`, for `hospital_id`, told on `channels`.
pub fn outbox_item(
    alert: &Alert,
    event: &'static str,
    hospital_id: &str,
    channels: &[Channel],
    now: Timestamp,
    event_id: &str,
) -> Item {
    let message = AlertEvent {
        event,
        alert_id: alert.alert_id.clone(),
        hospital_id: hospital_id.to_owned(),
        status: alert.status.as_str(),
        priority: alert.priority.as_str(),
        emergency_type: alert.emergency_type.as_str(),
        at: now.to_rfc3339(),
    };
    let mut channels: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
    if !channels.contains(&Channel::HospitalApi.as_str()) {
        channels.push(Channel::HospitalApi.as_str());
    }
    let attributes = BTreeMap::from([
        (
            "channels".to_owned(),
            Value::s(serde_json::to_string(&channels).unwrap_or_default()),
        ),
        ("event".to_owned(), Value::s(event)),
        ("priority".to_owned(), Value::s(alert.priority.as_str())),
    ]);
    Item::new(&Key::new(
        format!("ALERT#{}", alert.alert_id),
        format!("OUTBOX#{event_id}"),
    ))
    .with("gsi2pk", Value::s(OUTBOX))
    .with(
        "gsi2sk",
        Value::s(format!(
            "{}#{}#{event_id}",
            now.to_rfc3339(),
            alert.alert_id
        )),
    )
    .with("topic", Value::s(ALERTS_TOPIC))
    .with(
        "message",
        Value::s(serde_json::to_string(&message).unwrap_or_default()),
    )
    .with("attributes", Value::M(attributes))
}

/// The item that lets a hospital's staff find an alert routed to them, newest first.
pub fn routing_item(alert: &Alert, hospital_id: &str, now: Timestamp) -> Item {
    Item::new(&Key::new(
        format!("HOSPITAL#{hospital_id}"),
        format!("ALERT#{}#{}", alert.created_at, alert.alert_id),
    ))
    .with("alert_id", Value::s(&alert.alert_id))
    .with("routed_at", Value::s(now.to_rfc3339()))
}

/// Publishes outbox items and deletes each once published. Returns how many were
/// delivered; the rest stay for the relay (a failed publish is not the caller's error: the
/// alert is stored either way).
pub async fn deliver<P: Ports>(ports: &P, items: &[Item]) -> usize {
    let mut delivered = 0;
    for item in items {
        match publish_one(ports, item).await {
            Ok(()) => delivered += 1,
            // Ids only: the outbox key names the alert and the event, nothing personal.
            Err(error) => tracing::warn!(
                outbox = item.s("pk").unwrap_or_default(),
                event = item.s("sk").unwrap_or_default(),
                %error,
                "alert event not published; it stays in the outbox for the relay"
            ),
        }
    }
    delivered
}

async fn publish_one<P: Ports>(ports: &P, item: &Item) -> Result<(), String> {
    let key = item.key().ok_or("an outbox item without a key")?;
    let topic = item.s("topic").ok_or("no topic")?;
    let message = item.s("message").ok_or("no message")?;
    let attributes: BTreeMap<String, String> = match item.get("attributes") {
        Some(Value::M(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_s()?.to_owned())))
            .collect(),
        _ => BTreeMap::new(),
    };
    ports
        .publisher()
        .publish(topic, message, &attributes)
        .await
        .map_err(|e| e.to_string())?;
    // Delivered at least once; a second publish after a crash here is for the consumers'
    // idempotency (they key on alert and event).
    match ports
        .table()
        .delete(&key, Some(Condition::item_present()))
        .await
    {
        Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Undelivered events, oldest first: what the relay works through.
pub async fn pending<P: Ports>(ports: &P, limit: u32) -> Result<Vec<Item>, TableError> {
    Ok(ports
        .table()
        .query(Query::partition(OUTBOX).on(Index::Gsi2).limit(limit))
        .await?
        .items)
}

/// The message body of an outbox item, as JSON (for tests and the relay's logs).
pub fn message_of(item: &Item) -> Option<serde_json::Value> {
    item.get("message")
        .map(value_to_json)
        .and_then(|m| m.as_str().and_then(|s| serde_json::from_str(s).ok()))
}
