//! Ranking candidate hospitals for one patient. Pure and explainable: every score is a
//! weighted sum of named parts in 0..=1, and the parts travel with the result so a
//! dispatcher can see why. Hospitals that cannot take the patient are not dropped silently:
//! the nearer ones are listed with the reason they were passed over.
//!
//! What a facility can do comes before how near it is: for an emergency only facilities
//! that can treat it are ranked (`capability`); one that can only stabilise is offered to an
//! alert when nothing that can treat is in reach, and says so.

use serde::{Deserialize, Serialize};

use crate::hospitals::capability::{EMERGENCY, EmergencyCare, emergency_care, why_not};
use crate::hospitals::profile::{CapacityState, Channel, EdStatus, FacilityType, Hospital};
use crate::hospitals::search::Candidate;

/// Weights of the score parts; they sum to 1. The care wanted weighs more than before
/// (0.25, was 0.20) and travel less (0.35, was 0.40), and travel only counts beyond
/// `TRAVEL_GRACE_MINUTES`: a few hundred metres never outweigh what a hospital can do
/// (docs/emergencies.md has the figures).
pub const WEIGHTS: ScoreParts = ScoreParts {
    travel: 0.35,
    specialty: 0.25,
    capacity: 0.15,
    ed_status: 0.05,
    level: 0.10,
    performance: 0.10,
};

/// Road distance is longer than the great circle; 1.4 is a common urban detour factor.
const ROAD_FACTOR: f64 = 1.4;
/// Average ambulance speed on Kenyan urban roads, km/h (a planning figure, not live traffic).
const SPEED_KMH: f64 = 40.0;
/// Minutes before an ambulance moves.
const DISPATCH_MINUTES: f64 = 2.0;
/// Trips this short score as "here now": dispatch and about 1.4 km. Within it the planning
/// ETA (great circle × 1.4 at 40 km/h) cannot tell one trip from another.
const TRAVEL_GRACE_MINUTES: f64 = 5.0;
/// The travel part halves this many minutes after the grace.
const TRAVEL_HALF_MINUTES: f64 = 10.0;
/// At most this many passed-over hospitals are reported, nearest first.
pub(crate) const MAX_PASSED_OVER: usize = 20;
/// Hospitals beyond the radius named when nothing qualifies within it.
pub const NEAREST_BEYOND: usize = 3;

/// The parts of a score, each in 0..=1 (or the weights, in [`WEIGHTS`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreParts {
    /// Shorter estimated travel time scores higher: 1 within 5 minutes, 0.5 at 15.
    pub travel: f64,
    /// 1 when the hospital offers the needed care (an emergency department when none is
    /// named), 0.5 for a general emergency department, 0 for neither.
    pub specialty: f64,
    /// Free beds (and ICU beds for critical patients); 0.5 when unreported.
    pub capacity: f64,
    /// 1 open, 0 diverting.
    pub ed_status: f64,
    /// KEPH level 2 → 0 to level 6 → 1.
    pub level: f64,
    /// Past acceptance rate and time to acknowledge; 0.5 without history.
    pub performance: f64,
}

impl ScoreParts {
    fn weighted(&self) -> f64 {
        self.travel * WEIGHTS.travel
            + self.specialty * WEIGHTS.specialty
            + self.capacity * WEIGHTS.capacity
            + self.ed_status * WEIGHTS.ed_status
            + self.level * WEIGHTS.level
            + self.performance * WEIGHTS.performance
    }
    pub fn rounded(self) -> Self {
        ScoreParts {
            travel: round3(self.travel),
            specialty: round3(self.specialty),
            capacity: round3(self.capacity),
            ed_status: round3(self.ed_status),
            level: round3(self.level),
            performance: round3(self.performance),
        }
    }
    /// The part that cost the most against `other`, weighted: why this one ranked lower.
    fn weakest_against(&self, other: &ScoreParts) -> &'static str {
        let gaps = [
            ("travel", (other.travel - self.travel) * WEIGHTS.travel),
            (
                "specialty",
                (other.specialty - self.specialty) * WEIGHTS.specialty,
            ),
            (
                "capacity",
                (other.capacity - self.capacity) * WEIGHTS.capacity,
            ),
            (
                "ed_status",
                (other.ed_status - self.ed_status) * WEIGHTS.ed_status,
            ),
            ("level", (other.level - self.level) * WEIGHTS.level),
            (
                "performance",
                (other.performance - self.performance) * WEIGHTS.performance,
            ),
        ];
        gaps.iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or("travel", |g| g.0)
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Which facilities a search is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Care {
    /// Facilities that can treat an emergency (`capability`); the others are passed over.
    #[default]
    Emergency,
    /// Every facility, e.g. to find a clinic.
    Any,
}

impl Care {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "emergency" => Some(Care::Emergency),
            "any" => Some(Care::Any),
            _ => None,
        }
    }
}

