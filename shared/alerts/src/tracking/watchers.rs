//! Who watches which alert over a WebSocket. A connection is recorded at `$connect` with the
//! person its token named; a subscription is two items (under the alert, to fan out; under
//! the connection, to clean up), all with the connection's TTL so a lost `$disconnect` never
//! leaves anything behind. A post that finds the connection gone forgets it.

use crate::dispatch::UnitStatus;
use crate::dispatch::ambulance::UnitChange;
use crate::emergencies::alert::Alert;
use crate::emergencies::trigger::load_alert;
use crate::emergencies::view::Viewer;
use crate::tracking::{Outgoing, StatusMessage};
use haven_kernel::error::DomainError;
use haven_kernel::item::{EXPIRES_AT, Item, Key, Value};
use haven_kernel::ports::{ConnectionError, Connections, Ports, Query, SortKey, Table, TransactOp};
use haven_kernel::roles::Role;

/// API Gateway closes a WebSocket connection after two hours at most.
pub const CONNECTION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(2 * 60 * 60);
/// Alerts one connection may watch at once.
pub const MAX_SUBSCRIPTIONS: usize = 10;
/// Connections that may watch one alert (a family, a crew, a hospital team, dispatch).
pub const MAX_WATCHERS: usize = 500;
/// Posts in flight at once for one fan-out.
const FAN_OUT: usize = 32;

pub fn connection_key(connection_id: &str) -> Key {
    Key::new(format!("CONNECTION#{connection_id}"), "CONNECTION")
}

fn watch_key(alert_id: &str, connection_id: &str) -> Key {
    Key::new(
        format!("WATCH#{alert_id}"),
        format!("CONNECTION#{connection_id}"),
    )
}

fn mirror_key(connection_id: &str, alert_id: &str) -> Key {
    Key::new(
        format!("CONNECTION#{connection_id}"),
        format!("WATCH#{alert_id}"),
    )
}

/// API Gateway connection ids are short base64 text (`L0SM9cOFvHcCIhw=`); anything else
/// (key syntax such as `#` in particular) never reaches the table.
pub fn is_valid_connection_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=-_+/".contains(&b))
}

/// `$connect`: records who is on the connection.
pub async fn connect<P: Ports>(
    ports: &P,
    connection_id: &str,
    viewer: &Viewer,
) -> Result<(), DomainError> {
    let now = ports.clock().now();
    let mut item = Item::new(&connection_key(connection_id))
        .with("user_id", Value::s(&viewer.user_id))
        .with("role", Value::s(viewer.role.as_str()))
        .with("connected_at", Value::s(now.to_rfc3339()))
        .with(
            EXPIRES_AT,
            Value::n(now.plus(CONNECTION_LIFETIME).epoch_seconds()),
        );
    if let Some(h) = &viewer.hospital_id {
        item.set("hospital_id", Value::s(h));
    }
    if let Some(j) = &viewer.bypass_jti {
        item.set("bypass_jti", Value::s(j));
    }
    ports.table().put(item, None).await?;
    Ok(())
}

/// The person on a connection, as their token said at `$connect`.
pub async fn watcher<P: Ports>(
    ports: &P,
    connection_id: &str,
) -> Result<(Viewer, i64), DomainError> {
    let gone = || DomainError::NotFound("connection".into());
    let item = ports
        .table()
        .get(&connection_key(connection_id))
        .await?
        .filter(|i| !i.is_expired(ports.clock().now().epoch_seconds()))
        .ok_or_else(gone)?;
    let role: Role = serde_json::from_value(serde_json::Value::String(
        item.s("role").unwrap_or_default().to_owned(),
    ))
    .map_err(|_| gone())?;
    let viewer = Viewer {
        user_id: item.s("user_id").ok_or_else(gone)?.to_owned(),
        role,
        hospital_id: item.s("hospital_id").map(str::to_owned),
        bypass_jti: item.s("bypass_jti").map(str::to_owned),
    };
    Ok((viewer, item.i64(EXPIRES_AT).unwrap_or_default()))
}

/// The alerts a connection watches.
pub async fn subscriptions<P: Ports>(
    ports: &P,
    connection_id: &str,
) -> Result<Vec<String>, DomainError> {
    let page = ports
        .table()
        .query(
            Query::partition(format!("CONNECTION#{connection_id}"))
                .sort(SortKey::BeginsWith("WATCH#".into()))
                .limit(MAX_SUBSCRIPTIONS as u32 + 1),
        )
        .await?;
    Ok(page
        .items
        .iter()
        .filter_map(|i| i.s("alert_id").map(str::to_owned))
        .collect())
}

