//! The default road estimator: great-circle distance × a road-circuity factor, driven at the
//! hour's speed for an ambulance under lights, and refined by the unit's observed speed.
//! Figures are planning values for an African capital's traffic (the demo data is Nairobi);
//! a routing engine replaces them where one is deployed (see `ports::routing`).

use haven_kernel::clock::Timestamp;
use haven_kernel::ports::{Basis, Route, RouteRequest, Routing, RoutingError};

/// Road kilometres per great-circle kilometre in a city grid (published circuity figures for
/// urban networks are 1.2 to 1.4).
pub const CIRCUITY: f64 = 1.3;
/// The first kilometres of a drive are city driving; beyond them roads are faster.
const URBAN_KM: f64 = 10.0;
/// Open-road speed beyond the city part.
const OPEN_ROAD_KMH: f64 = 75.0;
/// Observed speeds are trusted within these bounds (a parked unit still moves eventually;
/// a GPS jump is not 300 km/h).
const OBSERVED_KMH: (f64, f64) = (8.0, 110.0);

/// City speed by local hour, km/h: free at night, slowest in the two rush hours.
const HOURLY_KMH: [f64; 24] = [
    55.0, 55.0, 55.0, 55.0, 55.0, 50.0, // 00-05
    42.0, 28.0, 26.0, 30.0, // 06-09: the morning rush
    38.0, 38.0, 36.0, 36.0, 38.0, 36.0, // 10-15
    30.0, 26.0, 26.0, 30.0, // 16-19: the evening rush
    42.0, 46.0, 50.0, 55.0, // 20-23
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeedModel {
    pub circuity: f64,
    /// Local time = UTC + this; the profile is by local hour.
    pub utc_offset_minutes: i32,
}

impl Default for SpeedModel {
    /// East Africa Time, where the demo data is.
    fn default() -> Self {
        SpeedModel {
            circuity: CIRCUITY,
            utc_offset_minutes: 180,
        }
    }
}

impl SpeedModel {
    /// `HAVEN_UTC_OFFSET_MINUTES` (default 180, East Africa Time).
    pub fn from_env() -> Self {
        let mut model = SpeedModel::default();
        if let Some(offset) = std::env::var("HAVEN_UTC_OFFSET_MINUTES")
            .ok()
            .and_then(|v| v.parse::<i32>().ok())
            .filter(|m| (-14 * 60..=14 * 60).contains(m))
        {
            model.utc_offset_minutes = offset;
        }
        model
    }

    pub fn local_hour(&self, at: Timestamp) -> usize {
        let minutes = at.millis().div_euclid(60_000) + i64::from(self.utc_offset_minutes);
        minutes.div_euclid(60).rem_euclid(24) as usize
    }

    /// City speed at `at`.
    pub fn city_kmh(&self, at: Timestamp) -> f64 {
        HOURLY_KMH[self.local_hour(at)]
    }

    pub fn estimate(&self, request: &RouteRequest) -> Route {
        let road_km = request.from.distance_km(request.to) * self.circuity;
        let city_km = road_km.min(URBAN_KM);
        let open_km = road_km - city_km;
        let city_kmh = self.city_kmh(request.at);
        let model_hours = city_km / city_kmh + open_km / OPEN_ROAD_KMH.max(city_kmh);
        let (hours, basis) = match request.observed_kmh.filter(|v| v.is_finite()) {
            Some(observed) if road_km > 0.0 => {
                // Half the model, half what this unit is actually doing on these roads.
                let observed = observed.clamp(OBSERVED_KMH.0, OBSERVED_KMH.1);
                let model_kmh = road_km / model_hours;
                (
                    road_km / (0.5 * model_kmh + 0.5 * observed),
                    Basis::EstimateObserved,
                )
            }
            _ => (model_hours, Basis::Estimate),
        };
        Route {
            distance_km: round2(road_km),
            minutes: round2(hours * 60.0),
            basis,
        }
    }
}

impl Routing for SpeedModel {
    fn route(
        &self,
        request: &RouteRequest,
    ) -> impl Future<Output = Result<Route, RoutingError>> + Send {
        std::future::ready(Ok(self.estimate(request)))
    }
}

pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_kernel::geo::Coordinates;

    fn at_hour_utc(hour: i64) -> Timestamp {
        Timestamp::from_millis(
            1_795_000_000_000 - 1_795_000_000_000 % 86_400_000 + hour * 3_600_000,
        )
    }

    fn request(km_north: f64, at: Timestamp, observed: Option<f64>) -> RouteRequest {
        let from = Coordinates::new(-1.30, 36.80).expect("valid");
        let to = Coordinates::new(-1.30 + km_north / 111.2, 36.80).expect("valid");
        RouteRequest {
            from,
            to,
            at,
            observed_kmh: observed,
        }
    }

    #[test]
    fn rush_hour_is_slower_than_night_and_distance_is_circuitous() {
        let model = SpeedModel::default();
        // 05:00 UTC is 08:00 in Nairobi; 23:00 UTC is 02:00.
        let rush = model.estimate(&request(5.0, at_hour_utc(5), None));
        let night = model.estimate(&request(5.0, at_hour_utc(23), None));
        assert!((rush.distance_km - 6.5).abs() < 0.05, "{rush:?}");
        assert!(rush.minutes > night.minutes * 1.8, "{rush:?} vs {night:?}");
        assert!((rush.minutes - 6.5 / 26.0 * 60.0).abs() < 0.1);
        assert_eq!(rush.basis, Basis::Estimate);
        assert_eq!(model.local_hour(at_hour_utc(23)), 2);
    }

    #[test]
    fn long_drives_are_faster_per_kilometre_and_time_grows_with_distance() {
        let model = SpeedModel::default();
        let at = at_hour_utc(9);
        let mut last = 0.0;
        for km in [0.5, 2.0, 8.0, 20.0, 60.0] {
            let r = model.estimate(&request(km, at, None));
            assert!(r.minutes > last, "{km} km: {r:?}");
            last = r.minutes;
        }
        let short = model.estimate(&request(5.0, at, None));
        let long = model.estimate(&request(60.0, at, None));
        assert!(long.minutes / long.distance_km < short.minutes / short.distance_km);
    }

    #[test]
    fn observed_speed_refines_the_estimate_within_bounds() {
        let model = SpeedModel::default();
        let at = at_hour_utc(5);
        let plain = model.estimate(&request(5.0, at, None));
        let fast = model.estimate(&request(5.0, at, Some(60.0)));
        let crawling = model.estimate(&request(5.0, at, Some(1.0)));
        let absurd = model.estimate(&request(5.0, at, Some(900.0)));
        assert_eq!(fast.basis, Basis::EstimateObserved);
        assert!(fast.minutes < plain.minutes);
        assert!(crawling.minutes > plain.minutes);
        // 1 km/h counts as 8 and 900 as 110: the blend stays sane.
        assert!(crawling.minutes < plain.minutes * 3.0);
        assert!(absurd.minutes > plain.minutes / 3.0);
        let here = model.estimate(&request(0.0, at, Some(40.0)));
        assert_eq!(here.minutes, 0.0);
    }
}
