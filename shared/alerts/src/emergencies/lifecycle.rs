//! Reading and changing an alert after its trigger: status, history, location updates,
//! cancellation, verification of low-trust alerts, and a dispatcher's routing.

use serde::Serialize;

use crate::emergencies::alert::{Alert, Location, MatchedHospital, Status};
use crate::emergencies::trigger::{
    Matched, alert_criteria, hand_to_hospital, load_alert, match_hospitals, open_clinical,
};
use crate::emergencies::view::{AlertSummary, AlertView, Viewer, summary, view};
use crate::hospitals::manage;
use crate::hospitals::ranking::ranked;
use crate::hospitals::search::Candidate;
use haven_kernel::Timestamp;
use haven_kernel::envelope::Envelope;
use haven_kernel::error::DomainError;
use haven_kernel::item::Item;
use haven_kernel::ports::{Cursor, Index, Ports, Query, SortKey, Table};
use haven_kernel::roles::Role;

fn not_found() -> DomainError {
    DomainError::NotFound("alert".into())
}

/// An alert the viewer may see, or not found (whether it exists is nobody else's business).
async fn visible<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    alert_id: &str,
) -> Result<(Alert, Option<Envelope>), DomainError> {
    let (alert, sealed) = load_alert(ports, alert_id).await?;
    if !viewer.can_see(&alert) {
        return Err(not_found());
    }
    Ok((alert, sealed))
}