/// What the patient needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Criteria {
    /// The care wanted (`cardiac`, `trauma`, ...); `None`: an emergency department.
    pub specialty: Option<String>,
    /// When true, hospitals without the specialty are passed over; otherwise they score less.
    pub specialty_required: bool,
    /// Passed over with fewer free beds than this, or none reported (0: no minimum).
    pub min_beds: u32,
    /// Passed over below this KEPH level.
    pub min_level: u8,
    /// Critical patients: ICU beds count in the capacity part.
    pub needs_icu: bool,
    pub care: Care,
    /// Alerts: a facility that can only stabilise is offered when nothing that can treat
    /// the emergency is in reach (`last_resort: stabilisation_only`).
    pub stabilise_as_last_resort: bool,
    pub limit: usize,
}

impl Criteria {
    /// Whether a hospital can be offered at all (diverting and full ones, and those that can
    /// only stabilise, only as a last resort). Searches use it to know when they have enough
    /// candidates.
    pub fn qualifies(&self, h: &Hospital) -> bool {
        exclusion(h, self).is_none() && last_resort(h, self).is_none()
    }

    /// What `h` can do for the emergency these criteria are for.
    pub fn emergency_care(&self, h: &Hospital) -> EmergencyCare {
        emergency_care(h, self.specialty.as_deref())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedHospital {
    pub hospital_id: String,
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
    pub distance_km: f64,
    pub eta_minutes: f64,
    pub score: f64,
    pub score_parts: ScoreParts,
    pub ed_status: EdStatus,
    pub level: u8,
    pub facility_type: Option<FacilityType>,
    pub emergency_care: EmergencyCare,
    /// `reported`, or `unreported` when the hospital has not said how many beds are free
    /// (then `beds_available` is null and the capacity part is neutral).
    pub capacity: CapacityState,
    pub beds_total: u32,
    pub beds_available: Option<u32>,
    pub icu_beds_available: Option<u32>,
    pub specialties: Vec<String>,
    /// How the hospital is told (for the hand-off; not part of the answer).
    #[serde(skip)]
    pub channels: Vec<Channel>,
    /// Set when nothing better was in reach and this one is offered as the best there is:
    /// `ed_diverting`, `no_free_beds`, or `stabilisation_only` (it can stabilise, not treat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_resort: Option<&'static str>,
    /// Why it is a last resort, in a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_resort_detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassedOver {
    pub hospital_id: String,
    pub name: String,
    pub distance_km: f64,
    /// A stable code: `ed_closed`, `ed_diverting`, `no_free_beds`, `too_few_beds`,
    /// `capacity_unreported`, `lacks_specialty`, `below_level`, `no_emergency_care`,
    /// `stabilisation_only`, `beyond_limit`.
    pub reason: &'static str,
    pub detail: String,
}

/// A hospital that would qualify but lies beyond the radius searched: where to send a
/// patient when nothing is in reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearestBeyond {
    pub hospital_id: String,
    pub name: String,
    pub distance_km: f64,
    pub level: u8,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ranking {
    pub hospitals: Vec<RankedHospital>,
    pub passed_over: Vec<PassedOver>,
    /// When no hospital that can treat is in `hospitals`: the best-scoring of the nearest that
    /// qualify beyond the radius (up to 3, out to `MAX_RADIUS_KM`).
    pub nearest_beyond: Vec<NearestBeyond>,
}

impl Ranking {
    /// Whether the answer holds a hospital that can treat, not only a facility to stabilise.
    pub fn has_capable(&self) -> bool {
        self.hospitals
            .iter()
            .any(|h| h.last_resort != Some(STABILISATION_ONLY))
    }
}

/// The last-resort code of a facility that can only stabilise.
pub const STABILISATION_ONLY: &str = "stabilisation_only";

/// The score of a set of parts, rounded as answers show it.
pub fn weighted(parts: &ScoreParts) -> f64 {
    round3(parts.weighted())
}

/// Minutes for an ambulance to reach a hospital `distance_km` away, by the planning figures.
pub fn eta_minutes(distance_km: f64) -> f64 {
    DISPATCH_MINUTES + distance_km * ROAD_FACTOR / SPEED_KMH * 60.0
}

/// Why a hospital can never be offered for these criteria.
fn exclusion(h: &Hospital, c: &Criteria) -> Option<(&'static str, String)> {
    static_exclusion(h, c).or_else(|| live_exclusion(h, c))
}

/// The reasons that follow from the profile alone (what a facility is and offers), checked
/// before the live ones, so the directory can pass a facility over without reading its
/// capacity.
pub(crate) fn static_exclusion(h: &Hospital, c: &Criteria) -> Option<(&'static str, String)> {
    let reason = static_reason(h, c)?;
    let detail = match reason {
        "below_level" => format!(
            "level {} is below the level {} asked for",
            h.level, c.min_level
        ),
        "lacks_specialty" => format!(
            "does not offer {} care",
            c.specialty.as_deref().unwrap_or_default()
        ),
        _ => why_not(h, c.emergency_care(h)),
    };
    Some((reason, detail))
}

/// The code of [`static_exclusion`] alone: the directory asks it of every hospital in the
/// radius, so it builds no sentence.
pub(crate) fn static_reason(h: &Hospital, c: &Criteria) -> Option<&'static str> {
    if c.care == Care::Emergency {
        match c.emergency_care(h) {
            EmergencyCare::Capable => {}
            EmergencyCare::StabiliseOnly if c.stabilise_as_last_resort => {}
            EmergencyCare::StabiliseOnly => return Some(STABILISATION_ONLY),
            EmergencyCare::None => return Some("no_emergency_care"),
        }
    }
    if h.level < c.min_level {
        return Some("below_level");
    }
    if let Some(s) = c.specialty.as_deref().filter(|_| c.specialty_required)
        && !h.offers(s)
    {
        return Some("lacks_specialty");
    }
    None
}

/// The reasons that follow from what the hospital reports now: its emergency department and
/// its free beds.
fn live_exclusion(h: &Hospital, c: &Criteria) -> Option<(&'static str, String)> {
    if h.ed_status == EdStatus::Closed {
        return Some(("ed_closed", "the emergency department is closed".into()));
    }
    if c.min_beds > 0 {
        match h.beds_available {
            None => {
                return Some((
                    "capacity_unreported",
                    format!(
                        "has not reported its free beds; at least {} were asked for",
                        c.min_beds
                    ),
                ));
            }
            Some(free) if free < c.min_beds => {
                return Some((
                    "too_few_beds",
                    format!("{free} free beds, fewer than {}", c.min_beds),
                ));
            }
            Some(_) => {}
        }
    }
    None
}

/// Why a hospital is offered only when nothing better is in reach, and how far down: 1 for
/// a hospital that can treat but is diverting or full, 2 for one that can only stabilise.
fn last_resort(h: &Hospital, c: &Criteria) -> Option<(u8, &'static str, String)> {
    if c.care == Care::Emergency && c.emergency_care(h) == EmergencyCare::StabiliseOnly {
        return Some((
            2,
            STABILISATION_ONLY,
            format!(
                "no hospital that can treat this emergency is in reach; {}",
                why_not(h, EmergencyCare::StabiliseOnly)
            ),
        ));
    }
    if h.ed_status == EdStatus::Diverting {
        return Some((
            1,
            "ed_diverting",
            "the emergency department is diverting ambulances".into(),
        ));
    }
    if h.beds_available == Some(0) {
        return Some((1, "no_free_beds", "no free beds".into()));
    }
    None
}

/// The most a hospital could score at this distance whatever it reports now: its profile's
/// parts (travel, specialty, level) with the live ones (capacity, emergency department,
/// performance) at their best. Rounded as scores are, so an actual score never exceeds it.
pub fn upper_bound(h: &Hospital, distance_km: f64, c: &Criteria) -> f64 {
    let mut parts = score_parts(h, distance_km, c);
    parts.capacity = 1.0;
    parts.ed_status = 1.0;
    parts.performance = 1.0;
    weighted(&parts)
}

/// The travel part at an ETA: 1 within the grace, halving `TRAVEL_HALF_MINUTES` after it.
fn travel_part(eta_minutes: f64) -> f64 {
    TRAVEL_HALF_MINUTES / (TRAVEL_HALF_MINUTES + (eta_minutes - TRAVEL_GRACE_MINUTES).max(0.0))
}

/// The most any hospital `distance_km` away or further could score: travel at that distance,
/// every other part at its best. Travel only falls with distance, so a search that has the
/// `limit`-th score above this at radius `r` need not look beyond `r`.
pub fn best_possible_beyond(distance_km: f64) -> f64 {
    weighted(&ScoreParts {
        travel: travel_part(eta_minutes(distance_km)),
        specialty: 1.0,
        capacity: 1.0,
        ed_status: 1.0,
        level: 1.0,
        performance: 1.0,
    })
}

/// A candidate's score as `rank` gives it.
pub(crate) fn score_of(c: &Candidate, criteria: &Criteria) -> f64 {
    weighted(&score_parts(&c.hospital, c.distance_km, criteria))
}

/// The score parts of one hospital for these criteria.
pub fn score_parts(h: &Hospital, distance_km: f64, c: &Criteria) -> ScoreParts {
    let eta = eta_minutes(distance_km);
    // Without a specialty, an emergency search wants an emergency department; a search of
    // any facility wants nothing in particular.
    let wanted = match (c.specialty.as_deref(), c.care) {
        (Some(s), _) => Some(s),
        (None, Care::Emergency) => Some(EMERGENCY),
        (None, Care::Any) => None,
    };
    let specialty = match wanted {
        None => 1.0,
        Some(w) if h.offers(w) => 1.0,
        Some(w) if w != EMERGENCY && h.offers(EMERGENCY) => 0.5,
        Some(_) => 0.0,
    };
    // Unreported is neither room nor no room.
    let beds = h
        .beds_available
        .map_or(0.5, |free| (f64::from(free) / 10.0).min(1.0));
    let capacity = if c.needs_icu {
        let icu = h
            .icu_beds_available
            .map_or(0.5, |free| (f64::from(free) / 2.0).min(1.0));
        0.5 * beds + 0.5 * icu
    } else {
        beds
    };
    let performance = match (
        h.performance.acceptance_rate(),
        h.performance.mean_ack_seconds(),
    ) {
        (Some(rate), Some(ack)) => 0.6 * rate + 0.4 * (120.0 / (120.0 + ack)),
        (Some(rate), None) => 0.6 * rate + 0.4 * 0.5,
        _ => 0.5,
    };
    ScoreParts {
        travel: travel_part(eta),
        specialty,
        capacity,
        ed_status: if h.ed_status == EdStatus::Open {
            1.0
        } else {
            0.0
        },
        level: f64::from(h.level.clamp(2, 6) - 2) / 4.0,
        performance,
    }
}

/// One hospital scored for these criteria, as a ranking lists it (`last` marks a last
/// resort, with its sentence).
pub fn ranked(
    candidate: &Candidate,
    c: &Criteria,
    last: Option<(&'static str, String)>,
) -> RankedHospital {
    let h = &candidate.hospital;
    let parts = score_parts(h, candidate.distance_km, c);
    let (last_resort, last_resort_detail) = match last {
        Some((code, detail)) => (Some(code), Some(detail)),
        None => (None, None),
    };
    RankedHospital {
        hospital_id: h.hospital_id.clone(),
        name: h.name.clone(),
        latitude: h.latitude,
        longitude: h.longitude,
        distance_km: round3(candidate.distance_km),
        eta_minutes: (eta_minutes(candidate.distance_km) * 10.0).round() / 10.0,
        score: weighted(&parts),
        score_parts: parts.rounded(),
        ed_status: h.ed_status,
        level: h.level,
        facility_type: h.facility_type,
        emergency_care: c.emergency_care(h),
        capacity: h.capacity(),
        beds_total: h.beds_total,
        beds_available: h.beds_available,
        icu_beds_available: h.icu_beds_available,
        specialties: h.specialties.clone(),
        channels: h.notification_channels(),
        last_resort,
        last_resort_detail,
    }
}

fn by_score(a: &RankedHospital, b: &RankedHospital) -> std::cmp::Ordering {
    b.score
        .total_cmp(&a.score)
        .then_with(|| a.distance_km.total_cmp(&b.distance_km))
        .then_with(|| a.hospital_id.cmp(&b.hospital_id))
}

fn passed(candidate: &Candidate, reason: &'static str, detail: String) -> PassedOver {
    PassedOver {
        hospital_id: candidate.hospital.hospital_id.clone(),
        name: candidate.hospital.name.clone(),
        distance_km: round3(candidate.distance_km),
        reason,
        detail,
    }
}

/// Ranks candidates: the best `limit` by score, and the nearer hospitals passed over. A
/// hospital is in one list or the other, never both.
pub fn rank(candidates: &[Candidate], c: &Criteria) -> Ranking {
    // Tier 0 can be offered; tiers 1 and 2 only when every lower tier is empty.
    let mut tiers: [Vec<(RankedHospital, &Candidate, &'static str, String)>; 3] =
        Default::default();
    let mut passed_over = Vec::new();
    for candidate in candidates {
        let h = &candidate.hospital;
        if let Some((reason, detail)) = exclusion(h, c) {
            passed_over.push(passed(candidate, reason, detail));
        } else if let Some((tier, reason, detail)) = last_resort(h, c) {
            let r = ranked(candidate, c, Some((reason, detail.clone())));
            tiers[usize::from(tier)].push((r, candidate, reason, detail));
        } else {
            tiers[0].push((ranked(candidate, c, None), candidate, "", String::new()));
        }
    }
    let chosen = tiers.iter().position(|t| !t.is_empty()).unwrap_or(0);
    let mut hospitals = Vec::new();
    for (i, tier) in tiers.into_iter().enumerate() {
        for (r, candidate, reason, detail) in tier {
            if i == chosen {
                hospitals.push(r);
            } else {
                passed_over.push(passed(candidate, reason, detail));
            }
        }
    }
    hospitals.sort_by(by_score);
    let beyond = hospitals.split_off(hospitals.len().min(c.limit.max(1)));

    if let Some(top) = hospitals.first() {
        // Only the hospitals nearer than the chosen one need explaining; those cut by the
        // limit say so.
        passed_over.retain(|p| p.distance_km < top.distance_km);
        for r in beyond.iter().filter(|r| r.distance_km < top.distance_km) {
            let part = r.score_parts.weakest_against(&top.score_parts);
            passed_over.push(PassedOver {
                hospital_id: r.hospital_id.clone(),
                name: r.name.clone(),
                distance_km: r.distance_km,
                reason: "beyond_limit",
                detail: format!(
                    "scored {:.3} against {:.3}, mostly on {part}; below the {} listed",
                    r.score,
                    top.score,
                    hospitals.len()
                ),
            });
        }
    }
    passed_over.sort_by(|a, b| {
        a.distance_km
            .total_cmp(&b.distance_km)
            .then_with(|| a.hospital_id.cmp(&b.hospital_id))
    });
    passed_over.truncate(MAX_PASSED_OVER);
    Ranking {
        hospitals,
        passed_over,
        nearest_beyond: vec![],
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::hospitals::profile::Performance;
    use haven_kernel::geo::Coordinates;

    fn hospital(id: &str, level: u8, ed: EdStatus, beds: u32, specialties: &[&str]) -> Hospital {
        Hospital {
            hospital_id: id.into(),
            name: format!("Hospital {id}"),
            latitude: -1.3,
            longitude: 36.8,
            level,
            mfl_code: None,
            facility_type: Some(FacilityType::Hospital),
            county: None,
            phone: None,
            specialties: specialties.iter().map(|s| s.to_string()).collect(),
            departments: vec![],
            equipment: vec![],
            beds: BTreeMap::new(),
            beds_total: 100,
            beds_available: Some(beds),
            icu_beds_available: None,
            ed_status: ed,
            channels: vec![],
            sms_numbers: vec![],
            performance: Performance::default(),
            source: None,
            capacity_updated_at: None,
            version: 1,
        }
    }

    /// A facility as KMHFL lists it: a type, a level, registered beds, nothing reported.
    fn registered(id: &str, kind: FacilityType, level: u8, specialties: &[&str]) -> Hospital {
        Hospital {
            facility_type: Some(kind),
            beds_total: 20,
            beds_available: None,
            ..hospital(id, level, EdStatus::Open, 0, specialties)
        }
    }

    fn at(h: Hospital, distance_km: f64) -> Candidate {
        Candidate {
            hospital: h,
            distance_km,
        }
    }

    fn criteria(specialty: Option<&str>) -> Criteria {
        Criteria {
            specialty: specialty.map(str::to_owned),
            specialty_required: false,
            min_beds: 0,
            min_level: 2,
            needs_icu: false,
            care: Care::Emergency,
            stabilise_as_last_resort: false,
            limit: 5,
        }
    }

    /// As an alert asks: the type's care preferred, stabilisation as a last resort.
    fn alert(specialty: &str) -> Criteria {
        Criteria {
            stabilise_as_last_resort: true,
            ..criteria(Some(specialty))
        }
    }

    fn ids(r: &Ranking) -> Vec<&str> {
        r.hospitals.iter().map(|h| h.hospital_id.as_str()).collect()
    }

    fn reasons(r: &Ranking) -> Vec<(&str, &str)> {
        r.passed_over
            .iter()
            .map(|p| (p.hospital_id.as_str(), p.reason))
            .collect()
    }

    #[test]
    fn a_capable_hospital_further_away_beats_a_dispensary_next_door() {
        let mut disp = registered("disp", FacilityType::Dispensary, 2, &[]);
        disp.beds_total = 0; // unknown, as KMHFL reports most dispensaries
        let dispensary = at(disp, 0.5);
        let referral = at(
            hospital("knh", 6, EdStatus::Open, 30, &["emergency", "cardiac"]),
            4.0,
        );
        let r = rank(
            &[dispensary.clone(), referral.clone()],
            &criteria(Some("cardiac")),
        );
        assert_eq!(ids(&r), ["knh"]);
        assert_eq!(reasons(&r), [("disp", "no_emergency_care")]);
        assert!(
            r.passed_over[0].detail.contains("level-2 dispensary"),
            "{:?}",
            r.passed_over
        );
        // Looking for any facility, the dispensary is listed, and so not passed over.
        let any = Criteria {
            care: Care::Any,
            ..criteria(Some("cardiac"))
        };
        let r = rank(&[dispensary, referral], &any);
        assert_eq!(ids(&r), ["knh", "disp"]);
        assert!(r.passed_over.is_empty(), "{:?}", r.passed_over);
    }

    #[test]
    fn a_hospital_in_the_list_is_never_also_passed_over() {
        // Observation 6: the second hospital, nearer than the first, was listed both as #2 and
        // as `ranked_lower`.
        let near = at(hospital("near", 4, EdStatus::Open, 3, &[]), 1.0);
        let best = at(
            hospital("best", 6, EdStatus::Open, 30, &["emergency", "trauma"]),
            2.0,
        );
        let cut = at(hospital("cut", 4, EdStatus::Open, 1, &[]), 1.5);
        let c = Criteria {
            limit: 2,
            ..criteria(Some("trauma"))
        };
        let r = rank(&[near, best, cut], &c);
        assert_eq!(ids(&r), ["best", "near"]);
        assert_eq!(reasons(&r), [("cut", "beyond_limit")]);
    }

    #[test]
    fn a_level_three_facility_next_door_does_not_take_a_trauma_alert_from_a_hospital() {
        // Observation 3, Kangemi: a level-3 medical centre with a casualty service 250 m away
        // beat the referral hospitals 7 km away.
        let penda = at(
            registered(
                "penda",
                FacilityType::MedicalCentre,
                3,
                &["emergency", "trauma"],
            ),
            0.25,
        );
        let eye = at(registered("eye", FacilityType::Hospital, 4, &[]), 1.13);
        let knh = at(
            registered(
                "knh",
                FacilityType::Hospital,
                6,
                &["emergency", "trauma", "icu"],
            ),
            7.8,
        );
        let r = rank(&[penda, eye, knh], &alert("trauma"));
        assert_eq!(r.hospitals[0].hospital_id, "knh", "{:?}", r.hospitals);
        assert!(r.hospitals.iter().all(|h| h.hospital_id != "penda"));
        assert_eq!(reasons(&r), [("penda", "stabilisation_only")]);
        assert!(r.has_capable());
    }

    #[test]
    fn the_right_emergency_department_outranks_a_general_hospital_a_few_km_nearer() {
        for (near_km, far_km) in [(0.3, 3.0), (0.5, 4.3), (1.5, 5.0)] {
            let general = at(
                registered("general", FacilityType::Hospital, 4, &[]),
                near_km,
            );
            let casualty = at(
                registered(
                    "casualty",
                    FacilityType::Hospital,
                    4,
                    &["emergency", "trauma"],
                ),
                far_km,
            );
            let r = rank(&[general, casualty], &alert("trauma"));
            assert_eq!(
                r.hospitals[0].hospital_id, "casualty",
                "{near_km} km vs {far_km} km: {:?}",
                r.hospitals
            );
        }
    }

    #[test]
    fn a_few_hundred_metres_never_outweigh_what_a_hospital_can_do() {
        let near = at(
            registered("near", FacilityType::Hospital, 4, &["emergency", "trauma"]),
            0.3,
        );
        let referral = at(
            registered(
                "referral",
                FacilityType::Hospital,
                5,
                &["emergency", "trauma"],
            ),
            1.2,
        );
        let r = rank(&[near.clone(), referral], &alert("trauma"));
        assert_eq!(ids(&r), ["referral", "near"]);
        assert_eq!(r.hospitals[0].score_parts.travel, 1.0);
        // Far away, travel still decides: 25 km more is most of an hour.
        let far = at(
            registered("far", FacilityType::Hospital, 5, &["emergency", "trauma"]),
            30.0,
        );
        let near = at(
            registered("near", FacilityType::Hospital, 4, &["emergency", "trauma"]),
            5.0,
        );
        let r = rank(&[far, near], &alert("trauma"));
        assert_eq!(ids(&r), ["near", "far"]);
    }

    #[test]
    fn with_nothing_that_can_treat_in_reach_an_alert_goes_to_a_facility_that_can_stabilise() {
        let centre = at(
            registered("hc", FacilityType::HealthCentre, 3, &["emergency"]),
            8.0,
        );
        let clinic = at(registered("clinic", FacilityType::Clinic, 2, &[]), 1.0);
        let r = rank(&[centre.clone(), clinic.clone()], &alert("trauma"));
        assert_eq!(ids(&r), ["hc"]);
        assert_eq!(r.hospitals[0].last_resort, Some(STABILISATION_ONLY));
        assert!(
            r.hospitals[0]
                .last_resort_detail
                .as_deref()
                .is_some_and(|d| d.contains("stabilise")),
            "{:?}",
            r.hospitals[0]
        );
        assert!(!r.has_capable());
        assert_eq!(reasons(&r), [("clinic", "no_emergency_care")]);
        // A diverting hospital that can treat still beats it.
        let diverting = at(hospital("div", 5, EdStatus::Diverting, 10, &[]), 20.0);
        let r = rank(&[centre.clone(), diverting], &alert("trauma"));
        assert_eq!(ids(&r), ["div"]);
        assert_eq!(r.hospitals[0].last_resort, Some("ed_diverting"));
        // A search (not an alert) lists only what can treat.
        let r = rank(&[centre, clinic], &criteria(None));
        assert!(r.hospitals.is_empty());
        assert_eq!(r.passed_over.len(), 2);
    }

    #[test]
    fn a_general_search_never_puts_a_specialist_hospital_first_for_an_emergency_it_does_not_serve()
    {
        // Observation 4: the National Spinal Injury Hospital among the first in central Nairobi.
        let spinal = at(
            registered(
                "spinal",
                FacilityType::SpecialistHospital,
                6,
                &["orthopaedics", "surgery", "icu"],
            ),
            0.4,
        );
        let general = at(registered("avenue", FacilityType::Hospital, 4, &[]), 2.4);
        let r = rank(&[spinal.clone(), general.clone()], &criteria(None));
        assert_eq!(ids(&r), ["avenue"]);
        assert_eq!(reasons(&r), [("spinal", "no_emergency_care")]);
        // Asked for its specialty, it qualifies.
        let ortho = Criteria {
            specialty_required: true,
            ..criteria(Some("orthopaedics"))
        };
        let r = rank(&[spinal, general], &ortho);
        assert_eq!(ids(&r), ["spinal"]);
        assert_eq!(r.hospitals[0].emergency_care, EmergencyCare::Capable);
    }

    #[test]
    fn clinics_dispensaries_and_stand_alone_services_are_not_emergency_answers() {
        // Observation 5, Lodwar: a dental clinic and level-2 clinics with 0 beds in the top 10.
        let dental = at(registered("dental", FacilityType::StandAlone, 2, &[]), 0.1);
        let clinic = at(registered("clinic", FacilityType::Clinic, 2, &[]), 0.14);
        let centre = at(registered("mc", FacilityType::MedicalCentre, 3, &[]), 1.0);
        let referral = at(
            registered(
                "lodwar",
                FacilityType::Hospital,
                4,
                &["emergency", "trauma", "maternity"],
            ),
            0.58,
        );
        let c = Criteria {
            limit: 10,
            ..criteria(None)
        };
        let r = rank(&[dental, clinic, centre, referral], &c);
        assert_eq!(ids(&r), ["lodwar"]);
        assert_eq!(
            reasons(&r),
            [
                ("dental", "no_emergency_care"),
                ("clinic", "no_emergency_care")
            ]
        );
    }

    #[test]
    fn unreported_capacity_is_neutral_never_full_and_fails_a_bed_minimum() {
        // Observation 2: registered beds were copied into free beds.
        let unreported = at(
            registered("u", FacilityType::Hospital, 5, &["emergency"]),
            2.0,
        );
        let r = rank(std::slice::from_ref(&unreported), &criteria(None));
        let h = &r.hospitals[0];
        assert_eq!(
            (h.capacity, h.beds_available, h.beds_total),
            (CapacityState::Unreported, None, 20)
        );
        assert_eq!(h.score_parts.capacity, 0.5);
        assert_eq!(h.last_resort, None);
        let json = serde_json::to_value(h).expect("json");
        assert_eq!(json["capacity"], "unreported");
        assert!(json["beds_available"].is_null());

        let mut zero = registered("zero", FacilityType::Hospital, 5, &["emergency"]);
        zero.beds_available = Some(0);
        let r = rank(&[at(zero, 1.0), unreported.clone()], &criteria(None));
        assert_eq!(ids(&r), ["u"]);
        assert_eq!(reasons(&r), [("zero", "no_free_beds")]);

        let mut roomy = hospital("roomy", 4, EdStatus::Open, 12, &["emergency"]);
        roomy.facility_type = None; // registered by an admin: judged by level
        let c = Criteria {
            min_beds: 5,
            ..criteria(None)
        };
        let r = rank(&[unreported, at(roomy, 3.0)], &c);
        assert_eq!(ids(&r), ["roomy"]);
        assert_eq!(reasons(&r), [("u", "capacity_unreported")]);
        assert_eq!(r.hospitals[0].capacity, CapacityState::Reported);
    }

    #[test]
    fn diverting_full_and_closed_hospitals_are_passed_over_with_their_reason() {
        let r = rank(
            &[
                at(hospital("closed", 5, EdStatus::Closed, 10, &[]), 1.0),
                at(hospital("diverting", 5, EdStatus::Diverting, 10, &[]), 1.5),
                at(hospital("full", 5, EdStatus::Open, 0, &[]), 2.0),
                at(hospital("open", 4, EdStatus::Open, 5, &[]), 6.0),
            ],
            &criteria(None),
        );
        assert_eq!(ids(&r), ["open"]);
        assert_eq!(
            reasons(&r),
            [
                ("closed", "ed_closed"),
                ("diverting", "ed_diverting"),
                ("full", "no_free_beds")
            ]
        );
    }

    #[test]
    fn when_every_open_hospital_is_full_the_best_of_the_rest_is_offered() {
        let r = rank(
            &[
                at(hospital("closed", 5, EdStatus::Closed, 10, &[]), 1.0),
                at(hospital("diverting", 5, EdStatus::Diverting, 10, &[]), 1.5),
                at(hospital("full", 5, EdStatus::Open, 0, &[]), 2.0),
            ],
            &criteria(None),
        );
        assert_eq!(r.hospitals.len(), 2);
        assert!(r.hospitals.iter().all(|h| h.last_resort.is_some()));
        assert!(r.hospitals.iter().all(|h| h.ed_status != EdStatus::Closed));
        assert_eq!(r.passed_over[0].reason, "ed_closed");
    }

    #[test]
    fn required_specialty_and_minimums_pass_hospitals_over() {
        let mut c = criteria(Some("burns"));
        c.specialty_required = true;
        c.min_beds = 5;
        let r = rank(
            &[
                at(
                    hospital("no-burns", 5, EdStatus::Open, 20, &["trauma"]),
                    1.0,
                ),
                at(hospital("few-beds", 5, EdStatus::Open, 2, &["burns"]), 2.0),
                at(hospital("ok", 4, EdStatus::Open, 9, &["burns"]), 3.0),
            ],
            &c,
        );
        assert_eq!(r.hospitals.len(), 1);
        assert_eq!(r.passed_over[0].reason, "lacks_specialty");
        assert_eq!(r.passed_over[1].reason, "too_few_beds");
    }

    #[test]
    fn the_score_is_the_weighted_sum_of_its_parts() {
        let r = rank(
            &[at(hospital("a", 4, EdStatus::Open, 5, &["emergency"]), 3.0)],
            &criteria(Some("cardiac")),
        );
        let h = &r.hospitals[0];
        let p = h.score_parts;
        assert_eq!(p.specialty, 0.5);
        assert_eq!(p.capacity, 0.5);
        assert_eq!(p.level, 0.5);
        assert!((h.score - p.weighted()).abs() < 0.005);
        let total = WEIGHTS.travel
            + WEIGHTS.specialty
            + WEIGHTS.capacity
            + WEIGHTS.ed_status
            + WEIGHTS.level
            + WEIGHTS.performance;
        assert!((total - 1.0).abs() < 1e-9);
        // Without a specialty named, the care wanted is an emergency department.
        let r = rank(
            &[
                at(hospital("ed", 4, EdStatus::Open, 5, &["emergency"]), 3.0),
                at(hospital("no-ed", 4, EdStatus::Open, 5, &[]), 3.0),
            ],
            &criteria(None),
        );
        let parts: Vec<f64> = r
            .hospitals
            .iter()
            .map(|h| h.score_parts.specialty)
            .collect();
        assert_eq!(parts, [1.0, 0.0]);
        // Looking for any facility, nothing in particular is wanted.
        let any = Criteria {
            care: Care::Any,
            ..criteria(None)
        };
        let r = rank(
            &[at(hospital("no-ed", 4, EdStatus::Open, 5, &[]), 3.0)],
            &any,
        );
        assert_eq!(r.hospitals[0].score_parts.specialty, 1.0);
    }

    #[test]
    fn a_good_record_of_answering_scores_higher() {
        let mut good = hospital("good", 4, EdStatus::Open, 5, &[]);
        good.performance = Performance {
            offered: 10,
            accepted: 10,
            acknowledged: 10,
            ack_seconds_total: 300,
        };
        let mut poor = hospital("poor", 4, EdStatus::Open, 5, &[]);
        poor.performance = Performance {
            offered: 10,
            accepted: 2,
            acknowledged: 10,
            ack_seconds_total: 6000,
        };
        let r = rank(&[at(poor, 2.0), at(good, 2.0)], &criteria(None));
        assert_eq!(r.hospitals[0].hospital_id, "good");
    }

    fn any_hospital() -> impl Strategy<Value = (Hospital, f64)> {
        (
            2u8..=6,
            prop_oneof![
                Just(EdStatus::Open),
                Just(EdStatus::Diverting),
                Just(EdStatus::Closed)
            ],
            proptest::option::of(0u32..40),
            0u32..50,
            proptest::bool::ANY,
            prop_oneof![
                Just(FacilityType::Hospital),
                Just(FacilityType::HealthCentre),
                Just(FacilityType::Clinic),
                Just(FacilityType::SpecialistHospital),
            ],
            -0.5f64..0.5,
            -0.5f64..0.5,
        )
            .prop_map(|(level, ed, beds, total, cardiac, kind, dlat, dlng)| {
                let mut h = hospital("h", level, ed, 0, if cardiac { &["cardiac"] } else { &[] });
                h.beds_available = beds.map(|b| b.min(total));
                h.facility_type = Some(kind);
                h.beds_total = total;
                h.latitude = -1.3 + dlat;
                h.longitude = 36.8 + dlng;
                (h, 0.0)
            })
    }

    proptest! {
        #[test]
        fn results_are_sorted_within_the_radius_and_never_put_closed_above_open(
            hospitals in proptest::collection::vec(any_hospital(), 0..60),
            radius_km in 1.0f64..80.0,
            limit in 1usize..15,
            any_care in proptest::bool::ANY,
            as_alert in proptest::bool::ANY,
        ) {
            let centre = Coordinates { latitude: -1.3, longitude: 36.8 };
            let plain: Vec<Hospital> = hospitals
                .into_iter()
                .enumerate()
                .map(|(i, (mut h, _))| {
                    h.hospital_id = format!("h{i}");
                    h
                })
                .collect();
            let candidates = crate::hospitals::search::full_scan(&plain, centre, radius_km);
            let c = Criteria {
                limit,
                care: if any_care { Care::Any } else { Care::Emergency },
                stabilise_as_last_resort: as_alert,
                ..criteria(Some("cardiac"))
            };
            let r = rank(&candidates, &c);
            prop_assert!(r.hospitals.len() <= limit);
            for pair in r.hospitals.windows(2) {
                prop_assert!(pair[0].score >= pair[1].score);
            }
            for h in &r.hospitals {
                prop_assert!(h.distance_km <= radius_km + 1e-9);
                prop_assert!(h.ed_status != EdStatus::Closed);
                if !any_care {
                    prop_assert!(h.emergency_care != EmergencyCare::None);
                }
            }
            // An open hospital that can treat, with room, always outranks the rest.
            let open_with_room = candidates.iter().any(|cand| c.qualifies(&cand.hospital));
            if open_with_room {
                prop_assert!(r.hospitals.iter().all(|h| h.last_resort.is_none()));
                prop_assert!(!r.hospitals.is_empty());
            }
            // Nothing is both listed and passed over; `beyond_limit` only for those cut.
            for p in &r.passed_over {
                prop_assert!(r.hospitals.iter().all(|h| h.hospital_id != p.hospital_id), "{}", p.hospital_id);
                if p.reason == "beyond_limit" {
                    prop_assert!(r.hospitals.len() == limit);
                }
            }
            // Nobody vanishes: each candidate is ranked, or passed over, or further than the top.
            if let Some(top) = r.hospitals.first() {
                for cand in &candidates {
                    let listed = r.hospitals.iter().any(|h| h.hospital_id == cand.hospital.hospital_id)
                        || r.passed_over.iter().any(|p| p.hospital_id == cand.hospital.hospital_id);
                    prop_assert!(
                        listed || cand.distance_km >= top.distance_km - 0.0005
                            || r.passed_over.len() == MAX_PASSED_OVER
                    );
                }
            }
        }

        #[test]
        fn at_equal_distance_an_open_ed_ranks_above_a_closed_or_diverting_one(
            level in 4u8..=6, beds in 1u32..30, other in prop_oneof![Just(EdStatus::Closed), Just(EdStatus::Diverting)],
        ) {
            let open = at(hospital("open", level, EdStatus::Open, beds, &[]), 3.0);
            let not_open = at(hospital("other", level, other, beds, &[]), 3.0);
            let r = rank(&[not_open, open], &criteria(None));
            prop_assert_eq!(r.hospitals[0].hospital_id.as_str(), "open");
            prop_assert!(r.hospitals.iter().all(|h| h.hospital_id != "other"));
        }
    }
}
