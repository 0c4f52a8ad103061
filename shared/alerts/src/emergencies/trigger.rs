//! `POST /emergency/alert`: one tap becomes a stored, prioritised, matched alert handed to
//! the notification pipeline, or, for a retry or a second tap, the alert that already exists.
//!
//! trigger → validate → deduplicate (idempotency key, bypass token, open alert nearby) →
//! prioritise → match → store (alert, idempotency record, open-alert marker, outbox event,
//! routing, in one transaction) → publish.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::emergencies::alert::{
    Alert, CLINICAL, ClinicalDetails, EmergencyType, Location, MatchedHospital, Priority, Source,
    Status, Transition,
};
use crate::emergencies::handoff::{self, ALERT_CREATED};
use crate::emergencies::priority::{Facts, Vitals, prioritise, symptom_codes, symptom_named};
use crate::emergencies::view::{AlertView, view};
use crate::hospitals::directory::{find, nearest_beyond};
use crate::hospitals::ranking::{Care, Criteria, NearestBeyond, RankedHospital};
use haven_identity_core as identity;
use haven_identity_core::codes::lookup_hash;
use haven_kernel::Timestamp;
use haven_kernel::envelope;
use haven_kernel::error::DomainError;
use haven_kernel::item::{EXPIRES_AT, Item, Key, Value};
use haven_kernel::metrics::{self, Metric};
use haven_kernel::ports::{Comparison, Condition, Ports, Table, TableError, TransactOp};

/// A second alert by the same person within this window and radius joins the first.
pub const JOIN_WINDOW: Duration = Duration::from_secs(5 * 60);
pub const JOIN_RADIUS_KM: f64 = 0.5;
/// How far hospitals are looked for; beyond it the alert escalates to a dispatcher.
pub const MATCH_RADIUS_KM: f64 = 100.0;
/// Alternatives kept for escalation, in order.
pub const FALLBACKS: usize = 4;
const IDEMPOTENCY_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const NOTE_MAX_CHARS: usize = 500;
const SYMPTOMS_MAX: usize = 20;
/// Races with another request for the same person are retried this often.
const ATTEMPTS: usize = 5;

/// The body of `POST /emergency/alert`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerRequest {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub accuracy_m: Option<f64>,
    pub emergency_type: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub symptoms: Vec<String>,
    #[serde(default)]
    pub vitals: Option<Vitals>,
}

struct Valid {
    location: Location,
    emergency_type: EmergencyType,
    note: Option<String>,
    symptoms: Vec<String>,
    vitals: Option<Vitals>,
}