/// `GET /emergency/{alert_id}/status`.
pub async fn status<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    alert_id: &str,
) -> Result<AlertView, DomainError> {
    let (alert, sealed) = visible(ports, viewer, alert_id).await?;
    let details = open_clinical(ports, &alert, sealed.as_ref()).await?;
    Ok(view(&alert, &details))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPage {
    pub alerts: Vec<AlertSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /emergency/history`, newest first: a patient's own alerts, all alerts for a
/// dispatcher, the alerts routed to their hospital for its clinical staff.
pub async fn history<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<HistoryPage, DomainError> {
    let limit = limit.clamp(1, 100);
    let query = match viewer.role {
        Role::Patient => {
            Query::partition(haven_kernel::refs::user_alerts_partition(&viewer.user_id))
                .on(Index::Gsi1)
        }
        Role::Dispatcher => Query::partition("ALERTS").on(Index::Gsi2),
        Role::Nurse | Role::Doctor | Role::HospitalAdmin => {
            let h = viewer
                .hospital_id
                .as_deref()
                .ok_or(DomainError::Forbidden)?;
            Query::partition(format!("HOSPITAL#{h}")).sort(SortKey::BeginsWith("ALERT#".into()))
        }
        _ => return Err(DomainError::Forbidden),
    };
    let page = ports
        .table()
        .query(query.backward().limit(limit).after(cursor))
        .await?;
    let alerts = if matches!(viewer.role, Role::Patient | Role::Dispatcher) {
        page.items.iter().filter_map(Alert::from_item).collect()
    } else {
        // Routing records point at alerts; read those (in parallel, a page at a time).
        let reads = page
            .items
            .iter()
            .filter_map(|i| i.s("alert_id"))
            .map(|id| async move { load_alert(ports, id).await.map(|(a, _)| a) });
        futures::future::join_all(reads)
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect::<Vec<Alert>>()
    };
    Ok(HistoryPage {
        alerts: alerts.iter().map(summary).collect(),
        next_cursor: page.cursor.map(|c| c.as_str().to_owned()),
    })
}

/// Changes an alert the viewer may see (see `store::change`).
async fn change<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    alert_id: &str,
    apply: impl FnMut(&mut Alert, Timestamp) -> Result<Vec<Item>, DomainError>,
) -> Result<(Alert, Option<Envelope>), DomainError> {
    crate::emergencies::store::change(ports, alert_id, |a| viewer.can_see(a), apply).await
}

async fn answer<P: Ports>(
    ports: &P,
    (alert, sealed): (Alert, Option<Envelope>),
) -> Result<AlertView, DomainError> {
    let details = open_clinical(ports, &alert, sealed.as_ref()).await?;
    Ok(view(&alert, &details))
}

/// `PUT /emergency/{alert_id}/location`: the person's device reports where they are now
/// (recorded on the track and pushed to watchers, as over the socket).
pub async fn update_location<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    alert_id: &str,
    location: Location,
) -> Result<AlertView, DomainError> {
    let changed =
        crate::tracking::positions::report_patient(ports, viewer, alert_id, location).await?;
    answer(ports, changed).await
}

/// `POST /emergency/{alert_id}/cancel`: by the person, or a dispatcher. Hospitals already
/// told are told to stand down.
pub async fn cancel<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    alert_id: &str,
    reason: Option<&str>,
) -> Result<AlertView, DomainError> {
    if let Some(r) = reason
        && r.chars().count() > 200
    {
        return Err(DomainError::invalid(
            "reason",
            "a reason has at most 200 characters",
        ));
    }
    let changed = change(ports, viewer, alert_id, |alert, now| {
        if !(viewer.is_reporter(alert)
            || viewer.role == Role::Dispatcher && viewer.bypass_jti.is_none())
        {
            return Err(DomainError::Forbidden);
        }
        alert.transition(Status::Cancelled, now, &viewer.user_id, reason)?;
        // Hospitals already told stand down over every channel they were told on.
        Ok(crate::comms::escalation::stand_down(
            alert,
            None,
            now,
            &ports.ids().next_id(),
        ))
    })
    .await?;
    answer(ports, changed).await
}

/// `POST /emergency/{alert_id}/verify`: the second factor of a low-trust alert. The person
/// sends the code texted to their phone; a dispatcher who called them back sends none.
/// Hospitals are matched afresh (capacity may have changed) and told.
pub async fn verify<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    alert_id: &str,
    code: Option<&str>,
) -> Result<AlertView, DomainError> {
    let (alert, _) = visible(ports, viewer, alert_id).await?;
    let by_dispatcher = viewer.role == Role::Dispatcher && viewer.bypass_jti.is_none();
    if !(viewer.is_reporter(&alert) || by_dispatcher) {
        return Err(DomainError::Forbidden);
    }
    if alert.status != Status::Unverified {
        return Err(DomainError::Conflict {
            message: format!(
                "an alert that is {} needs no verification",
                alert.status.as_str()
            ),
            current: Some(alert.status.as_str().into()),
        });
    }
    let method = if by_dispatcher {
        "verified by a dispatcher's call-back"
    } else {
        let code = code
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| DomainError::invalid("code", "send the code texted to your phone"))?;
        haven_identity_core::sessions::accept_code(ports, "alert", alert_id, code)
            .await
            .map_err(|e| match e {
                DomainError::Unauthenticated => {
                    DomainError::invalid("code", "the code is wrong or has expired")
                }
                other => other,
            })?;
        "verified by a code sent to the phone"
    };
    let ranked =
        match_hospitals(ports, alert.emergency_type, alert.priority, &alert.location).await?;
    let changed = change(ports, viewer, alert_id, |alert, now| {
        alert.verified_at = Some(now.to_rfc3339());
        alert.timeline.push(crate::emergencies::alert::Transition {
            status: alert.status,
            at: now.to_rfc3339(),
            by: Some(viewer.user_id.clone()),
            note: Some(method.into()),
        });
        hand_to_hospital(alert, &ranked, now, &viewer.user_id, &ports.ids().next_id())
    })
    .await?;
    crate::emergencies::trigger::observe_handoff(&changed.0, ports.clock().now());
    answer(ports, changed).await
}

/// `POST /hospitals/{id}/alert`: a dispatcher sends an alert to a hospital of their choice.
pub async fn route_to_hospital<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    hospital_id: &str,
    alert_id: &str,
    reason: Option<&str>,
) -> Result<AlertView, DomainError> {
    if viewer.role != Role::Dispatcher || viewer.bypass_jti.is_some() {
        return Err(DomainError::Forbidden);
    }
    if let Some(r) = reason
        && r.chars().count() > 200
    {
        return Err(DomainError::invalid(
            "reason",
            "a reason has at most 200 characters",
        ));
    }
    let hospital = manage::load(ports, hospital_id).await?;
    let changed = change(ports, viewer, alert_id, |alert, now| {
        let candidate = Candidate {
            distance_km: alert
                .location
                .coordinates()
                .distance_km(hospital.coordinates()),
            hospital: hospital.clone(),
        };
        let criteria = alert_criteria(alert.emergency_type, alert.priority);
        // The dispatcher's choice stands, whatever its state: no last-resort marking.
        let chosen = ranked(&candidate, &criteria, None);
        // The dispatcher's choice first, then the earlier plan without it.
        let earlier: Vec<&MatchedHospital> = alert
            .hospital
            .iter()
            .chain(alert.fallbacks.iter())
            .collect();
        let keep: Vec<MatchedHospital> = earlier
            .into_iter()
            .filter(|m| m.hospital_id != hospital.hospital_id)
            .cloned()
            .collect();
        if alert.status == Status::Unverified {
            alert.verified_at = Some(now.to_rfc3339());
        }
        let note = reason.unwrap_or("routed by a dispatcher");
        let event_id = ports.ids().next_id();
        let items = hand_to_hospital(
            alert,
            &Matched::only(chosen),
            now,
            &viewer.user_id,
            &event_id,
        )?;
        if let Some(last) = alert.timeline.last_mut() {
            last.note = Some(note.to_owned());
        }
        alert.fallbacks = keep;
        Ok(items)
    })
    .await?;
    answer(ports, changed).await
}
