//! Offers, answers and escalation: who is told next when a hospital is silent or says no.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use crate::comms::{Answer, DeadlineMessage, Decision, Offer, staged_channels};
use crate::emergencies::alert::{Alert, MatchedHospital, Status};
use crate::emergencies::handoff::{self, ALERT_CANCELLED, ALERT_CREATED, ALERT_ESCALATED, Notice};
use crate::emergencies::store;
use crate::hospitals::{Channel, manage};
use haven_kernel::Timestamp;
use haven_kernel::error::DomainError;
use haven_kernel::item::Item;
use haven_kernel::metrics::{self, Metric};
use haven_kernel::ports::Ports;
use haven_kernel::roles::Role;

/// Offers the alert to `hospital` on its first channels and starts the answer deadline.
/// Returns the items to write with the alert: the outbox event and the routing record.
pub(crate) fn offer(
    alert: &mut Alert,
    hospital: MatchedHospital,
    hospital_channels: &[Channel],
    event: &'static str,
    now: Timestamp,
    event_id: &str,
) -> Vec<Item> {
    let (first, untried) = staged_channels(hospital_channels);
    let hospital_id = hospital.hospital_id.clone();
    alert.offers.push(Offer {
        hospital,
        offered_at: now.to_rfc3339(),
        channels: first.clone(),
        untried,
        answer: None,
        expired_at: None,
        resends: 0,
        stood_down: false,
        event: Some(event.to_owned()),
        redriven_at: None,
    });
    if !alert.routed_to.contains(&hospital_id) {
        alert.routed_to.push(hospital_id.clone());
    }
    let notice = Notice {
        event,
        hospital_id: &hospital_id,
        channels: &first,
        round: 0,
        offer: alert.offers.len() as u32,
        starts_deadline: true,
    };
    vec![
        handoff::outbox_item(alert, &notice, now, event_id),
        handoff::routing_item(alert, &hospital_id, now),
    ]
}

/// Tells every hospital that was offered the alert, except `except` and those that declined
/// or were told already, to stand down, on the channels they were told on.
pub(crate) fn stand_down(
    alert: &mut Alert,
    except: Option<&str>,
    now: Timestamp,
    event_id: &str,
) -> Vec<Item> {
    let mut notices = Vec::new();
    for (i, offer) in alert.offers.iter_mut().enumerate() {
        let declined = matches!(&offer.answer, Some(a) if a.decision == Decision::Decline);
        if offer.stood_down || declined || Some(offer.hospital_id()) == except {
            continue;
        }
        offer.stood_down = true;
        notices.push((
            i as u32 + 1,
            offer.hospital_id().to_owned(),
            offer.channels.clone(),
        ));
    }
    notices
        .iter()
        .map(|(n, hospital_id, channels)| {
            let notice = Notice {
                event: ALERT_CANCELLED,
                hospital_id,
                channels,
                round: 0,
                offer: *n,
                starts_deadline: false,
            };
            handoff::outbox_item(alert, &notice, now, &format!("{event_id}-{n}"))
        })
        .collect()
}

