//! Which Routing port this process uses: the domain's estimator, or an OSRM-compatible
//! engine when `HAVEN_ROUTING_URL` names one. A bad engine setting is logged and the
//! estimator used, so a typo cannot take ETAs down.

use haven_alerts::tracking::speed::SpeedModel;
use haven_kernel::ports::{Route, RouteRequest, Routing, RoutingError};
use haven_osrm::OsrmRouting;

#[derive(Debug, Clone)]
pub enum RoadRouting {
    Estimate(SpeedModel),
    Osrm(OsrmRouting),
}

impl RoadRouting {
    pub fn from_env() -> Self {
        match OsrmRouting::from_env() {
            None => RoadRouting::Estimate(SpeedModel::from_env()),
            Some(Ok(osrm)) => RoadRouting::Osrm(osrm),
            Some(Err(e)) => {
                tracing::error!(error = %e, "HAVEN_ROUTING_URL is unusable; estimating routes");
                RoadRouting::Estimate(SpeedModel::from_env())
            }
        }
    }
}

impl Routing for RoadRouting {
    async fn route(&self, request: &RouteRequest) -> Result<Route, RoutingError> {
        match self {
            RoadRouting::Estimate(model) => Ok(model.estimate(request)),
            RoadRouting::Osrm(osrm) => osrm.route(request).await,
        }
    }
}
