//! The audit trail of identity: logins, failures, lockouts, MFA changes, bypass use and
//! admin actions. Records say who did what to whom and how it ended, never secrets.

use serde::Serialize;

use crate::DomainError;
use crate::item::{Item, Key, Value, json_to_value};
use crate::ports::table::CancelReason;
use crate::ports::{Condition, Ports, Table, TableError, TransactOp};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    /// What happened, dotted: `login.failed`, `refresh.reuse_detected`, `user.created`.
    pub action: &'static str,
    /// Who acted (a user id), when known.
    pub actor: Option<String>,
    /// Whom it concerned (a user id, or a lookup hash for unknown accounts).
    pub subject: Option<String>,
    /// Whom data was disclosed to (a hospital id), for disclosures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// `success`, `failure` or `refused`.
    pub outcome: &'static str,
    pub detail: Option<String>,
}

impl AuditEvent {
    pub fn new(action: &'static str, outcome: &'static str) -> Self {
        AuditEvent {
            action,
            actor: None,
            subject: None,
            recipient: None,
            outcome,
            detail: None,
        }
    }
    pub fn actor(mut self, actor: &str) -> Self {
        self.actor = Some(actor.to_owned());
        self
    }
    pub fn subject(mut self, subject: &str) -> Self {
        self.subject = Some(subject.to_owned());
        self
    }
    pub fn recipient(mut self, recipient: &str) -> Self {
        self.recipient = Some(recipient.to_owned());
        self
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Writes one audit record: under its subject (a person's own trail, newest last) and on the
/// `AUDIT` view of GSI2 for system admins.
pub async fn record<P: Ports>(ports: &P, event: AuditEvent) -> Result<(), DomainError> {
    ports.table().put(item(ports, &event), None).await?;
    Ok(())
}

/// Writes several records in as few writes as the table allows (one transaction per 100):
/// a search that shows twenty patients audits twenty reads at the cost of one write.
pub async fn record_all<P: Ports>(ports: &P, events: &[AuditEvent]) -> Result<(), DomainError> {
    for chunk in events.chunks(crate::ports::table::MAX_TRANSACTION_ITEMS) {
        let ops = chunk
            .iter()
            .map(|event| TransactOp::Put {
                item: item(ports, event),
                condition: None,
            })
            .collect();
        ports.table().transact_write(ops).await?;
    }
    Ok(())
}

/// Writes the record once for `occasion` (a delivery id, say), however often it is retried:
/// a marker and the record go in one transaction, and a second call finds the marker.
pub async fn record_once<P: Ports>(
    ports: &P,
    event: AuditEvent,
    occasion: &str,
) -> Result<(), DomainError> {
    let expires = ports
        .clock()
        .now()
        .plus(ONCE_MARKER_LIFETIME)
        .epoch_seconds();
    let marker = Item::new(&Key::new(format!("AUDITONCE#{occasion}"), "AUDITONCE"))
        .with(crate::item::EXPIRES_AT, Value::n(expires));
    let ops = vec![
        TransactOp::Put {
            item: marker,
            condition: Some(Condition::item_absent()),
        },
        TransactOp::Put {
            item: item(ports, &event),
            condition: None,
        },
    ];
    match ports.table().transact_write(ops).await {
        Ok(()) => Ok(()),
        Err(TableError::TransactionCanceled(reasons))
            if reasons.first() == Some(&CancelReason::ConditionFailed) =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Retries of one occasion happen within minutes; the marker outlives them by far.
const ONCE_MARKER_LIFETIME: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

fn item<P: Ports>(ports: &P, event: &AuditEvent) -> Item {
    let now = ports.clock().now();
    let id = ports.ids().next_id();
    let subject = event
        .subject
        .clone()
        .or_else(|| event.actor.clone())
        .unwrap_or_else(|| "system".into());
    let sort = format!("{}#{id}", now.to_rfc3339());
    let mut item = Item::new(&Key::new(format!("AUDIT#{subject}"), &sort))
        .with("gsi2pk", Value::s("AUDIT"))
        .with("gsi2sk", Value::s(&sort))
        .with("at", Value::s(now.to_rfc3339()));
    if let Ok(Value::M(fields)) = serde_json::to_value(event).map(json_to_value) {
        for (k, v) in fields {
            if !matches!(v, Value::Null(_)) {
                item.set(&k, v);
            }
        }
    }
    item
}