/// Moves the alert on from its current hospital `from`: that hospital, unless it declined,
/// is tried on its next channel, and the next fallback hospital is offered the alert. With
/// no fallback left, the alert waits for a dispatcher (`escalated`).
pub(crate) fn move_on(
    alert: &mut Alert,
    from: &str,
    why: &str,
    by: &str,
    now: Timestamp,
    channels: &HashMap<String, Vec<Channel>>,
    event_id: &str,
) -> Result<Vec<Item>, DomainError> {
    let mut items = Vec::new();
    let n = alert.offers.len() as u32;
    if let Some(offer) = alert.offer_to_mut(from)
        && offer.is_open()
        && !offer.untried.is_empty()
    {
        let next = offer.untried.remove(0);
        offer.channels.push(next);
        let round = offer.resends;
        // With nobody else to ask, this hospital's new channel gets its own deadline.
        let starts_deadline = alert.fallbacks.is_empty();
        let notice = Notice {
            event: ALERT_CREATED,
            hospital_id: from,
            channels: &[next],
            round,
            offer: alert
                .offers
                .iter()
                .rposition(|o| o.hospital_id() == from)
                .map_or(n, |i| i as u32 + 1),
            starts_deadline,
        };
        items.push(handoff::outbox_item(
            alert,
            &notice,
            now,
            &format!("{event_id}-channel"),
        ));
    }
    if alert.fallbacks.is_empty() {
        if items.is_empty() && alert.status == Status::Escalated && alert.hospital.is_none() {
            return Ok(items);
        }
        let note = format!("{why}; no fallback hospital is left: a dispatcher routes it");
        alert.transition(Status::Escalated, now, by, Some(&note))?;
        if items.is_empty() {
            // Nobody is being asked any more.
            alert.hospital = None;
        }
        return Ok(items);
    }
    let next = alert.fallbacks.remove(0);
    let note = format!("{why}; offered to {}", next.name);
    alert.hospital = Some(next.clone());
    alert.transition(Status::Escalated, now, by, Some(&note))?;
    let next_channels = channels.get(&next.hospital_id).cloned().unwrap_or_default();
    items.extend(offer(
        alert,
        next,
        &next_channels,
        ALERT_ESCALATED,
        now,
        event_id,
    ));
    Ok(items)
}

/// The channels of the hospitals an escalation may reach next, read before the change.
async fn fallback_channels<P: Ports>(ports: &P, alert: &Alert) -> HashMap<String, Vec<Channel>> {
    let mut channels = HashMap::new();
    for m in alert.fallbacks.iter().take(2) {
        if let Ok(h) = manage::load(ports, &m.hospital_id).await {
            channels.insert(h.hospital_id.clone(), h.notification_channels());
        }
    }
    channels
}

fn seconds(d: Duration) -> u64 {
    d.as_secs().max(1)
}

/// Whether a deadline timer still means something: the offer it timed is the alert's
/// latest, unanswered, not sent again since, and the alert still waits for an answer.
fn deadline_applies(alert: &Alert, msg: &DeadlineMessage) -> bool {
    let n = msg.offer as usize;
    alert.awaits_answer()
        && n >= 1
        && n == alert.offers.len()
        && alert.offers[n - 1].hospital_id() == msg.hospital_id
        && alert.offers[n - 1].is_open()
        && alert.offers[n - 1].resends == msg.round
}

/// What a deadline timer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadlineOutcome {
    /// The hospital answered, the alert moved on or ended: nothing to do.
    Stale,
    /// Nothing had reached the hospital (a worker died, its messages were still coming back):
    /// the offer was sent again, on its channels and SMS, with a new deadline.
    Redriven,
    Escalated {
        status: Status,
    },
}

/// Whether any of the offer's deliveries reached the hospital: a push channel delivered, or,
/// for a hospital told only in its inbox, the inbox.
async fn reached<P: Ports>(
    ports: &P,
    alert: &Alert,
    msg: &DeadlineMessage,
) -> Result<bool, DomainError> {
    let offer = &alert.offers[msg.offer as usize - 1];
    let inbox_only = offer.channels == [Channel::HospitalApi];
    let (deliveries, _) = crate::comms::delivery::of_alert(ports, &alert.alert_id).await?;
    Ok(deliveries.iter().any(|d| {
        d.hospital_id == msg.hospital_id
            && d.offer == msg.offer
            && d.state == crate::comms::delivery::DeliveryState::Delivered
            && (d.channel != Channel::HospitalApi || inbox_only)
    }))
}

/// Counts an alert moving on from a hospital, and an alert left with nobody to ask (handed
/// to dispatch: the unacknowledged-alerts alarm watches that count).
fn observe_escalation(alert: &Alert) {
    metrics::count(Metric::Escalations, &alert.alert_id);
    if alert.status == Status::Escalated && alert.hospital.is_none() {
        metrics::count(Metric::AlertsUnacknowledged, &alert.alert_id);
    }
}

