//! What each notification queue's worker does with one message. The verdict tells the
//! worker function what to do with the message: delete it, make it visible again later (a
//! retry on the emergency schedule), or park it in the dead-letter queue (it can never
//! succeed, or its attempts are spent) — each message on its own, so one bad message never
//! holds up a batch.

use std::time::{Duration, Instant};

use crate::comms::clinical::{ClinicalPicture, MedicalSummary};
use crate::comms::delivery::{
    self, AttemptRecord, Claim, DeliveryKey, DeliveryRecord, DeliveryState,
};
use crate::comms::endpoint::{self, Format};
use crate::comms::packet::{PacketLocation, WebhookPayload, break_glass_applies, fhir_bundle};
use crate::comms::{DeadlineMessage, backoff, escalation, hl7, links, sms};
use crate::emergencies::alert::{Alert, Status};
use crate::emergencies::handoff::{ALERT_CANCELLED, AlertEvent};
use crate::emergencies::store;
use crate::emergencies::trigger::{load_alert, open_clinical};
use crate::hospitals::{Channel, manage};
use crate::medical::profile::MedicalProfile;
use haven_kernel::audit::{self, AuditEvent};
use haven_kernel::catalogue::{DEADLINES_QUEUE, HOSPITAL_API_QUEUE, SMS_QUEUE, WEBHOOK_QUEUE};
use haven_kernel::error::DomainError;
use haven_kernel::metrics::{self, Metric};
use haven_kernel::ports::{OutgoingMessage, Ports, Publisher, Queue, WebhookResponse, Webhooks};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Handled (delivered, or nothing left to do): delete the message.
    Done,
    /// Try again after this long: the message's visibility is set to it.
    RetryIn(Duration),
    /// Put it in the dead-letter queue, with the reason.
    Park(String),
}

/// Handles one message from `queue`.
pub async fn handle<P: Ports>(ports: &P, queue: &str, body: &str, receive_count: u32) -> Verdict {
    let verdict = match queue {
        DEADLINES_QUEUE => deadline(ports, body, receive_count).await,
        WEBHOOK_QUEUE => deliver(ports, body, Channel::Webhook).await,
        SMS_QUEUE => deliver(ports, body, Channel::Sms).await,
        HOSPITAL_API_QUEUE => deliver(ports, body, Channel::HospitalApi).await,
        other => Verdict::Park(format!("no worker for queue {other}")),
    };
    if let Verdict::Park(reason) = &verdict {
        tracing::warn!(queue, %reason, "message parked in the dead-letter queue");
    }
    verdict
}

