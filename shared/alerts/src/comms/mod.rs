//! The comms context: telling hospitals about alerts until one answers. An alert is
//! *offered* to one hospital at a time, on its first channel (a webhook, else SMS) and in
//! its Haven inbox; a deadline timer runs with each offer. No answer in time, or a decline,
//! and the alert is offered to the next fallback hospital while the silent hospital is tried
//! on its next channel. The first hospital to accept gets the patient.
//!
//! Delivery is at least once with stable ids: every delivery of one event to one hospital
//! carries the same `webhook-id`, and a delivery record stops a second copy of a message from
//! sending again, so a receiver that keys on `webhook-id` sees each event once.

pub mod backoff;
pub mod clinical;
pub mod delivery;
pub mod endpoint;
pub mod escalation;
pub mod hl7;
pub mod links;
pub mod packet;
pub mod signing;
pub mod sms;
pub mod status;
pub mod workers;

use serde::{Deserialize, Serialize};

use crate::emergencies::alert::MatchedHospital;
use crate::hospitals::Channel;

pub use haven_kernel::settings::CommsSettings;

/// A hospital's answer to an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Accept,
    Decline,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Decline => "decline",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub decision: Decision,
    pub at: String,
    /// A user id, or `link:<hospital>` for an answer through an acknowledgement link.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The alert offered to one hospital: when, on which channels so far, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub hospital: MatchedHospital,
    pub offered_at: String,
    /// Channels the hospital has been told on, in the order they were tried.
    pub channels: Vec<Channel>,
    /// The channels it has and has not been told on yet, for escalation by channel.
    #[serde(default)]
    pub untried: Vec<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
    /// When the deadline passed without an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<String>,
    /// Times a dispatcher sent it again; each sending is a new delivery with a new id.
    #[serde(default)]
    pub resends: u32,
    /// Told to stand down (the alert was cancelled or went to another hospital).
    #[serde(default)]
    pub stood_down: bool,
    /// The event the offer went out as (`alert.created`, `alert.escalated`): sending it again
    /// as the same event reuses its deliveries and their `webhook-id`s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// When its deadline found nothing delivered and it was sent again (once, `on_deadline`):
    /// its deadline then runs from here, and a late copy of the first timer is stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redriven_at: Option<String>,
}

impl Offer {
    pub fn hospital_id(&self) -> &str {
        &self.hospital.hospital_id
    }
    pub fn is_open(&self) -> bool {
        self.answer.is_none()
    }
}

/// The channels an offer starts on, and the ones kept for escalation. A webhook (machine to
/// machine, fastest) goes first; SMS wakes a person when the webhook goes unanswered. The
/// Haven inbox (`hospital-api`) is always told.
pub fn staged_channels(hospital_channels: &[Channel]) -> (Vec<Channel>, Vec<Channel>) {
    let push: Vec<Channel> = [Channel::Webhook, Channel::Sms]
        .into_iter()
        .filter(|c| hospital_channels.contains(c))
        .collect();
    let mut first: Vec<Channel> = push.first().copied().into_iter().collect();
    first.push(Channel::HospitalApi);
    let rest = push.into_iter().skip(1).collect();
    (first, rest)
}

/// The body of a deadline timer: the alert's `offer`-th offer (1-based), to `hospital_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineMessage {
    pub alert_id: String,
    pub hospital_id: String,
    pub offer: u32,
    /// The offer's `resends` when the timer started: a resend restarts the clock.
    #[serde(default)]
    pub round: u32,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::emergencies::alert::{Alert, EmergencyType, Location, Priority, Status};

    /// A matched critical cardiac alert in central Nairobi.
    pub(crate) fn alert() -> Alert {
        Alert {
            alert_id: "0193f0c1-0000-7000-8000-000000000001".into(),
            status: Status::Matched,
            priority: Priority::Critical,
            emergency_type: EmergencyType::Cardiac,
            location: Location::new(-1.29, 36.82, Some(10.0)).expect("valid"),
            ..crate::emergencies::alert::tests::sample()
        }
    }

    #[test]
    fn a_webhook_goes_first_then_sms_and_the_inbox_always() {
        use Channel::*;
        assert_eq!(
            staged_channels(&[Sms, Webhook]),
            (vec![Webhook, HospitalApi], vec![Sms])
        );
        assert_eq!(staged_channels(&[Sms]), (vec![Sms, HospitalApi], vec![]));
        assert_eq!(staged_channels(&[]), (vec![HospitalApi], vec![]));
    }
}