/// The deadlines worker: the hospital did not answer in time.
pub async fn on_deadline<P: Ports>(
    ports: &P,
    msg: &DeadlineMessage,
) -> Result<DeadlineOutcome, DomainError> {
    let (alert, _) = match crate::emergencies::trigger::load_alert(ports, &msg.alert_id).await {
        Ok(a) => a,
        Err(DomainError::NotFound(_)) => return Ok(DeadlineOutcome::Stale),
        Err(e) => return Err(e),
    };
    if !deadline_applies(&alert, msg) {
        return Ok(DeadlineOutcome::Stale);
    }
    // A hospital that was never told is not passed over for silence: send again once first.
    match redriven_at(&alert.offers[msg.offer as usize - 1]) {
        None if !reached(ports, &alert, msg).await? => return redrive(ports, msg).await,
        // A copy of the first timer (SQS delivers at least once, and a crash hands messages
        // over again): the redrive's own timer runs from the redrive.
        Some(at) if ports.clock().now() < at.plus(ports.comms().ack_deadline) => {
            return Ok(DeadlineOutcome::Stale);
        }
        _ => {}
    }
    let channels = fallback_channels(ports, &alert).await;
    let deadline = seconds(ports.comms().ack_deadline);
    let mut first_expiry = false;
    let mut applied = true;
    let result = store::change(
        ports,
        &msg.alert_id,
        |_| true,
        |alert, now| {
            applied = deadline_applies(alert, msg);
            if !applied {
                return Err(DomainError::conflict("stale deadline"));
            }
            let name = alert.offers[msg.offer as usize - 1].hospital.name.clone();
            let offer = &mut alert.offers[msg.offer as usize - 1];
            first_expiry = offer.expired_at.is_none();
            offer.expired_at.get_or_insert_with(|| now.to_rfc3339());
            let why = format!("no answer from {name} within {deadline} s");
            move_on(
                alert,
                &msg.hospital_id,
                &why,
                "system",
                now,
                &channels,
                &ports.ids().next_id(),
            )
        },
    )
    .await;
    match result {
        Ok((alert, _)) => {
            if first_expiry {
                manage::count_answer(ports, &msg.hospital_id, None, false).await;
            }
            observe_escalation(&alert);
            Ok(DeadlineOutcome::Escalated {
                status: alert.status,
            })
        }
        Err(_) if !applied => Ok(DeadlineOutcome::Stale),
        Err(e) => Err(e),
    }
}

fn redriven_at(offer: &Offer) -> Option<Timestamp> {
    offer
        .redriven_at
        .as_deref()
        .and_then(Timestamp::parse_rfc3339)
}

/// Sends the offer again as the same event (so its deliveries and `webhook-id`s are reused:
/// a copy that did arrive is not sent twice), adds SMS if the hospital has it and it was not
/// tried, and starts a new deadline. Once per offer: the next deadline moves on.
async fn redrive<P: Ports>(
    ports: &P,
    msg: &DeadlineMessage,
) -> Result<DeadlineOutcome, DomainError> {
    let mut applied = true;
    let result = store::change(
        ports,
        &msg.alert_id,
        |_| true,
        |alert, now| {
            // Another copy of the timer may have sent it again already.
            applied = deadline_applies(alert, msg)
                && alert.offers[msg.offer as usize - 1].redriven_at.is_none();
            if !applied {
                return Err(DomainError::conflict("stale deadline"));
            }
            let n = msg.offer as usize;
            let name = alert.offers[n - 1].hospital.name.clone();
            let offer = &mut alert.offers[n - 1];
            offer.redriven_at = Some(now.to_rfc3339());
            if let Some(i) = offer.untried.iter().position(|c| *c == Channel::Sms) {
                let sms = offer.untried.remove(i);
                offer.channels.push(sms);
            }
            let channels = offer.channels.clone();
            let round = offer.resends;
            let event = match offer.event.as_deref() {
                Some(ALERT_ESCALATED) => ALERT_ESCALATED,
                Some(_) => ALERT_CREATED,
                None if n == 1 => ALERT_CREATED,
                None => ALERT_ESCALATED,
            };
            let note = format!("nothing reached {name} by the deadline; sent again");
            alert.timeline.push(crate::emergencies::alert::Transition {
                status: alert.status,
                at: now.to_rfc3339(),
                by: Some("system".into()),
                note: Some(note),
            });
            let notice = handoff::Notice {
                event,
                hospital_id: &msg.hospital_id,
                channels: &channels,
                round,
                offer: msg.offer,
                starts_deadline: true,
            };
            Ok(vec![handoff::outbox_item(
                alert,
                &notice,
                now,
                &ports.ids().next_id(),
            )])
        },
    )
    .await;
    match result {
        Ok(_) => Ok(DeadlineOutcome::Redriven),
        Err(_) if !applied => Ok(DeadlineOutcome::Stale),
        Err(e) => Err(e),
    }
}