/// Sends a message to the dead-letter queue of `queue`, with why.
pub async fn park<P: Ports>(
    ports: &P,
    queue: &str,
    body: &str,
    reason: &str,
) -> Result<(), String> {
    let dlq = haven_kernel::catalogue::queue(queue)
        .and_then(|q| q.dead_letter)
        .ok_or_else(|| format!("queue {queue} has no dead-letter queue"))?;
    let reason: String = reason.chars().take(200).collect();
    ports
        .queue()
        .send(
            dlq.queue,
            OutgoingMessage::new(body).attribute("haven_reason", &reason),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

async fn deadline<P: Ports>(ports: &P, body: &str, receive_count: u32) -> Verdict {
    let Ok(msg) = serde_json::from_str::<DeadlineMessage>(body) else {
        return Verdict::Park("not a deadline message".into());
    };
    match escalation::on_deadline(ports, &msg).await {
        Ok(outcome) => {
            tracing::info!(alert_id = %msg.alert_id, hospital_id = %msg.hospital_id, ?outcome, "deadline");
            Verdict::Done
        }
        Err(e) => {
            tracing::warn!(alert_id = %msg.alert_id, error = %e, "deadline not processed; retrying");
            let s = ports.comms();
            Verdict::RetryIn(backoff::delay(receive_count, s.retry_base, s.retry_cap))
        }
    }
}

/// Why a delivery about an offer is no longer wanted, if it is not.
fn not_needed(alert: &Alert, event: &AlertEvent) -> Option<String> {
    if event.event == ALERT_CANCELLED {
        return None;
    }
    if !alert.status.is_open() {
        return Some(format!("the alert is {}", alert.status.as_str()));
    }
    let offer = alert.offer_to(&event.hospital_id)?;
    if offer.answer.is_some() {
        return Some("the hospital has answered".into());
    }
    if offer.stood_down || alert.status == Status::Acknowledged {
        return Some("another hospital took the alert".into());
    }
    None
}

async fn deliver<P: Ports>(ports: &P, body: &str, channel: Channel) -> Verdict {
    let Ok(event) = serde_json::from_str::<AlertEvent>(body) else {
        return Verdict::Park("not an alert event".into());
    };
    let key = DeliveryKey::of(&event, channel);
    let settings = ports.comms();
    let (alert, sealed) = match load_alert(ports, &event.alert_id).await {
        Ok(loaded) => loaded,
        Err(DomainError::NotFound(_)) => return Verdict::Park("no such alert".into()),
        Err(e) => {
            tracing::warn!(alert_id = %event.alert_id, error = %e, "alert unreadable; retrying");
            return Verdict::RetryIn(settings.retry_base);
        }
    };
    if let Some(why) = not_needed(&alert, &event) {
        return done_or_retry(delivery::skip(ports, &key, &why).await, settings.retry_base);
    }
    let record = match delivery::claim(ports, &key, settings.lease()).await {
        Ok(Claim::Go(r)) => *r,
        Ok(Claim::Done) => return Verdict::Done,
        Ok(Claim::Busy(wait)) => return Verdict::RetryIn(wait),
        Err(e) => {
            tracing::warn!(alert_id = %event.alert_id, error = %e, "delivery not claimed; retrying");
            return Verdict::RetryIn(settings.retry_base);
        }
    };
    let started = Instant::now();
    let now = ports.clock().now();
    let result = match channel {
        Channel::Webhook => send_webhook(ports, &alert, sealed.as_ref(), &event, &record).await,
        Channel::Sms => send_sms(ports, &alert, &event).await,
        Channel::HospitalApi => Ok(Sent::Delivered {
            status: None,
            detail: "in the hospital's Haven inbox".into(),
        }),
    };
    let latency_ms = started.elapsed().as_millis() as u64;
    conclude(ports, &key, record, &alert, &event, result, now, latency_ms).await
}

fn done_or_retry(result: Result<(), DomainError>, wait: Duration) -> Verdict {
    match result {
        Ok(()) => Verdict::Done,
        Err(_) => Verdict::RetryIn(wait),
    }
}

/// How one attempt went.
enum Sent {
    Delivered {
        status: Option<u16>,
        detail: String,
    },
    /// Worth another try, after `retry_after` if the receiver asked for a wait.
    Failed {
        outcome: String,
        status: Option<u16>,
        retry_after: Option<Duration>,
        detail: Option<String>,
    },
    /// Never worth another try.
    Refused {
        outcome: String,
        status: Option<u16>,
        detail: String,
    },
    /// Nowhere to send.
    Nowhere(String),
}

#[allow(clippy::too_many_arguments)]
async fn conclude<P: Ports>(
    ports: &P,
    key: &DeliveryKey,
    mut record: DeliveryRecord,
    alert: &Alert,
    event: &AlertEvent,
    result: Result<Sent, DomainError>,
    now: haven_kernel::Timestamp,
    latency_ms: u64,
) -> Verdict {
    let settings = ports.comms();
    let mut attempt = AttemptRecord {
        hospital_id: key.hospital_id.clone(),
        channel: key.channel,
        event: key.event.clone(),
        attempt: record.attempts,
        at: now.to_rfc3339(),
        outcome: String::new(),
        status_code: None,
        latency_ms,
        next_retry_at: None,
        detail: None,
    };
    let sent = match result {
        Ok(s) => s,
        Err(e) => Sent::Failed {
            outcome: "not_sent".into(),
            status: None,
            retry_after: None,
            detail: Some(e.to_string()),
        },
    };
    let verdict = match sent {
        Sent::Delivered { status, detail } => {
            record.state = DeliveryState::Delivered;
            attempt.outcome = "delivered".into();
            attempt.status_code = status;
            attempt.detail = Some(detail);
            Verdict::Done
        }
        Sent::Nowhere(why) => {
            record.state = DeliveryState::Skipped;
            attempt.outcome = "skipped".into();
            attempt.detail = Some(why);
            Verdict::Done
        }
        Sent::Refused {
            outcome,
            status,
            detail,
        } => {
            record.state = DeliveryState::Failed;
            attempt.outcome = outcome;
            attempt.status_code = status;
            attempt.detail = Some(detail);
            Verdict::Done
        }
        Sent::Failed {
            outcome,
            status,
            retry_after,
            detail,
        } => {
            attempt.outcome = outcome;
            attempt.status_code = status;
            attempt.detail = detail;
            if record.attempts >= settings.max_attempts {
                record.state = DeliveryState::Failed;
                attempt.detail = Some(format!(
                    "gave up after {} attempts{}",
                    record.attempts,
                    attempt
                        .detail
                        .as_deref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                ));
                Verdict::Park(format!("delivery failed {} times", record.attempts))
            } else {
                let wait = backoff::delay(record.attempts, settings.retry_base, settings.retry_cap);
                let wait = match retry_after {
                    Some(asked) => backoff::honour_retry_after(asked, wait, settings.retry_cap),
                    None => wait,
                };
                record.state = DeliveryState::Retrying;
                attempt.next_retry_at = Some(delivery::retry_at(now, wait));
                Verdict::RetryIn(wait)
            }
        }
    };
    let delivered = record.state == DeliveryState::Delivered;
    tracing::info!(
        alert_id = %key.alert_id,
        hospital_id = %key.hospital_id,
        channel = key.channel.as_str(),
        event = %key.event,
        attempt = attempt.attempt,
        outcome = %attempt.outcome,
        latency_ms,
        "delivery attempt"
    );
    if let Err(e) = delivery::finish(ports, key, record, &attempt).await {
        tracing::warn!(alert_id = %key.alert_id, error = %e, "delivery record not written");
    }
    if delivered {
        mark_notified(ports, alert, event, key.channel).await;
    }
    verdict
}

/// The first delivery on a push channel (or, for a hospital with none, to its inbox) moves
/// the alert to `notified`.
async fn mark_notified<P: Ports>(ports: &P, alert: &Alert, event: &AlertEvent, channel: Channel) {
    let applies = |a: &Alert| {
        let current = a
            .hospital
            .as_ref()
            .is_some_and(|h| h.hospital_id == event.hospital_id);
        let push_only_inbox = a
            .offer_to(&event.hospital_id)
            .is_some_and(|o| o.channels == [Channel::HospitalApi]);
        event.event != ALERT_CANCELLED
            && current
            && matches!(a.status, Status::Matched | Status::Escalated)
            && (channel != Channel::HospitalApi || push_only_inbox)
    };
    if !applies(alert) {
        return;
    }
    let note = format!("told by {}", channel.as_str());
    let mut first_hospital = false;
    let result = store::change(
        ports,
        &alert.alert_id,
        |_| true,
        |a, now| {
            if !applies(a) {
                return Err(DomainError::conflict("already moved on"));
            }
            // Matched → notified happens once: the first hospital told, on any channel.
            first_hospital = a.status == Status::Matched;
            a.transition(Status::Notified, now, "system", Some(&note))?;
            Ok(vec![])
        },
    )
    .await;
    match result {
        Ok((a, _)) if first_hospital => metrics::record_since(
            Metric::TimeToFirstDelivery,
            &a.created_at,
            ports.clock().now(),
            &a.alert_id,
        ),
        Ok(_) => {}
        Err(e) => {
            tracing::debug!(alert_id = %alert.alert_id, error = %e, "not marked notified")
        }
    }
}

/// The patient as the packet shows them, and their profile when break-glass applies. Handing
/// the profile over is a disclosure to that hospital, recorded once per delivery in the
/// patient's access log.
async fn patient_and_profile<P: Ports>(
    ports: &P,
    alert: &Alert,
    event: &AlertEvent,
    delivery_id: &str,
) -> Result<(String, Option<String>, Option<MedicalProfile>), DomainError> {
    let account = haven_identity_core::accounts::find_by_id(ports, &alert.patient_id).await?;
    let (name, phone) = account
        .map(|u| (u.full_name, u.phone))
        .unwrap_or_else(|| ("Unknown".into(), None));
    if !break_glass_applies(alert, &event.hospital_id, &event.event) {
        return Ok((name, phone, None));
    }
    let profile = match crate::medical::records::read(ports, &alert.patient_id).await {
        Ok(stored) => Some(stored.profile),
        Err(DomainError::NotFound(_)) => None,
        Err(e) => {
            // The alert still goes out, without the profile.
            tracing::warn!(alert_id = %alert.alert_id, error = %e, "profile not readable for the packet");
            None
        }
    };
    if profile.is_some() {
        let hospital_name = alert
            .offer_to(&event.hospital_id)
            .map(|o| o.hospital.name.as_str())
            .unwrap_or("the hospital");
        let audit_event = AuditEvent::new("medical.shared_with_hospital", "success")
            .actor("system")
            .subject(&alert.patient_id)
            .recipient(&event.hospital_id)
            .detail(format!(
                "disclosed to {hospital_name} ({}) with alert {}: the emergency packet (webhook {delivery_id})",
                event.hospital_id, alert.alert_id
            ));
        audit::record_once(ports, audit_event, delivery_id).await?;
    }
    Ok((name, phone, profile))
}

/// What is wrong, from the alert's sealed details; a stand-down carries none. An unreadable
/// envelope (keys unavailable) leaves it out rather than holding the alert back.
async fn clinical_picture<P: Ports>(
    ports: &P,
    alert: &Alert,
    sealed: Option<&haven_kernel::envelope::Envelope>,
    event: &AlertEvent,
    profile: Option<&MedicalProfile>,
) -> Option<ClinicalPicture> {
    if event.event == ALERT_CANCELLED {
        return None;
    }
    match open_clinical(ports, alert, sealed).await {
        Ok(details) => {
            let today = ports.clock().now().to_rfc3339();
            Some(ClinicalPicture::of(&details, profile, &today[..10]))
        }
        Err(e) => {
            tracing::warn!(alert_id = %alert.alert_id, error = %e, "clinical details not readable for the packet");
            None
        }
    }
}

async fn send_webhook<P: Ports>(
    ports: &P,
    alert: &Alert,
    sealed: Option<&haven_kernel::envelope::Envelope>,
    event: &AlertEvent,
    record: &DeliveryRecord,
) -> Result<Sent, DomainError> {
    let now = ports.clock().now();
    let Some(signing) = endpoint::for_delivery(ports, &event.hospital_id, now).await? else {
        return Ok(Sent::Nowhere("the hospital has no webhook endpoint".into()));
    };
    if signing.endpoint.disabled_at.is_some() {
        return Ok(Sent::Nowhere("the webhook endpoint is disabled".into()));
    }
    let (name, phone, profile) =
        patient_and_profile(ports, alert, event, &record.webhook_id).await?;
    let picture = clinical_picture(ports, alert, sealed, event, profile.as_ref()).await;
    let at = now.to_rfc3339();
    let facts = crate::medical::fhir::PatientFacts {
        id: &alert.patient_id,
        full_name: &name,
        phone: phone.as_deref(),
    };
    let fhir = fhir_bundle(
        alert,
        &event.hospital_id,
        &facts,
        profile.as_ref(),
        picture.as_ref(),
        &event.event,
        &at,
    );
    let hl7v2 = signing.endpoint.formats.contains(&Format::Hl7v2).then(|| {
        hl7::adt_a04(&hl7::Admission {
            alert,
            hospital_id: &event.hospital_id,
            patient_name: &name,
            patient_phone: phone.as_deref(),
            profile: profile.as_ref(),
            clinical: picture.as_ref(),
            control_id: &record.webhook_id,
            at: &at,
        })
    });
    let ack_url = if event.event == ALERT_CANCELLED {
        None
    } else {
        Some(links::issue(ports, &alert.alert_id, &event.hospital_id).await?)
    };
    let offer = alert.offer_to(&event.hospital_id);
    let payload = WebhookPayload {
        kind: event.event.clone(),
        alert_id: alert.alert_id.clone(),
        hospital_id: event.hospital_id.clone(),
        priority: alert.priority.as_str().into(),
        emergency_type: alert.emergency_type.as_str().into(),
        location: PacketLocation {
            latitude: alert.location.latitude,
            longitude: alert.location.longitude,
        },
        eta_minutes: offer.map(|o| o.hospital.eta_minutes),
        ack_url,
        medical: profile.as_ref().map(MedicalSummary::of),
        clinical: picture,
        fhir,
        hl7v2,
    };
    let body = serde_json::to_string(&payload)
        .map_err(|_| DomainError::Unavailable("the packet cannot be written".into()))?;
    let timestamp = now.epoch_seconds();
    let secrets: Vec<&crate::comms::signing::Secret> = signing.secrets.iter().collect();
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("user-agent".to_owned(), "Haven-Webhooks/1".to_owned()),
        ("webhook-id".to_owned(), record.webhook_id.clone()),
        ("webhook-timestamp".to_owned(), timestamp.to_string()),
        (
            "webhook-signature".to_owned(),
            crate::comms::signing::signature_header(&secrets, &record.webhook_id, timestamp, &body),
        ),
    ];
    let answer = ports
        .webhooks()
        .post(
            &signing.endpoint.url,
            &headers,
            &body,
            ports.comms().attempt_timeout,
        )
        .await;
    Ok(match answer {
        Ok(WebhookResponse { status, .. }) if (200..300).contains(&status) => Sent::Delivered {
            status: Some(status),
            detail: format!("HTTP {status}"),
        },
        Ok(WebhookResponse { status: 410, .. }) => {
            endpoint::disable(ports, &event.hospital_id, "the receiver answered 410 Gone").await?;
            Sent::Refused {
                outcome: "gone".into(),
                status: Some(410),
                detail: "the receiver answered 410 Gone; the endpoint is disabled".into(),
            }
        }
        Ok(WebhookResponse {
            status,
            retry_after,
        }) => Sent::Failed {
            outcome: format!("http_{status}"),
            status: Some(status),
            retry_after: retry_after.filter(|_| matches!(status, 429 | 503)),
            detail: None,
        },
        Err(e) => Sent::Failed {
            outcome: e.code().into(),
            status: None,
            retry_after: None,
            detail: Some(e.to_string()),
        },
    })
}

async fn send_sms<P: Ports>(
    ports: &P,
    alert: &Alert,
    event: &AlertEvent,
) -> Result<Sent, DomainError> {
    let hospital = manage::load(ports, &event.hospital_id).await?;
    let mut numbers = hospital.sms_numbers.clone();
    if numbers.is_empty()
        && let Some(phone) = hospital.phone.clone()
    {
        numbers.push(phone);
    }
    if numbers.is_empty() {
        return Ok(Sent::Nowhere("the hospital has no SMS number".into()));
    }
    let link = if event.event == ALERT_CANCELLED {
        None
    } else {
        Some(links::issue(ports, &alert.alert_id, &event.hospital_id).await?)
    };
    let distance = alert
        .offer_to(&event.hospital_id)
        .map(|o| o.hospital.distance_km);
    let text = sms::text(alert, &event.event, distance, link.as_deref());
    let mut sent = 0;
    let mut last_error = None;
    for number in &numbers {
        match ports.publisher().send_sms(number, &text).await {
            Ok(_) => sent += 1,
            Err(e) => last_error = Some(e.to_string()),
        }
    }
    Ok(if sent > 0 {
        Sent::Delivered {
            status: None,
            detail: format!("texted {sent} of {} numbers", numbers.len()),
        }
    } else {
        Sent::Failed {
            outcome: "sms_failed".into(),
            status: None,
            retry_after: None,
            detail: last_error,
        }
    })
}
