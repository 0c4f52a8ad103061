//! Ranking candidate hospitals for one patient. Pure and explainable: every score is a
//! weighted sum of named parts in 0..=1, and the parts travel with the result so a
//! dispatcher can see why. Hospitals that cannot take the patient are not dropped silently:
//! the nearer ones are listed with the reason they were passed over.

use serde::Serialize;

use crate::hospitals::profile::{Channel, EdStatus, Hospital};
use crate::hospitals::search::Candidate;

/// Weights of the score parts; they sum to 1.
pub const WEIGHTS: ScoreParts = ScoreParts {
    travel: 0.40,
    specialty: 0.20,
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
/// The travel part halves at this many minutes.
const TRAVEL_HALF_MINUTES: f64 = 10.0;
/// At most this many passed-over hospitals are reported, nearest first.
const MAX_PASSED_OVER: usize = 20;

/// The parts of a score, each in 0..=1 (or the weights, in [`WEIGHTS`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ScoreParts {
    /// Shorter estimated travel time scores higher.
    pub travel: f64,
    /// 1 when the hospital offers the needed care, 0.5 for a general emergency department.
    pub specialty: f64,
    /// Free beds (and ICU beds for critical patients); 0.5 when unknown.
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

/// What the patient needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Criteria {
    /// The care wanted (`cardiac`, `trauma`, ...).
    pub specialty: Option<String>,
    /// When true, hospitals without the specialty are passed over; otherwise they score less.
    pub specialty_required: bool,
    /// Passed over with fewer free beds than this (0: no minimum).
    pub min_beds: u32,
    /// Passed over below this KEPH level.
    pub min_level: u8,
    /// Critical patients: ICU beds count in the capacity part.
    pub needs_icu: bool,
    pub limit: usize,
}

