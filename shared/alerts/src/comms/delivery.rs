//! Delivery records: one per event, hospital and channel, holding its state and stable
//! `webhook-id`, and one attempt record per try (channel, time, outcome, latency, next retry)
//! for `GET /hospital/comms/status/{alert_id}`. A worker *claims* a delivery (a short lease,
//! written under a condition) before it sends, so two copies of one message never send at
//! once, and a delivered one never sends again.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::emergencies::handoff::AlertEvent;
use crate::hospitals::Channel;
use haven_kernel::Timestamp;
use haven_kernel::error::DomainError;
use haven_kernel::item::{Item, Key};
use haven_kernel::ports::{Condition, Ports, Query, SortKey, Table, TableError, TransactOp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// An attempt is under way.
    Sending,
    /// The last attempt failed; another is scheduled.
    Retrying,
    Delivered,
    /// Given up (attempts exhausted, or the receiver is gone).
    Failed,
    /// Not sent: the alert no longer needed it (answered, cancelled) or there was nowhere to send.
    Skipped,
}

impl DeliveryState {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DeliveryState::Delivered | DeliveryState::Failed | DeliveryState::Skipped
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub alert_id: String,
    pub hospital_id: String,
    pub channel: Channel,
    pub event: String,
    pub offer: u32,
    pub round: u32,
    pub webhook_id: String,
    pub state: DeliveryState,
    pub attempts: u32,
    #[serde(default)]
    pub first_attempt_at: Option<String>,
    #[serde(default)]
    pub delivered_at: Option<String>,
    #[serde(default)]
    pub next_retry_at: Option<String>,
    #[serde(default)]
    pub last_outcome: Option<String>,
    /// Milliseconds since the epoch until which a worker holds the delivery.
    #[serde(default, skip_serializing)]
    pub lease_until: Option<i64>,
    #[serde(default, skip_serializing)]
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub hospital_id: String,
    pub channel: Channel,
    pub event: String,
    pub attempt: u32,
    pub at: String,
    /// `delivered`, `http_500`, `timeout`, `connection_failed`, `gone`, `skipped`, ...
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Which delivery a message is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryKey {
    pub alert_id: String,
    pub hospital_id: String,
    pub channel: Channel,
    pub event: String,
    pub offer: u32,
    pub round: u32,
}

impl DeliveryKey {
    pub fn of(event: &AlertEvent, channel: Channel) -> Self {
        DeliveryKey {
            alert_id: event.alert_id.clone(),
            hospital_id: event.hospital_id.clone(),
            channel,
            event: event.event.clone(),
            offer: event.offer,
            round: event.round,
        }
    }

    pub fn key(&self) -> Key {
        Key::new(
            format!("ALERT#{}", self.alert_id),
            format!(
                "DELIVERY#{}#{}#{}#{}#{}",
                self.hospital_id,
                self.channel.as_str(),
                self.event,
                self.offer,
                self.round
            ),
        )
    }

    /// The same for every attempt at this delivery and different for any other: receivers
    /// drop a `webhook-id` they have seen.
    pub fn webhook_id(&self) -> String {
        let digest = Sha256::digest(
            format!(
                "{}|{}|{}|{}|{}",
                self.alert_id, self.hospital_id, self.event, self.offer, self.round
            )
            .as_bytes(),
        );
        let encoded = data_encoding::BASE32_NOPAD
            .encode(&digest)
            .to_ascii_lowercase();
        format!("msg_{}", &encoded[..26])
    }