/// `subscribe`: the connection's person must be allowed to see the alert (its patient, the
/// crew sent to it, the staff of a hospital it was routed to, dispatchers); others are told
/// it does not exist. Returns the alert's status for the first message.
pub async fn subscribe<P: Ports>(
    ports: &P,
    connection_id: &str,
    alert_id: &str,
) -> Result<crate::emergencies::alert::Status, DomainError> {
    let (viewer, expires_at) = watcher(ports, connection_id).await?;
    let (alert, _) = load_alert(ports, alert_id).await?;
    if !viewer.can_see(&alert) {
        return Err(DomainError::NotFound("alert".into()));
    }
    let mine = subscriptions(ports, connection_id).await?;
    if mine.iter().any(|a| a == alert_id) {
        return Ok(alert.status);
    }
    if mine.len() >= MAX_SUBSCRIPTIONS {
        return Err(DomainError::invalid(
            "alert_id",
            format!("a connection watches at most {MAX_SUBSCRIPTIONS} alerts"),
        ));
    }
    let watching = ports
        .table()
        .query(Query::partition(format!("WATCH#{alert_id}")).limit(MAX_WATCHERS as u32))
        .await?;
    if watching.items.len() >= MAX_WATCHERS {
        return Err(DomainError::TooManyRequests {
            retry_after_seconds: 60,
        });
    }
    let watch = Item::new(&watch_key(alert_id, connection_id))
        .with("connection_id", Value::s(connection_id))
        .with(EXPIRES_AT, Value::n(expires_at));
    let mirror = Item::new(&mirror_key(connection_id, alert_id))
        .with("alert_id", Value::s(alert_id))
        .with(EXPIRES_AT, Value::n(expires_at));
    ports
        .table()
        .transact_write(vec![
            TransactOp::Put {
                item: watch,
                condition: None,
            },
            TransactOp::Put {
                item: mirror,
                condition: None,
            },
        ])
        .await?;
    Ok(alert.status)
}

async fn forget_subscription<P: Ports>(ports: &P, connection_id: &str, alert_id: &str) {
    for key in [
        watch_key(alert_id, connection_id),
        mirror_key(connection_id, alert_id),
    ] {
        if let Err(e) = ports.table().delete(&key, None).await {
            tracing::warn!(error = %e, "cannot forget a subscription; its TTL will");
        }
    }
}

/// `unsubscribe`.
pub async fn unsubscribe<P: Ports>(ports: &P, connection_id: &str, alert_id: &str) {
    forget_subscription(ports, connection_id, alert_id).await;
}

/// `$disconnect`, or a post that found the connection gone: forgets it and everything it
/// watched. Best effort; the TTL catches what this misses.
pub async fn disconnect<P: Ports>(ports: &P, connection_id: &str) {
    if let Ok(alerts) = subscriptions(ports, connection_id).await {
        for alert_id in alerts {
            forget_subscription(ports, connection_id, &alert_id).await;
        }
    }
    if let Err(e) = ports
        .table()
        .delete(&connection_key(connection_id), None)
        .await
    {
        tracing::warn!(error = %e, "cannot forget a connection; its TTL will");
    }
}

/// Sends one message to one connection; a gone connection is forgotten.
pub async fn tell<P: Ports>(ports: &P, connection_id: &str, message: &Outgoing) -> bool {
    match ports
        .connections()
        .post(connection_id, &message.to_bytes())
        .await
    {
        Ok(()) => true,
        Err(ConnectionError::Gone) => {
            disconnect(ports, connection_id).await;
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot post to a connection");
            false
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fanned {
    pub sent: usize,
    pub gone: usize,
    pub failed: usize,
}

/// Pushes a message to everyone watching an alert. Gone connections are forgotten; a failed
/// post does not stop the others.
pub async fn broadcast<P: Ports>(ports: &P, alert_id: &str, message: &Outgoing) -> Fanned {
    let now = ports.clock().now().epoch_seconds();
    let watching = match ports
        .table()
        .query(Query::partition(format!("WATCH#{alert_id}")).limit(MAX_WATCHERS as u32))
        .await
    {
        Ok(page) => page.items,
        Err(e) => {
            tracing::warn!(alert_id, error = %e, "cannot read who watches the alert");
            return Fanned::default();
        }
    };
    let payload = message.to_bytes();
    let ids: Vec<String> = watching
        .iter()
        .filter(|i| !i.is_expired(now))
        .filter_map(|i| i.s("connection_id").map(str::to_owned))
        .collect();
    let mut outcomes = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(FAN_OUT) {
        let posts = chunk.iter().map(|id| post_one(ports, id, &payload));
        outcomes.extend(futures::future::join_all(posts).await);
    }
    let mut fanned = Fanned::default();
    for (id, result) in outcomes {
        match result {
            Ok(()) => fanned.sent += 1,
            Err(ConnectionError::Gone) => {
                fanned.gone += 1;
                disconnect(ports, &id).await;
            }
            Err(e) => {
                fanned.failed += 1;
                tracing::warn!(alert_id, error = %e, "cannot post to a watcher");
            }
        }
    }
    fanned
}

async fn post_one<P: Ports>(
    ports: &P,
    connection_id: &str,
    payload: &[u8],
) -> (String, Result<(), ConnectionError>) {
    let result = ports.connections().post(connection_id, payload).await;
    (connection_id.to_owned(), result)
}

/// Tells the watchers when a unit's change moved its alert.
pub(crate) async fn announce<P: Ports>(ports: &P, change: &UnitChange) {
    if let (Some(_), Some(alert)) = (change.alert_moved(), change.alert.as_ref()) {
        announce_status(ports, alert, Some(change.unit.status)).await;
    }
}

/// Tells the watchers where an alert stands now (every change of status is pushed: the
/// patient sees a hospital told, accepting, or the alert moving on).
pub(crate) async fn announce_status<P: Ports>(
    ports: &P,
    alert: &Alert,
    ambulance_status: Option<UnitStatus>,
) {
    let message = Outgoing::Status(StatusMessage::of(alert, ambulance_status));
    broadcast(ports, &alert.alert_id, &message).await;
}

/// The item that records a subscription under its alert (tests check cleanup with it).
pub fn watch_item_key(alert_id: &str, connection_id: &str) -> Key {
    watch_key(alert_id, connection_id)
}
