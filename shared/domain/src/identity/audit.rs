//! The audit trail of identity: logins, failures, lockouts, MFA changes, bypass use and
//! admin actions. Records say who did what to whom and how it ended, never secrets.

use serde::Serialize;

use crate::DomainError;
use crate::item::{Item, Key, Value, json_to_value};
use crate::ports::{Ports, Table};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    /// What happened, dotted: `login.failed`, `refresh.reuse_detected`, `user.created`.
    pub action: &'static str,
    /// Who acted (a user id), when known.
    pub actor: Option<String>,
    /// Whom it concerned (a user id, or a lookup hash for unknown accounts).
    pub subject: Option<String>,
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
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Writes one audit record: under its subject (a person's own trail, newest last) and on the
/// `AUDIT` view of GSI2 for system admins.
pub async fn record<P: Ports>(ports: &P, event: AuditEvent) -> Result<(), DomainError> {
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
    if let Ok(Value::M(fields)) = serde_json::to_value(&event).map(json_to_value) {
        for (k, v) in fields {
            if !matches!(v, Value::Null(_)) {
                item.set(&k, v);
            }
        }
    }
    ports.table().put(item, None).await?;
    Ok(())
}
