//! Writing a change to an alert: read, change, write under its version with the items the
//! change adds (outbox events, routing records) in one transaction, then publish the events
//! and, when its status changed, tell whoever watches it.
//! Retried when another writer (a person, a worker, a deadline) got in between.

use crate::emergencies::alert::{Alert, CLINICAL};
use crate::emergencies::handoff;
use crate::emergencies::trigger::load_alert;
use haven_kernel::Timestamp;
use haven_kernel::envelope::Envelope;
use haven_kernel::error::DomainError;
use haven_kernel::item::Item;
use haven_kernel::ports::{Condition, Ports, Table, TableError, TransactOp};

const ATTEMPTS: usize = 5;

/// Changes the alert if `may_see` lets the caller see it (otherwise: not found). Returns the
/// alert as written. `apply` may refuse with any domain error, which is passed on.
pub(crate) async fn change<P: Ports>(
    ports: &P,
    alert_id: &str,
    may_see: impl Fn(&Alert) -> bool,
    mut apply: impl FnMut(&mut Alert, Timestamp) -> Result<Vec<Item>, DomainError>,
) -> Result<(Alert, Option<Envelope>), DomainError> {
    for _ in 0..ATTEMPTS {
        let (mut alert, sealed) = load_alert(ports, alert_id).await?;
        if !may_see(&alert) {
            return Err(DomainError::NotFound("alert".into()));
        }
        let now = ports.clock().now();
        let version = alert.version;
        let was = alert.status;
        let extra = apply(&mut alert, now)?;
        alert.version = version + 1;
        let mut item = alert.to_item();
        if let Some(s) = &sealed {
            s.write_to(&mut item, CLINICAL);
        }
        let outbox: Vec<Item> = extra
            .iter()
            .filter(|i| i.s("topic").is_some())
            .cloned()
            .collect();
        let mut ops = vec![TransactOp::Put {
            item,
            condition: Some(Condition::version_is(version)),
        }];
        ops.extend(extra.into_iter().map(|item| TransactOp::Put {
            item,
            condition: None,
        }));
        match ports.table().transact_write(ops).await {
            Ok(()) => {
                handoff::deliver(ports, &outbox).await;
                if alert.status != was {
                    crate::tracking::watchers::announce_status(ports, &alert, None).await;
                }
                return Ok((alert, sealed));
            }
            Err(TableError::TransactionCanceled(_) | TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DomainError::conflict(
        "the alert is changing fast; read it again",
    ))
}
