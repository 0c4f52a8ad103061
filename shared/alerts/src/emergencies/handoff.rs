//! Handing an alert to the notification pipeline, transactional-outbox style. The event is
//! written as an outbox item in the same transaction as the alert change, so a stored alert
//! always has its pending notification; it is then published to the alerts topic and the
//! outbox item deleted. An item left behind by a crash or an outage is still in the `OUTBOX`
//! view of GSI2 for the relay to publish.
//!
//! Events carry ids only: the channel workers read the alert for what they need, so no
//! personal or medical data sits in queues.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::comms::DeadlineMessage;
use crate::emergencies::alert::Alert;
use crate::hospitals::Channel;
use haven_kernel::Timestamp;
use haven_kernel::catalogue::{ALERTS_TOPIC, DEADLINES_QUEUE};
use haven_kernel::item::{Item, Key, Value, value_to_json};
use haven_kernel::ports::{
    Condition, Index, OutgoingMessage, Ports, Publisher, Query, Queue, SortKey, Table, TableError,
};

/// The alert is offered to its first hospital (or sent again to one).
pub const ALERT_CREATED: &str = "alert.created";
/// The alert is offered to a fallback hospital after the one before it did not take it.
pub const ALERT_ESCALATED: &str = "alert.escalated";
/// Stand down: the alert was cancelled, or another hospital took it.
pub const ALERT_CANCELLED: &str = "alert.cancelled";
/// The GSI2 partition listing undelivered events.
pub const OUTBOX: &str = "OUTBOX";

/// What goes through the topic and the queues: ids and routing facts, nothing personal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub event: String,
    pub alert_id: String,
    pub hospital_id: String,
    /// 0 for the first sending of this event to this hospital; a dispatcher's "send again"
    /// counts up, so the hospital sees it as a new delivery.
    #[serde(default)]
    pub round: u32,
    /// Which offer of the alert (1-based) this is about; 0 when none.
    #[serde(default)]
    pub offer: u32,
    pub priority: String,
    pub emergency_type: String,
    pub at: String,
}

/// One event for one hospital, on the channels named.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    pub event: &'static str,
    pub hospital_id: &'a str,
    pub channels: &'a [Channel],
    pub round: u32,
    /// The alert's offer (1-based) the notice belongs to.
    pub offer: u32,
    /// Starts the answer deadline of that offer.
    pub starts_deadline: bool,
}

/// The outbox item of one notice about `alert`.
pub fn outbox_item(alert: &Alert, notice: &Notice, now: Timestamp, event_id: &str) -> Item {
    let message = AlertEvent {
        event: notice.event.to_owned(),
        alert_id: alert.alert_id.clone(),
        hospital_id: notice.hospital_id.to_owned(),
        round: notice.round,
        offer: notice.offer,
        priority: alert.priority.as_str().to_owned(),
        emergency_type: alert.emergency_type.as_str().to_owned(),
        at: now.to_rfc3339(),
    };
    let channels: Vec<&str> = notice.channels.iter().map(|c| c.as_str()).collect();
    let attributes = BTreeMap::from([
        (
            "channels".to_owned(),
            Value::s(serde_json::to_string(&channels).unwrap_or_default()),
        ),
        ("event".to_owned(), Value::s(notice.event)),
        ("priority".to_owned(), Value::s(alert.priority.as_str())),
    ]);
    let mut item = Item::new(&Key::new(
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
    .with("attributes", Value::M(attributes));
    if notice.starts_deadline {
        let deadline = DeadlineMessage {
            alert_id: alert.alert_id.clone(),
            hospital_id: notice.hospital_id.to_owned(),
            offer: notice.offer,
            round: notice.round,
        };
        item.set(
            "deadline",
            Value::s(serde_json::to_string(&deadline).unwrap_or_default()),
        );
    }
    item
}

/// The item that lets a hospital's staff find an alert routed to them, newest first.
pub fn routing_item(alert: &Alert, hospital_id: &str, now: Timestamp) -> Item {
    use haven_kernel::refs;
    Item::new(&refs::hospital_alert_routing(
        hospital_id,
        &refs::alert_sort(&alert.created_at, &alert.alert_id),
    ))
    .with(refs::ALERT_ID, Value::s(&alert.alert_id))
    .with(refs::ROUTED_AT, Value::s(now.to_rfc3339()))
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
    let publish = async {
        ports
            .publisher()
            .publish(topic, message, &attributes)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    // The deadline timer starts with the offer, set beside the publish (their writes share
    // one sync). If either fails the item stays, and the relay publishes again (the workers
    // ignore the copy) and sets the timer again (a timer for an offer already answered or
    // moved on does nothing).
    let deadline = async {
        let Some(deadline) = item.s("deadline") else {
            return Ok(());
        };
        let delay = ports
            .comms()
            .ack_deadline
            .min(haven_kernel::ports::queue::MAX_DELAY);
        ports
            .queue()
            .send(
                DEADLINES_QUEUE,
                OutgoingMessage::new(deadline).delayed(delay),
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    futures::try_join!(publish, deadline)?;
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RelayReport {
    pub found: usize,
    pub published: usize,
}

/// The relay: publishes events that have waited in the outbox longer than the normal path
/// takes (`relay_after`), so an alert stored just before a crash or during a topic outage is
/// still told. Run every minute on AWS (a schedule), every second by the local gateway.
pub async fn relay<P: Ports>(ports: &P, limit: u32) -> Result<RelayReport, TableError> {
    let before = ports.clock().now().minus(ports.comms().relay_after);
    let items = ports
        .table()
        .query(
            Query::partition(OUTBOX)
                .on(Index::Gsi2)
                .sort(SortKey::Lt(before.to_rfc3339()))
                .limit(limit),
        )
        .await?
        .items;
    let published = deliver(ports, &items).await;
    if !items.is_empty() {
        tracing::info!(
            found = items.len(),
            published,
            "outbox relay published stranded alert events"
        );
    }
    Ok(RelayReport {
        found: items.len(),
        published,
    })
}

/// The message body of an outbox item, as JSON (for tests and the relay's logs).
pub fn message_of(item: &Item) -> Option<serde_json::Value> {
    item.get("message")
        .map(value_to_json)
        .and_then(|m| m.as_str().and_then(|s| serde_json::from_str(s).ok()))
}
