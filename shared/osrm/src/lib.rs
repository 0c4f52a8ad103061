//! The Routing port on an OSRM-compatible routing server (OSRM, or anything that answers its
//! `route` service: `GET /route/v1/{profile}/{lon},{lat};{lon},{lat}`). Road distance and a
//! traffic-free duration come back; a failure is `Unavailable`, and the domain then falls
//! back to its own estimate, so an ETA never waits on this server for long.

use std::time::Duration;

use haven_kernel::ports::{Basis, Route, RouteRequest, Routing, RoutingError};
use serde::Deserialize;

/// An ETA is asked for on every position; a slow engine must not slow the stream.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Debug)]
pub struct OsrmRouting {
    client: reqwest::Client,
    base: url::Url,
    profile: String,
}

#[derive(Deserialize)]
struct Answer {
    code: String,
    #[serde(default)]
    routes: Vec<Leg>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct Leg {
    /// Metres.
    distance: f64,
    /// Seconds.
    duration: f64,
}

impl OsrmRouting {
    /// `base`: the server's root (`http://osrm:5000`); `profile`: `driving` for OSRM's car
    /// profile.
    pub fn new(base: &str, profile: &str, timeout: Duration) -> Result<Self, String> {
        let mut base = url::Url::parse(base).map_err(|e| format!("routing URL: {e}"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err("routing URL must be http or https".into());
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        if profile.is_empty()
            || !profile
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("routing profile is letters, digits, - and _".into());
        }
        haven_webhooks::install_default_crypto();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("routing client: {e}"))?;
        Ok(OsrmRouting {
            client,
            base,
            profile: profile.to_owned(),
        })
    }

    /// `HAVEN_ROUTING_URL` (unset: no engine) and `HAVEN_ROUTING_PROFILE` (default `driving`).
    pub fn from_env() -> Option<Result<Self, String>> {
        let base = std::env::var("HAVEN_ROUTING_URL")
            .ok()
            .filter(|v| !v.is_empty())?;
        let profile = std::env::var("HAVEN_ROUTING_PROFILE").unwrap_or_else(|_| "driving".into());
        Some(Self::new(&base, &profile, DEFAULT_TIMEOUT))
    }

    fn url(&self, request: &RouteRequest) -> Result<url::Url, RoutingError> {
        // OSRM takes longitude first.
        let path = format!(
            "route/v1/{}/{:.6},{:.6};{:.6},{:.6}",
            self.profile,
            request.from.longitude,
            request.from.latitude,
            request.to.longitude,
            request.to.latitude
        );
        let mut url = self
            .base
            .join(&path)
            .map_err(|e| RoutingError::Unavailable(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("overview", "false")
            .append_pair("alternatives", "false")
            .append_pair("steps", "false");
        Ok(url)
    }
}

impl Routing for OsrmRouting {
    async fn route(&self, request: &RouteRequest) -> Result<Route, RoutingError> {
        let url = self.url(request)?;
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| RoutingError::Unavailable(format!("routing server: {e}")))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| RoutingError::Unavailable(format!("routing server: {e}")))?;
        let answer: Answer = serde_json::from_slice(&body).map_err(|_| {
            RoutingError::Unavailable(format!(
                "routing server answered {status} without OSRM JSON"
            ))
        })?;
        match answer.code.as_str() {
            "Ok" => {}
            "NoRoute" | "NoSegment" => return Err(RoutingError::NoRoute),
            other => {
                return Err(RoutingError::Unavailable(format!(
                    "routing server: {other}: {}",
                    answer.message.unwrap_or_default()
                )));
            }
        }
        let leg = answer
            .routes
            .first()
            .filter(|l| {
                l.distance.is_finite()
                    && l.duration.is_finite()
                    && l.distance >= 0.0
                    && l.duration >= 0.0
            })
            .ok_or_else(|| RoutingError::Unavailable("routing server gave no route".into()))?;
        Ok(Route {
            distance_km: (leg.distance / 10.0).round() / 100.0,
            minutes: (leg.duration / 60.0 * 100.0).round() / 100.0,
            basis: Basis::Osrm,
        })
    }
}