impl TriggerRequest {
    fn validate(&self) -> Result<Valid, DomainError> {
        let location = Location::new(self.latitude, self.longitude, self.accuracy_m)?;
        let emergency_type = EmergencyType::parse(&self.emergency_type)?;
        let note = match self.note.as_deref().map(str::trim) {
            Some(n) if n.chars().count() > NOTE_MAX_CHARS => {
                return Err(DomainError::invalid(
                    "note",
                    format!("a note has at most {NOTE_MAX_CHARS} characters"),
                ));
            }
            Some(n) if n.chars().any(|c| c.is_control() && c != '\n') => {
                return Err(DomainError::invalid(
                    "note",
                    "a note has no control characters",
                ));
            }
            Some("") | None => None,
            Some(n) => Some(n.to_owned()),
        };
        if self.symptoms.len() > SYMPTOMS_MAX {
            return Err(DomainError::invalid(
                "symptoms",
                format!("at most {SYMPTOMS_MAX} symptoms"),
            ));
        }
        for (i, s) in self.symptoms.iter().enumerate() {
            if symptom_named(s).is_none() {
                // Echo the code only when it is short and plain: it goes into the problem text.
                let shown = if s.len() <= 40 && s.bytes().all(|b| b.is_ascii_graphic()) {
                    format!("`{s}`")
                } else {
                    "this code".to_owned()
                };
                return Err(DomainError::invalid(
                    &format!("symptoms[{i}]"),
                    format!(
                        "{shown} is not a symptom Haven knows; the known symptoms are {}",
                        symptom_codes().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        if let Some(v) = &self.vitals {
            v.validate()?;
        }
        let mut symptoms = self.symptoms.clone();
        symptoms.sort_unstable();
        symptoms.dedup();
        Ok(Valid {
            location,
            emergency_type,
            note,
            symptoms,
            vitals: self.vitals,
        })
    }
}

/// Who raised the alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporter {
    pub user_id: String,
    /// Set for an emergency bypass token: its id and expiry (epoch seconds).
    pub bypass: Option<(String, i64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    /// A second tap nearby joined the person's open alert.
    Joined,
    /// A retry (same Idempotency-Key, or the same bypass token) got the first alert back.
    Replayed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Triggered {
    pub outcome: Outcome,
    #[serde(flatten)]
    pub alert: AlertView,
}

fn idempotency_key(user_id: &str, key: &str) -> Result<Key, DomainError> {
    let ok = (1..=255).contains(&key.len()) && key.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if !ok {
        return Err(DomainError::invalid(
            "idempotency_key",
            "an Idempotency-Key is 1 to 255 visible ASCII characters",
        ));
    }
    Ok(Key::new(
        format!("IDEMPOTENCY#{user_id}#{}", lookup_hash(key)),
        "IDEMPOTENCY",
    ))
}

fn bypass_key(jti: &str) -> Key {
    Key::new(format!("BYPASS#{jti}"), "ALERT")
}

fn open_alert_key(user_id: &str) -> Key {
    Key::new(format!("USER#{user_id}"), "OPEN_ALERT")
}

/// A record that expired (TTL) but may not be deleted yet may be overwritten.
fn absent_or_expired(now: Timestamp) -> Condition {
    Condition::Or(vec![
        Condition::item_absent(),
        Condition::Compare(
            EXPIRES_AT.into(),
            Comparison::Le,
            Value::n(now.epoch_seconds()),
        ),
    ])
}

async fn live<P: Ports>(ports: &P, key: &Key) -> Result<Option<Item>, DomainError> {
    let now = ports.clock().now().epoch_seconds();
    Ok(ports.table().get(key).await?.filter(|i| !i.is_expired(now)))
}

/// An alert and the envelope of its clinical details.
pub(crate) async fn load_alert<P: Ports>(
    ports: &P,
    alert_id: &str,
) -> Result<(Alert, Option<envelope::Envelope>), DomainError> {
    let not_found = || DomainError::NotFound("alert".into());
    if !haven_kernel::ids::is_valid_id(alert_id) {
        return Err(not_found());
    }
    let item = ports
        .table()
        .get(&Alert::key(alert_id))
        .await?
        .ok_or_else(not_found)?;
    let alert = Alert::from_item(&item).ok_or_else(not_found)?;
    Ok((alert, envelope::Envelope::read_from(&item, CLINICAL)))
}

/// Opens the sealed clinical details of an alert.
pub(crate) async fn open_clinical<P: Ports>(
    ports: &P,
    alert: &Alert,
    sealed: Option<&envelope::Envelope>,
) -> Result<ClinicalDetails, DomainError> {
    let Some(sealed) = sealed else {
        return Ok(ClinicalDetails::default());
    };
    let plain = envelope::open(ports.key_ring(), &alert.clinical_context(), sealed)
        .await
        .map_err(|_| DomainError::Unavailable("encryption keys are unavailable".into()))?;
    Ok(serde_json::from_slice(&plain).unwrap_or_default())
}

/// What an alert needs of a hospital: one that can treat the emergency, its type's care
/// preferred (soft), ICU room when critical; one that can only stabilise when nothing that
/// can treat is in reach.
pub(crate) fn alert_criteria(emergency_type: EmergencyType, priority: Priority) -> Criteria {
    Criteria {
        specialty: Some(emergency_type.specialty().to_owned()),
        specialty_required: false,
        min_beds: 0,
        min_level: 2,
        needs_icu: priority == Priority::Critical,
        care: Care::Emergency,
        stabilise_as_last_resort: true,
        limit: 1 + FALLBACKS,
    }
}

/// Hospitals for an alert: the primary and its ordered fallbacks (empty when none is in
/// reach), and, when none of them can treat, the nearest that could beyond reach.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Matched {
    pub hospitals: Vec<RankedHospital>,
    pub nearest_beyond: Vec<NearestBeyond>,
}

impl Matched {
    /// A choice made elsewhere (a dispatcher's), with nothing beyond it.
    pub(crate) fn only(hospital: RankedHospital) -> Self {
        Matched {
            hospitals: vec![hospital],
            nearest_beyond: vec![],
        }
    }
}

pub(crate) async fn match_hospitals<P: Ports>(
    ports: &P,
    emergency_type: EmergencyType,
    priority: Priority,
    location: &Location,
) -> Result<Matched, DomainError> {
    let criteria = alert_criteria(emergency_type, priority);
    let center = location.coordinates();
    let (ranking, _) = find(ports, center, MATCH_RADIUS_KM, &criteria).await?;
    // A dispatcher needs to know where a hospital that can treat is, when none is in reach.
    let nearest_beyond = if ranking.has_capable() {
        vec![]
    } else {
        nearest_beyond(ports, center, MATCH_RADIUS_KM, &criteria).await?
    };
    Ok(Matched {
        hospitals: ranking.hospitals,
        nearest_beyond,
    })
}

/// The timeline note of an alert no hospital in reach could take.
fn nothing_in_reach(beyond: &[NearestBeyond]) -> String {
    let mut note = format!("no hospital within {MATCH_RADIUS_KM:.0} km; a dispatcher routes it");
    if let Some(b) = beyond.first() {
        note.push_str(&format!(
            "; nearest that can treat: {} ({:.0} km)",
            b.name, b.distance_km
        ));
    }
    note
}

/// The transition that hands an alert to a hospital (or to a dispatcher when none is in
/// reach), with its outbox event and routing record.
pub(crate) fn hand_to_hospital(
    alert: &mut Alert,
    matched: &Matched,
    now: Timestamp,
    by: &str,
    event_id: &str,
) -> Result<Vec<Item>, DomainError> {
    let ranked = &matched.hospitals;
    alert.nearest_beyond = matched.nearest_beyond.clone();
    let Some(primary) = ranked.first() else {
        alert.hospital = None;
        alert.fallbacks.clear();
        alert.transition(
            Status::Escalated,
            now,
            by,
            Some(&nothing_in_reach(&matched.nearest_beyond)),
        )?;
        return Ok(vec![]);
    };
    alert.hospital = Some(MatchedHospital::from(primary));
    alert.fallbacks = ranked[1..].iter().map(MatchedHospital::from).collect();
    // A last resort (diverting, full, or only able to stabilise) says so in the timeline.
    alert.transition(
        Status::Matched,
        now,
        by,
        primary.last_resort_detail.as_deref(),
    )?;
    Ok(crate::comms::escalation::offer(
        alert,
        MatchedHospital::from(primary),
        &primary.channels,
        ALERT_CREATED,
        now,
        event_id,
    ))
}

pub async fn trigger<P: Ports>(
    ports: &P,
    reporter: &Reporter,
    request: TriggerRequest,
    idempotency: Option<&str>,
) -> Result<Triggered, DomainError> {
    let valid = request.validate()?;
    let idempotency_key = idempotency
        .map(|k| idempotency_key(&reporter.user_id, k))
        .transpose()?;
    let fingerprint = lookup_hash(&serde_json::to_string(&request).unwrap_or_default());

    for _ in 0..ATTEMPTS {
        let now = ports.clock().now();
        if let Some(key) = &idempotency_key
            && let Some(record) = live(ports, key).await?
        {
            if record.s("fingerprint") != Some(fingerprint.as_str()) {
                return Err(DomainError::invalid(
                    "idempotency_key",
                    "this Idempotency-Key was used for a different alert",
                ));
            }
            let alert_id = record.s("alert_id").unwrap_or_default();
            return answer(ports, Outcome::Replayed, alert_id).await;
        }
        if let Some((jti, _)) = &reporter.bypass
            && let Some(record) = live(ports, &bypass_key(jti)).await?
        {
            let (alert, _) = load_alert(ports, record.s("alert_id").unwrap_or_default()).await?;
            if !alert.status.is_open() {
                return Err(DomainError::Conflict {
                    message: "this emergency token has raised its alert already; sign in or ask for a new token".into(),
                    current: Some(alert.status.as_str().into()),
                });
            }
            return answer(ports, Outcome::Replayed, &alert.alert_id).await;
        }

        // A second tap nearby, soon after the first, joins the open alert.
        let marker = live(ports, &open_alert_key(&reporter.user_id)).await?;
        let marked_alert = marker
            .as_ref()
            .and_then(|m| m.s("alert_id"))
            .map(str::to_owned);
        if let Some(alert_id) = &marked_alert {
            let (alert, _) = load_alert(ports, alert_id).await?;
            let near = alert
                .location
                .coordinates()
                .distance_km(valid.location.coordinates())
                <= JOIN_RADIUS_KM;
            if alert.status.is_open() && near && reporter.bypass.is_none() {
                if let Some(key) = &idempotency_key {
                    let record = idempotency_record(key, &alert.alert_id, &fingerprint, now);
                    match ports
                        .table()
                        .put(record, Some(absent_or_expired(now)))
                        .await
                    {
                        Ok(()) => {}
                        Err(TableError::ConditionFailed) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                return answer(ports, Outcome::Joined, &alert.alert_id).await;
            }
        }

        let (alert, details, sealed, writes) = new_alert(ports, reporter, &valid, now).await?;
        let mut ops = vec![TransactOp::Put {
            item: {
                let mut item = alert.to_item();
                sealed.write_to(&mut item, CLINICAL);
                item
            },
            condition: Some(Condition::item_absent()),
        }];
        if let Some(key) = &idempotency_key {
            ops.push(TransactOp::Put {
                item: idempotency_record(key, &alert.alert_id, &fingerprint, now),
                condition: Some(absent_or_expired(now)),
            });
        }
        if let Some((jti, expires)) = &reporter.bypass {
            ops.push(TransactOp::Put {
                item: Item::new(&bypass_key(jti))
                    .with("alert_id", Value::s(&alert.alert_id))
                    .with(EXPIRES_AT, Value::n(expires + 60)),
                condition: Some(Condition::item_absent()),
            });
        }
        // The marker changes hands only if nobody moved it since it was read.
        let marker_condition = match &marked_alert {
            None => absent_or_expired(now),
            Some(id) => Condition::Or(vec![
                absent_or_expired(now),
                Condition::equals("alert_id", Value::s(id)),
            ]),
        };
        ops.push(TransactOp::Put {
            item: Item::new(&open_alert_key(&reporter.user_id))
                .with("alert_id", Value::s(&alert.alert_id))
                .with(EXPIRES_AT, Value::n(now.plus(JOIN_WINDOW).epoch_seconds())),
            condition: Some(marker_condition),
        });
        let outbox: Vec<Item> = writes
            .iter()
            .filter(|i| i.s("topic").is_some())
            .cloned()
            .collect();
        ops.extend(writes.into_iter().map(|item| TransactOp::Put {
            item,
            condition: None,
        }));
        match ports.table().transact_write(ops).await {
            Ok(()) => {
                handoff::deliver(ports, &outbox).await;
                observe_handoff(&alert, now);
                if alert.status == Status::Unverified {
                    send_verification_code(ports, &alert).await;
                }
                return Ok(Triggered {
                    outcome: Outcome::Created,
                    alert: view(&alert, &details),
                });
            }
            // Another request for this person won a race: read again and replay or join.
            Err(TableError::TransactionCanceled(_) | TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DomainError::conflict(
        "too many simultaneous alerts for this person; try again",
    ))
}

fn idempotency_record(key: &Key, alert_id: &str, fingerprint: &str, now: Timestamp) -> Item {
    Item::new(key)
        .with("alert_id", Value::s(alert_id))
        .with("fingerprint", Value::s(fingerprint))
        .with(
            EXPIRES_AT,
            Value::n(now.plus(IDEMPOTENCY_LIFETIME).epoch_seconds()),
        )
}

/// The alert path's metrics for a handoff just stored: how long matching took, or that no
/// hospital was in reach (dispatch takes it).
pub(crate) fn observe_handoff(alert: &Alert, now: Timestamp) {
    match alert.status {
        Status::Matched => {
            metrics::record_since(Metric::TimeToMatch, &alert.created_at, now, &alert.alert_id)
        }
        Status::Escalated if alert.hospital.is_none() => {
            metrics::count(Metric::AlertsUnacknowledged, &alert.alert_id)
        }
        _ => {}
    }
}

/// The stored alert as the answer to a retry or a second tap.
async fn answer<P: Ports>(
    ports: &P,
    outcome: Outcome,
    alert_id: &str,
) -> Result<Triggered, DomainError> {
    let (alert, sealed) = load_alert(ports, alert_id).await?;
    let details = open_clinical(ports, &alert, sealed.as_ref()).await?;
    Ok(Triggered {
        outcome,
        alert: view(&alert, &details),
    })
}

/// Builds the alert, its sealed clinical details and the items its hand-off writes.
async fn new_alert<P: Ports>(
    ports: &P,
    reporter: &Reporter,
    valid: &Valid,
    now: Timestamp,
) -> Result<(Alert, ClinicalDetails, envelope::Envelope, Vec<Item>), DomainError> {
    // The person's own profile, when they keep one, sharpens the priority. An unreadable
    // or missing profile must never stop an alert.
    let profile = crate::medical::records::read(ports, &reporter.user_id)
        .await
        .ok()
        .map(|p| p.profile);
    let conditions = profile
        .as_ref()
        .map(|p| p.condition_words())
        .unwrap_or_default();
    let today = &now.to_rfc3339()[..10];
    let decision = prioritise(&Facts {
        emergency_type: Some(valid.emergency_type),
        symptoms: &valid.symptoms,
        vitals: valid.vitals.unwrap_or_default(),
        conditions: &conditions,
        age_years: profile.as_ref().and_then(|p| p.age_on(today)),
    });
    let ranked = match_hospitals(
        ports,
        valid.emergency_type,
        decision.priority,
        &valid.location,
    )
    .await?;
    let at = now.to_rfc3339();
    let low_trust = reporter.bypass.is_some();
    let mut alert = Alert {
        alert_id: ports.ids().next_id(),
        patient_id: reporter.user_id.clone(),
        source: if low_trust {
            Source::Bypass
        } else {
            Source::App
        },
        bypass_jti: reporter.bypass.as_ref().map(|(jti, _)| jti.clone()),
        status: Status::Triggered,
        priority: decision.priority,
        emergency_type: valid.emergency_type,
        location: valid.location,
        location_updated_at: at.clone(),
        hospital: None,
        fallbacks: vec![],
        routed_to: vec![],
        offers: vec![],
        responders: vec![],
        dispatch: None,
        verification_required: false,
        verified_at: None,
        review_required: false,
        nearest_beyond: vec![],
        timeline: vec![Transition {
            status: Status::Triggered,
            at: at.clone(),
            by: Some(reporter.user_id.clone()),
            note: None,
        }],
        created_at: at,
        version: 1,
    };
    let writes = if low_trust && decision.priority != Priority::Critical {
        // Kept, with its best hospitals, but nobody is told until a second factor arrives.
        alert.verification_required = true;
        alert.hospital = ranked.hospitals.first().map(MatchedHospital::from);
        alert.fallbacks = ranked
            .hospitals
            .iter()
            .skip(1)
            .map(MatchedHospital::from)
            .collect();
        alert.nearest_beyond = ranked.nearest_beyond.clone();
        alert.transition(
            Status::Unverified,
            now,
            "system",
            Some("raised with an emergency token; waiting for a second factor"),
        )?;
        vec![]
    } else {
        alert.review_required = low_trust;
        let event_id = ports.ids().next_id();
        hand_to_hospital(&mut alert, &ranked, now, "system", &event_id)?
    };
    let details = ClinicalDetails {
        note: valid.note.clone(),
        symptoms: valid.symptoms.clone(),
        vitals: valid.vitals,
        priority_rule: decision.rule.to_owned(),
        priority_reason: decision.reason.to_owned(),
    };
    let sealed = envelope::seal(
        ports.key_ring(),
        &alert.clinical_context(),
        &serde_json::to_vec(&details).unwrap_or_default(),
    )
    .await
    .map_err(|_| DomainError::Unavailable("encryption keys are unavailable".into()))?;
    Ok((alert, details, sealed, writes))
}

/// The one-time code that verifies a low-trust alert, sent to the account's phone. Without a
/// phone, a dispatcher verifies by calling back.
pub(crate) async fn send_verification_code<P: Ports>(ports: &P, alert: &Alert) {
    let phone = match identity::accounts::find_by_id(ports, &alert.patient_id).await {
        Ok(Some(user)) => user.phone,
        _ => None,
    };
    if phone.is_some() {
        // A failure leaves the dispatcher's call-back; the alert is stored either way.
        let _ =
            identity::sessions::send_code(ports, "alert", &alert.alert_id, phone.as_deref()).await;
    }
}