    fn fresh(&self) -> DeliveryRecord {
        DeliveryRecord {
            alert_id: self.alert_id.clone(),
            hospital_id: self.hospital_id.clone(),
            channel: self.channel,
            event: self.event.clone(),
            offer: self.offer,
            round: self.round,
            webhook_id: self.webhook_id(),
            state: DeliveryState::Sending,
            attempts: 0,
            first_attempt_at: None,
            delivered_at: None,
            next_retry_at: None,
            last_outcome: None,
            lease_until: None,
            version: 0,
        }
    }
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Go ahead: this is attempt `record.attempts`.
    Go(Box<DeliveryRecord>),
    /// Delivered, given up or skipped already: nothing to do.
    Done,
    /// Another worker holds it; look again after this long.
    Busy(Duration),
}

fn to_item(key: &DeliveryKey, record: &DeliveryRecord) -> Item {
    let mut item = Item::new(&key.key()).with_record(record);
    if let Some(lease) = record.lease_until {
        item.set("lease_until", haven_kernel::item::Value::n(lease));
    }
    item.set("version", haven_kernel::item::Value::n(record.version));
    item
}

fn from_item(item: &Item) -> Option<DeliveryRecord> {
    let mut record: DeliveryRecord = item.to_record()?;
    record.lease_until = item.i64("lease_until");
    record.version = item.i64("version").unwrap_or(0);
    Some(record)
}

/// Takes the delivery for one attempt, holding it for `lease`.
pub async fn claim<P: Ports>(
    ports: &P,
    key: &DeliveryKey,
    lease: Duration,
) -> Result<Claim, DomainError> {
    for _ in 0..3 {
        let now = ports.clock().now();
        let current = ports.table().get(&key.key()).await?;
        let (mut record, condition) = match current.as_ref().and_then(from_item) {
            Some(r) => {
                if r.state.is_final() {
                    return Ok(Claim::Done);
                }
                if let Some(until) = r.lease_until
                    && until > now.millis()
                {
                    return Ok(Claim::Busy(Duration::from_millis(
                        (until - now.millis()) as u64,
                    )));
                }
                let v = r.version;
                (r, Condition::version_is(v))
            }
            None => (key.fresh(), Condition::item_absent()),
        };
        record.attempts += 1;
        record.state = DeliveryState::Sending;
        record
            .first_attempt_at
            .get_or_insert_with(|| now.to_rfc3339());
        record.lease_until = Some(now.plus(lease).millis());
        record.version += 1;
        match ports
            .table()
            .put(to_item(key, &record), Some(condition))
            .await
        {
            Ok(()) => return Ok(Claim::Go(Box::new(record))),
            Err(TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Claim::Busy(Duration::from_secs(1)))
}

/// Records how an attempt ended and releases the lease, in one transaction.
pub async fn finish<P: Ports>(
    ports: &P,
    key: &DeliveryKey,
    mut record: DeliveryRecord,
    attempt: &AttemptRecord,
) -> Result<(), DomainError> {
    let expected = record.version;
    record.lease_until = None;
    record.version += 1;
    record.last_outcome = Some(attempt.outcome.clone());
    record.next_retry_at = attempt.next_retry_at.clone();
    if record.state == DeliveryState::Delivered {
        record.delivered_at = Some(attempt.at.clone());
    }
    let attempt_key = Key::new(
        format!("ALERT#{}", key.alert_id),
        format!(
            "ATTEMPT#{}#{}#{}#{}",
            attempt.at,
            key.channel.as_str(),
            key.hospital_id,
            attempt.attempt
        ),
    );
    let ops = vec![
        TransactOp::Put {
            item: to_item(key, &record),
            condition: Some(Condition::version_is(expected)),
        },
        TransactOp::Put {
            item: Item::new(&attempt_key).with_record(attempt),
            condition: None,
        },
    ];
    match ports.table().transact_write(ops).await {
        Ok(()) => Ok(()),
        // Our lease ran out and another worker took over: its record wins.
        Err(TableError::TransactionCanceled(_) | TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Records a delivery that was not needed, so the status shows why nothing was sent.
pub async fn skip<P: Ports>(ports: &P, key: &DeliveryKey, why: &str) -> Result<(), DomainError> {
    let Claim::Go(record) = claim(ports, key, Duration::from_secs(5)).await? else {
        return Ok(());
    };
    let mut record = *record;
    record.state = DeliveryState::Skipped;
    let attempt = AttemptRecord {
        hospital_id: key.hospital_id.clone(),
        channel: key.channel,
        event: key.event.clone(),
        attempt: record.attempts,
        at: ports.clock().now().to_rfc3339(),
        outcome: "skipped".into(),
        status_code: None,
        latency_ms: 0,
        next_retry_at: None,
        detail: Some(why.to_owned()),
    };
    finish(ports, key, record, &attempt).await
}

/// Every delivery and attempt of an alert, attempts in time order.
pub async fn of_alert<P: Ports>(
    ports: &P,
    alert_id: &str,
) -> Result<(Vec<DeliveryRecord>, Vec<AttemptRecord>), DomainError> {
    let partition = format!("ALERT#{alert_id}");
    let mut deliveries = Vec::new();
    let mut attempts = Vec::new();
    for (prefix, is_attempt) in [("DELIVERY#", false), ("ATTEMPT#", true)] {
        let mut cursor = None;
        loop {
            let page = ports
                .table()
                .query(
                    Query::partition(partition.clone())
                        .sort(SortKey::BeginsWith(prefix.into()))
                        .after(cursor),
                )
                .await?;
            for item in &page.items {
                if is_attempt {
                    attempts.extend(item.to_record::<AttemptRecord>());
                } else {
                    deliveries.extend(from_item(item));
                }
            }
            cursor = page.cursor;
            if cursor.is_none() {
                break;
            }
        }
    }
    Ok((deliveries, attempts))
}

/// When the next attempt is due, as a time.
pub fn retry_at(now: Timestamp, wait: Duration) -> String {
    now.plus(wait).to_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_ids_are_stable_per_delivery_and_differ_between_deliveries() {
        let event = AlertEvent {
            event: "alert.created".into(),
            alert_id: "a1".into(),
            hospital_id: "h1".into(),
            round: 0,
            offer: 1,
            priority: "high".into(),
            emergency_type: "trauma".into(),
            at: "t".into(),
        };
        let a = DeliveryKey::of(&event, Channel::Webhook);
        assert_eq!(
            a.webhook_id(),
            DeliveryKey::of(&event, Channel::Webhook).webhook_id()
        );
        assert!(a.webhook_id().starts_with("msg_") && a.webhook_id().len() == 30);
        let resent = AlertEvent {
            round: 1,
            ..event.clone()
        };
        assert_ne!(
            a.webhook_id(),
            DeliveryKey::of(&resent, Channel::Webhook).webhook_id()
        );
        let cancelled = AlertEvent {
            event: "alert.cancelled".into(),
            ..event
        };
        assert_ne!(
            a.webhook_id(),
            DeliveryKey::of(&cancelled, Channel::Webhook).webhook_id()
        );
    }
}
