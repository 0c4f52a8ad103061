//! The Routing port: how far and how long by road between two points. The default is the
//! domain's own estimator (`tracking::speed::SpeedModel`); a routing engine (OSRM) is another
//! implementation behind the same trait.

use std::future::Future;

use serde::Serialize;

use crate::Timestamp;
use crate::geo::Coordinates;

/// One drive to estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteRequest {
    pub from: Coordinates,
    pub to: Coordinates,
    /// When the drive starts (the speed profile depends on the hour).
    pub at: Timestamp,
    /// The unit's speed over its recent positions, when it is moving and known.
    pub observed_kmh: Option<f64>,
}

/// Where an estimate came from, as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Great-circle distance × road circuity at the hour's speed.
    Estimate,
    /// The estimate, with the unit's observed speed blended in.
    EstimateObserved,
    /// A routing engine's road distance and duration.
    Osrm,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Estimate => "estimate",
            Basis::EstimateObserved => "estimate_observed",
            Basis::Osrm => "osrm",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Route {
    pub distance_km: f64,
    pub minutes: f64,
    pub basis: Basis,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoutingError {
    /// The engine could not be reached or answered badly: estimate instead.
    #[error("routing unavailable: {0}")]
    Unavailable(String),
    /// The engine knows no road between the points.
    #[error("no road route between the points")]
    NoRoute,
}

pub trait Routing: Send + Sync {
    fn route(
        &self,
        request: &RouteRequest,
    ) -> impl Future<Output = Result<Route, RoutingError>> + Send;
}