impl Criteria {
    /// Whether a hospital can be offered at all (diverting and full ones only as a last
    /// resort). Searches use it to know when they have enough candidates.
    pub fn qualifies(&self, h: &Hospital) -> bool {
        exclusion(h, self).is_none() && last_resort(h).is_none()
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
    pub beds_available: u32,
    pub icu_beds_available: u32,
    pub specialties: Vec<String>,
    /// How the hospital is told (for the hand-off; not part of the answer).
    #[serde(skip)]
    pub channels: Vec<Channel>,
    /// Set when no hospital that is open with free beds was in reach and this one, diverting
    /// or full, is offered as the best there is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_resort: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassedOver {
    pub hospital_id: String,
    pub name: String,
    pub distance_km: f64,
    /// A stable code: `ed_closed`, `ed_diverting`, `no_free_beds`, `too_few_beds`,
    /// `lacks_specialty`, `below_level`, `ranked_lower`, `beyond_limit`.
    pub reason: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ranking {
    pub hospitals: Vec<RankedHospital>,
    pub passed_over: Vec<PassedOver>,
}

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
    if h.ed_status == EdStatus::Closed {
        return Some(("ed_closed", "the emergency department is closed".into()));
    }
    if h.level < c.min_level {
        return Some((
            "below_level",
            format!(
                "level {} is below the level {} asked for",
                h.level, c.min_level
            ),
        ));
    }
    if let Some(s) = c.specialty.as_deref().filter(|_| c.specialty_required)
        && !h.offers(s)
    {
        return Some(("lacks_specialty", format!("does not offer {s} care")));
    }
    if c.min_beds > 0 && h.beds_available < c.min_beds {
        return Some((
            "too_few_beds",
            format!("{} free beds, fewer than {}", h.beds_available, c.min_beds),
        ));
    }
    None
}

/// Why a hospital is offered only when nothing better is in reach.
fn last_resort(h: &Hospital) -> Option<(&'static str, String)> {
    if h.ed_status == EdStatus::Diverting {
        return Some((
            "ed_diverting",
            "the emergency department is diverting ambulances".into(),
        ));
    }
    if h.beds_total > 0 && h.beds_available == 0 {
        return Some(("no_free_beds", "no free beds".into()));
    }
    None
}

/// The score parts of one hospital for these criteria.
pub fn score_parts(h: &Hospital, distance_km: f64, c: &Criteria) -> ScoreParts {
    let eta = eta_minutes(distance_km);
    let specialty = match c.specialty.as_deref() {
        None => 1.0,
        Some(s) if h.offers(s) => 1.0,
        Some(_) if h.offers("emergency") => 0.5,
        Some(_) => 0.0,
    };
    let known = h.beds_total > 0 || h.beds_available > 0;
    let beds = if known {
        (f64::from(h.beds_available) / 10.0).min(1.0)
    } else {
        0.5
    };
    let capacity = if c.needs_icu {
        let icu = if known || h.icu_beds_available > 0 {
            (f64::from(h.icu_beds_available) / 2.0).min(1.0)
        } else {
            0.5
        };
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
        travel: TRAVEL_HALF_MINUTES / (TRAVEL_HALF_MINUTES + eta),
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

/// One hospital scored for these criteria, as a ranking lists it (`last` marks a last resort).
pub fn ranked(candidate: &Candidate, c: &Criteria, last: Option<&'static str>) -> RankedHospital {
    let h = &candidate.hospital;
    let parts = score_parts(h, candidate.distance_km, c);
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
        beds_available: h.beds_available,
        icu_beds_available: h.icu_beds_available,
        specialties: h.specialties.clone(),
        channels: h.notification_channels(),
        last_resort: last,
    }
}

fn by_score(a: &RankedHospital, b: &RankedHospital) -> std::cmp::Ordering {
    b.score
        .total_cmp(&a.score)
        .then_with(|| a.distance_km.total_cmp(&b.distance_km))
        .then_with(|| a.hospital_id.cmp(&b.hospital_id))
}

/// Ranks candidates: the best `limit` by score, and the nearer hospitals passed over.
pub fn rank(candidates: &[Candidate], c: &Criteria) -> Ranking {
    let mut eligible = Vec::new();
    let mut fallback = Vec::new();
    let mut passed = Vec::new();
    for candidate in candidates {
        let h = &candidate.hospital;
        if let Some((reason, detail)) = exclusion(h, c) {
            passed.push((candidate, reason, detail));
        } else if let Some((reason, detail)) = last_resort(h) {
            fallback.push((
                ranked(candidate, c, Some(reason)),
                candidate,
                reason,
                detail,
            ));
        } else {
            eligible.push(ranked(candidate, c, None));
        }
    }
    let mut hospitals = if eligible.is_empty() {
        // Nothing open with room in reach: the best of the rest beats no hospital at all.
        fallback.iter().map(|f| f.0.clone()).collect()
    } else {
        for (_, candidate, reason, detail) in &fallback {
            passed.push((candidate, reason, detail.clone()));
        }
        eligible
    };
    hospitals.sort_by(by_score);
    let beyond = hospitals.split_off(hospitals.len().min(c.limit.max(1)));

    let mut passed_over: Vec<PassedOver> = Vec::new();
    if let Some(top) = hospitals.first() {
        // Only the hospitals nearer than the chosen one need explaining.
        passed_over.extend(
            passed
                .into_iter()
                .filter(|(cand, ..)| cand.distance_km < top.distance_km)
                .map(|(cand, reason, detail)| PassedOver {
                    hospital_id: cand.hospital.hospital_id.clone(),
                    name: cand.hospital.name.clone(),
                    distance_km: round3(cand.distance_km),
                    reason,
                    detail,
                }),
        );
        for r in hospitals.iter().skip(1).chain(beyond.iter()) {
            if r.distance_km < top.distance_km {
                let part = r.score_parts.weakest_against(&top.score_parts);
                let in_list = hospitals.iter().any(|h| h.hospital_id == r.hospital_id);
                passed_over.push(PassedOver {
                    hospital_id: r.hospital_id.clone(),
                    name: r.name.clone(),
                    distance_km: r.distance_km,
                    reason: if in_list {
                        "ranked_lower"
                    } else {
                        "beyond_limit"
                    },
                    detail: format!(
                        "scored {:.3} against {:.3}, mostly on {part}",
                        r.score, top.score
                    ),
                });
            }
        }
    } else {
        passed_over.extend(passed.into_iter().map(|(cand, reason, detail)| PassedOver {
            hospital_id: cand.hospital.hospital_id.clone(),
            name: cand.hospital.name.clone(),
            distance_km: round3(cand.distance_km),
            reason,
            detail,
        }));
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
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::geo::Coordinates;
    use crate::hospitals::profile::Performance;

    fn hospital(id: &str, level: u8, ed: EdStatus, beds: u32, specialties: &[&str]) -> Hospital {
        Hospital {
            hospital_id: id.into(),
            name: format!("Hospital {id}"),
            latitude: -1.3,
            longitude: 36.8,
            level,
            county: None,
            phone: None,
            specialties: specialties.iter().map(|s| s.to_string()).collect(),
            departments: vec![],
            equipment: vec![],
            beds: BTreeMap::new(),
            beds_total: 100,
            beds_available: beds,
            icu_beds_available: 0,
            ed_status: ed,
            channels: vec![],
            sms_numbers: vec![],
            performance: Performance::default(),
            source: None,
            capacity_updated_at: None,
            version: 1,
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
            limit: 5,
        }
    }

    #[test]
    fn a_capable_hospital_further_away_beats_a_dispensary_next_door() {
        let mut disp = hospital("disp", 2, EdStatus::Open, 0, &[]);
        disp.beds_total = 0; // unknown, as KMHFL reports most dispensaries
        let dispensary = at(disp, 0.5);
        let referral = at(
            hospital("knh", 6, EdStatus::Open, 30, &["emergency", "cardiac"]),
            4.0,
        );
        let r = rank(&[dispensary, referral], &criteria(Some("cardiac")));
        assert_eq!(r.hospitals[0].hospital_id, "knh");
        assert_eq!(r.passed_over.len(), 1);
        assert_eq!(r.passed_over[0].hospital_id, "disp");
        assert_eq!(r.passed_over[0].reason, "ranked_lower");
        assert!(
            r.passed_over[0].detail.contains("specialty"),
            "{:?}",
            r.passed_over
        );
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
        let ids: Vec<&str> = r.hospitals.iter().map(|h| h.hospital_id.as_str()).collect();
        assert_eq!(ids, ["open"]);
        let reasons: Vec<(&str, &str)> = r
            .passed_over
            .iter()
            .map(|p| (p.hospital_id.as_str(), p.reason))
            .collect();
        assert_eq!(
            reasons,
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
            0u32..10_000,
            2u8..=6,
            prop_oneof![
                Just(EdStatus::Open),
                Just(EdStatus::Diverting),
                Just(EdStatus::Closed)
            ],
            0u32..40,
            0u32..50,
            proptest::bool::ANY,
            -0.5f64..0.5,
            -0.5f64..0.5,
        )
            .prop_map(|(id, level, ed, beds, total, cardiac, dlat, dlng)| {
                let mut h = hospital(
                    &format!("h{id}"),
                    level,
                    ed,
                    beds.min(total),
                    if cardiac { &["cardiac"] } else { &[] },
                );
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
        ) {
            let centre = Coordinates { latitude: -1.3, longitude: 36.8 };
            let plain: Vec<Hospital> = hospitals.into_iter().map(|(h, _)| h).collect();
            let candidates = crate::hospitals::search::full_scan(&plain, centre, radius_km);
            let c = Criteria { limit, ..criteria(Some("cardiac")) };
            let r = rank(&candidates, &c);
            prop_assert!(r.hospitals.len() <= limit);
            for pair in r.hospitals.windows(2) {
                prop_assert!(pair[0].score >= pair[1].score);
            }
            for h in &r.hospitals {
                prop_assert!(h.distance_km <= radius_km + 1e-9);
                prop_assert!(h.ed_status != EdStatus::Closed);
            }
            // An open hospital with room in reach always outranks every diverting one.
            let open_with_room = candidates.iter().any(|c| {
                c.hospital.ed_status == EdStatus::Open
                    && !(c.hospital.beds_total > 0 && c.hospital.beds_available == 0)
            });
            if open_with_room {
                prop_assert!(r.hospitals.iter().all(|h| h.ed_status == EdStatus::Open));
                prop_assert!(!r.hospitals.is_empty());
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
            level in 2u8..=6, beds in 1u32..30, other in prop_oneof![Just(EdStatus::Closed), Just(EdStatus::Diverting)],
        ) {
            let open = at(hospital("open", level, EdStatus::Open, beds, &[]), 3.0);
            let not_open = at(hospital("other", level, other, beds, &[]), 3.0);
            let r = rank(&[not_open, open], &criteria(None));
            prop_assert_eq!(r.hospitals[0].hospital_id.as_str(), "open");
            prop_assert!(r.hospitals.iter().all(|h| h.hospital_id != "other"));
        }
    }
}
