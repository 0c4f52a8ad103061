//! `GET /hospital/comms/status/{alert_id}`: every offer, delivery and attempt of an alert,
//! for the dispatcher watching it and the hospitals it was offered to.

use serde::Serialize;

use crate::comms::delivery::{self, AttemptRecord, DeliveryRecord};
use crate::comms::{Answer, Offer};
use crate::emergencies::alert::{Status, Transition};
use crate::emergencies::trigger::load_alert;
use crate::emergencies::view::Viewer;
use crate::hospitals::Channel;
use haven_kernel::Timestamp;
use haven_kernel::error::DomainError;
use haven_kernel::ports::Ports;
use haven_kernel::roles::Role;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferView {
    pub hospital_id: String,
    pub name: String,
    pub offered_at: String,
    pub channels: Vec<Channel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<String>,
    /// When the answer is due, while it is awaited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommsStatus {
    pub alert_id: String,
    pub status: Status,
    pub hospital_id: Option<String>,
    pub offers: Vec<OfferView>,
    pub deliveries: Vec<DeliveryRecord>,
    pub attempts: Vec<AttemptRecord>,
    pub timeline: Vec<Transition>,
}

fn offer_view(o: &Offer, latest: bool, waiting: bool, deadline: std::time::Duration) -> OfferView {
    let deadline_at = (latest && waiting && o.answer.is_none())
        // A redriven offer's deadline runs from when it was sent again.
        .then(|| Timestamp::parse_rfc3339(o.redriven_at.as_deref().unwrap_or(&o.offered_at)))
        .flatten()
        .map(|t| t.plus(deadline).to_rfc3339());
    OfferView {
        hospital_id: o.hospital.hospital_id.clone(),
        name: o.hospital.name.clone(),
        offered_at: o.offered_at.clone(),
        channels: o.channels.clone(),
        answer: o.answer.clone(),
        expired_at: o.expired_at.clone(),
        deadline_at,
    }
}

pub async fn status<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    alert_id: &str,
) -> Result<CommsStatus, DomainError> {
    let (alert, _) = load_alert(ports, alert_id).await?;
    let staff = matches!(
        viewer.role,
        Role::Nurse | Role::Doctor | Role::HospitalAdmin
    );
    let sees_all = viewer.role == Role::Dispatcher && viewer.bypass_jti.is_none();
    if !(sees_all || staff && viewer.can_see(&alert)) {
        return Err(DomainError::NotFound("alert".into()));
    }
    // Hospital staff see their own hospital's part, not how other hospitals answered.
    let own = |h: &str| sees_all || viewer.hospital_id.as_deref() == Some(h);
    let (deliveries, attempts) = delivery::of_alert(ports, alert_id).await?;
    let n = alert.offers.len();
    let deadline = ports.comms().ack_deadline;
    Ok(CommsStatus {
        alert_id: alert.alert_id.clone(),
        status: alert.status,
        hospital_id: alert.hospital.as_ref().map(|h| h.hospital_id.clone()),
        offers: alert
            .offers
            .iter()
            .enumerate()
            .filter(|(_, o)| own(o.hospital_id()))
            .map(|(i, o)| offer_view(o, i + 1 == n, alert.awaits_answer(), deadline))
            .collect(),
        deliveries: deliveries
            .into_iter()
            .filter(|d| own(&d.hospital_id))
            .collect(),
        attempts: attempts
            .into_iter()
            .filter(|a| own(&a.hospital_id))
            .collect(),
        timeline: if sees_all {
            alert.timeline.clone()
        } else {
            vec![]
        },
    })
}