/// Who answers an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Responder {
    /// Signed-in staff of a hospital.
    Staff {
        user_id: String,
        role: Role,
        hospital_id: Option<String>,
    },
    /// Whoever holds the acknowledgement link sent to that hospital.
    Link { hospital_id: String },
}

impl Responder {
    pub fn of(claims: &haven_identity_core::tokens::Claims) -> Self {
        Responder::Staff {
            user_id: claims.sub.clone(),
            role: claims.role,
            hospital_id: claims.hospital_id.clone(),
        }
    }

    fn hospital(&self) -> Option<&str> {
        match self {
            Responder::Staff {
                role: Role::Nurse | Role::Doctor | Role::HospitalAdmin,
                hospital_id,
                ..
            } => hospital_id.as_deref(),
            Responder::Staff { .. } => None,
            Responder::Link { hospital_id } => Some(hospital_id),
        }
    }

    fn name(&self) -> String {
        match self {
            Responder::Staff { user_id, .. } => user_id.clone(),
            Responder::Link { hospital_id } => format!("link:{hospital_id}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerView {
    pub alert_id: String,
    pub hospital_id: String,
    pub decision: Decision,
    pub status: Status,
    pub at: String,
}

pub const MAX_REASON_CHARS: usize = 200;

/// `POST /hospital/comms/ack`: a hospital the alert was offered to accepts or declines. The
/// first to accept gets the patient and the others stand down; a decline by the hospital
/// being asked moves the alert on at once.
pub async fn answer<P: Ports>(
    ports: &P,
    responder: &Responder,
    alert_id: &str,
    decision: Decision,
    reason: Option<&str>,
) -> Result<AnswerView, DomainError> {
    if let Some(r) = reason
        && (r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control))
    {
        return Err(DomainError::invalid(
            "reason",
            format!("a reason has at most {MAX_REASON_CHARS} characters and no control characters"),
        ));
    }
    let hospital_id = responder
        .hospital()
        .ok_or(DomainError::Forbidden)?
        .to_owned();
    let (before, _) = crate::emergencies::trigger::load_alert(ports, alert_id).await?;
    if before.offer_to(&hospital_id).is_none() {
        // Staff of other hospitals do not learn that the alert exists.
        return Err(DomainError::NotFound("alert".into()));
    }
    let channels = fallback_channels(ports, &before).await;
    let by = responder.name();
    let mut offered_at = None;
    let mut expired = false;
    let mut moved_on = false;
    let (alert, _) = store::change(
        ports,
        alert_id,
        |a| a.offer_to(&hospital_id).is_some(),
        |alert, now| {
            if !alert.awaits_answer() {
                return Err(DomainError::Conflict {
                    message: match (&alert.status, &alert.hospital) {
                        (Status::Acknowledged, Some(h)) => {
                            format!("the alert was already accepted by {}", h.name)
                        }
                        (status, _) => {
                            format!("an alert that is {} takes no answers", status.as_str())
                        }
                    },
                    current: Some(alert.status.as_str().into()),
                });
            }
            let offer = alert
                .offer_to_mut(&hospital_id)
                .ok_or_else(|| DomainError::NotFound("alert".into()))?;
            if let Some(earlier) = &offer.answer {
                return Err(DomainError::Conflict {
                    message: format!(
                        "this hospital already answered: {}",
                        earlier.decision.as_str()
                    ),
                    current: Some(alert.status.as_str().into()),
                });
            }
            offered_at = Timestamp::parse_rfc3339(&offer.offered_at);
            expired = offer.expired_at.is_some();
            offer.answer = Some(Answer {
                decision,
                at: now.to_rfc3339(),
                by: by.clone(),
                reason: reason.map(str::to_owned),
            });
            let hospital = offer.hospital.clone();
            let event_id = ports.ids().next_id();
            match decision {
                Decision::Accept => {
                    let was_current = alert
                        .hospital
                        .as_ref()
                        .is_some_and(|h| h.hospital_id == hospital_id);
                    if !was_current {
                        // An earlier hospital answered late: it gets the patient, and the
                        // one being asked now goes back to the fallbacks' head.
                        if let Some(current) = alert.hospital.take() {
                            alert.fallbacks.insert(0, current);
                        }
                        alert.fallbacks.retain(|f| f.hospital_id != hospital_id);
                    }
                    alert.hospital = Some(hospital.clone());
                    let note = format!("accepted by {}", hospital.name);
                    alert.transition(Status::Acknowledged, now, &by, Some(&note))?;
                    // A unit may have been sent while the hospitals were being asked.
                    alert.catch_up_with_dispatch(now, "system");
                    Ok(stand_down(alert, Some(&hospital_id), now, &event_id))
                }
                Decision::Decline => {
                    let current = alert
                        .hospital
                        .as_ref()
                        .is_some_and(|h| h.hospital_id == hospital_id);
                    if !current {
                        return Ok(vec![]);
                    }
                    moved_on = true;
                    let why = match reason {
                        Some(r) => format!("declined by {}: {r}", hospital.name),
                        None => format!("declined by {}", hospital.name),
                    };
                    move_on(alert, &hospital_id, &why, &by, now, &channels, &event_id)
                }
            }
        },
    )
    .await?;
    let now = ports.clock().now();
    match decision {
        Decision::Accept => metrics::record_since(
            Metric::TimeToAcknowledgement,
            &alert.created_at,
            now,
            &alert.alert_id,
        ),
        Decision::Decline if moved_on => observe_escalation(&alert),
        Decision::Decline => {}
    }
    let waited = offered_at.map(|t| now.since(t));
    manage::count_answer(ports, &hospital_id, Some((decision, waited)), expired).await;
    Ok(AnswerView {
        alert_id: alert.alert_id.clone(),
        hospital_id,
        decision,
        status: alert.status,
        at: now.to_rfc3339(),
    })
}

fn dispatcher_only(viewer: &crate::emergencies::view::Viewer) -> Result<(), DomainError> {
    if viewer.role == Role::Dispatcher && viewer.bypass_jti.is_none() {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}

/// `POST /hospital/comms/fallback`: a dispatcher moves the alert on without waiting.
pub async fn force_fallback<P: Ports>(
    ports: &P,
    viewer: &crate::emergencies::view::Viewer,
    alert_id: &str,
    reason: Option<&str>,
) -> Result<Alert, DomainError> {
    dispatcher_only(viewer)?;
    let (before, _) = crate::emergencies::trigger::load_alert(ports, alert_id).await?;
    let channels = fallback_channels(ports, &before).await;
    let (alert, _) = store::change(
        ports,
        alert_id,
        |_| true,
        |alert, now| {
            let current = match (&alert.hospital, alert.awaits_answer()) {
                (Some(h), true) => h.hospital_id.clone(),
                _ => {
                    return Err(DomainError::Conflict {
                        message: format!(
                            "an alert that is {} has no hospital being asked",
                            alert.status.as_str()
                        ),
                        current: Some(alert.status.as_str().into()),
                    });
                }
            };
            if alert.fallbacks.is_empty() {
                return Err(DomainError::Conflict {
                    message: "no fallback hospital is left; route it to a hospital of your choice"
                        .into(),
                    current: Some(alert.status.as_str().into()),
                });
            }
            let why = match reason {
                Some(r) => format!("moved on by a dispatcher: {r}"),
                None => "moved on by a dispatcher".to_owned(),
            };
            move_on(
                alert,
                &current,
                &why,
                &viewer.user_id,
                now,
                &channels,
                &ports.ids().next_id(),
            )
        },
    )
    .await?;
    Ok(alert)
}

/// `POST /hospital/comms/alert`: a dispatcher sends the alert again to the hospital being
/// asked (a new delivery with a new id, and the deadline starts over), or routes it to a
/// hospital of their choice.
pub async fn send_again<P: Ports>(
    ports: &P,
    viewer: &crate::emergencies::view::Viewer,
    alert_id: &str,
    hospital_id: Option<&str>,
    reason: Option<&str>,
) -> Result<Alert, DomainError> {
    dispatcher_only(viewer)?;
    let (before, _) = crate::emergencies::trigger::load_alert(ports, alert_id).await?;
    let current = before.hospital.as_ref().map(|h| h.hospital_id.clone());
    if let Some(h) = hospital_id
        && Some(h) != current.as_deref()
    {
        crate::emergencies::lifecycle::route_to_hospital(ports, viewer, h, alert_id, reason)
            .await?;
        return crate::emergencies::trigger::load_alert(ports, alert_id)
            .await
            .map(|(a, _)| a);
    }
    let (alert, _) = store::change(
        ports,
        alert_id,
        |_| true,
        |alert, now| {
            let Some(current) = alert.hospital.as_ref().map(|h| h.hospital_id.clone()) else {
                return Err(DomainError::Conflict {
                    message: "no hospital is being asked; name one".into(),
                    current: Some(alert.status.as_str().into()),
                });
            };
            if !alert.awaits_answer() {
                return Err(DomainError::Conflict {
                    message: format!(
                        "an alert that is {} is not sent again",
                        alert.status.as_str()
                    ),
                    current: Some(alert.status.as_str().into()),
                });
            }
            let n = alert
                .offers
                .iter()
                .rposition(|o| o.hospital_id() == current)
                .map(|i| i as u32 + 1)
                .ok_or_else(|| DomainError::conflict("the hospital was never offered the alert"))?;
            let offer = &mut alert.offers[n as usize - 1];
            offer.resends += 1;
            let (round, channels) = (offer.resends, offer.channels.clone());
            alert.timeline.push(crate::emergencies::alert::Transition {
                status: alert.status,
                at: now.to_rfc3339(),
                by: Some(viewer.user_id.clone()),
                note: Some(reason.unwrap_or("sent again by a dispatcher").to_owned()),
            });
            let notice = Notice {
                event: ALERT_CREATED,
                hospital_id: &current,
                channels: &channels,
                round,
                offer: n,
                starts_deadline: n as usize == alert.offers.len(),
            };
            Ok(vec![handoff::outbox_item(
                alert,
                &notice,
                now,
                &ports.ids().next_id(),
            )])
        },
    )
    .await?;
    Ok(alert)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comms::tests::alert;
    use crate::emergencies::alert::tests::hospital;
    use crate::emergencies::handoff::{AlertEvent, message_of};

    fn events(items: &[Item]) -> Vec<(String, String, String)> {
        items
            .iter()
            .filter_map(|i| {
                let e: AlertEvent = serde_json::from_value(message_of(i)?).ok()?;
                let channels = match i.get("attributes") {
                    Some(haven_kernel::item::Value::M(m)) => m
                        .get("channels")
                        .and_then(|v| v.as_s())
                        .unwrap_or_default()
                        .to_owned(),
                    _ => String::new(),
                };
                Some((e.event, e.hospital_id, channels))
            })
            .collect()
    }

    fn offered(channels: &[Channel]) -> (Alert, HashMap<String, Vec<Channel>>) {
        let mut a = alert();
        let now = Timestamp::from_millis(1_000);
        a.hospital = Some(hospital("h1"));
        a.fallbacks = vec![hospital("h2")];
        let items = offer(&mut a, hospital("h1"), channels, ALERT_CREATED, now, "e1");
        assert_eq!(
            events(&items),
            vec![(
                "alert.created".into(),
                "h1".into(),
                if channels.contains(&Channel::Webhook) {
                    r#"["webhook","hospital-api"]"#.into()
                } else {
                    r#"["hospital-api"]"#.into()
                }
            )]
        );
        let channels = HashMap::from([("h2".to_owned(), vec![Channel::Webhook])]);
        (a, channels)
    }

    #[test]
    fn silence_moves_the_alert_to_the_next_hospital_and_the_next_channel() {
        let (mut a, channels) = offered(&[Channel::Webhook, Channel::Sms]);
        let items = move_on(
            &mut a,
            "h1",
            "no answer",
            "system",
            Timestamp::from_millis(61_000),
            &channels,
            "e2",
        )
        .expect("moves on");
        assert_eq!(
            events(&items),
            vec![
                ("alert.created".into(), "h1".into(), r#"["sms"]"#.into()),
                (
                    "alert.escalated".into(),
                    "h2".into(),
                    r#"["webhook","hospital-api"]"#.into()
                ),
            ]
        );
        assert_eq!(a.status, Status::Escalated);
        assert_eq!(
            a.hospital.as_ref().map(|h| h.hospital_id.as_str()),
            Some("h2")
        );
        assert_eq!(a.routed_to, vec!["h1", "h2"]);
        assert!(a.fallbacks.is_empty());
        // The escalated offer has its own deadline; the SMS to h1 does not (h2 is asked).
        assert!(items.iter().filter(|i| i.s("deadline").is_some()).count() == 1);
    }

    #[test]
    fn with_nobody_left_the_alert_waits_for_a_dispatcher() {
        let (mut a, channels) = offered(&[]);
        a.fallbacks.clear();
        let items = move_on(
            &mut a,
            "h1",
            "declined",
            "u",
            Timestamp::from_millis(2_000),
            &channels,
            "e",
        )
        .expect("moves on");
        assert!(items.is_empty());
        assert_eq!(a.status, Status::Escalated);
        assert!(a.hospital.is_none());
        // A second timer for the same state changes nothing more.
        let again = move_on(
            &mut a,
            "h1",
            "declined",
            "u",
            Timestamp::from_millis(3_000),
            &channels,
            "e",
        )
        .expect("no-op");
        assert!(again.is_empty());
        assert_eq!(a.timeline.len(), 2);
    }

    #[test]
    fn deadlines_apply_only_to_the_latest_open_offer() {
        let (mut a, channels) = offered(&[Channel::Webhook]);
        let msg = DeadlineMessage {
            alert_id: a.alert_id.clone(),
            hospital_id: "h1".into(),
            offer: 1,
            round: 0,
        };
        assert!(deadline_applies(&a, &msg));
        move_on(
            &mut a,
            "h1",
            "x",
            "system",
            Timestamp::from_millis(5_000),
            &channels,
            "e",
        )
        .expect("moves on");
        assert!(!deadline_applies(&a, &msg), "h2 is being asked now");
        let mut resent = msg.clone();
        resent.offer = 2;
        resent.hospital_id = "h2".into();
        assert!(deadline_applies(&a, &resent));
        a.offers[1].resends = 1;
        assert!(
            !deadline_applies(&a, &resent),
            "a resend restarted the clock"
        );
    }

    #[test]
    fn standing_down_skips_the_winner_and_those_who_declined() {
        let (mut a, channels) = offered(&[Channel::Webhook]);
        move_on(
            &mut a,
            "h1",
            "x",
            "system",
            Timestamp::from_millis(5_000),
            &channels,
            "e",
        )
        .expect("moves on");
        let items = stand_down(&mut a, Some("h2"), Timestamp::from_millis(6_000), "s");
        assert_eq!(
            events(&items),
            vec![(
                "alert.cancelled".into(),
                "h1".into(),
                r#"["webhook","hospital-api"]"#.into()
            )]
        );
        assert!(stand_down(&mut a, Some("h2"), Timestamp::from_millis(7_000), "s").is_empty());
    }
}
