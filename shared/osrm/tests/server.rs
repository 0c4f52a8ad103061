//! The adapter against a real HTTP listener that answers as OSRM's `route` service does.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use haven_kernel::Timestamp;
use haven_kernel::geo::Coordinates;
use haven_kernel::ports::{Basis, RouteRequest, Routing, RoutingError};
use haven_osrm::OsrmRouting;

type Seen = Arc<Mutex<Vec<String>>>;

async fn route(
    State(seen): State<Seen>,
    Path((profile, coordinates)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> (axum::http::StatusCode, String) {
    seen.lock().expect("lock").push(format!(
        "{profile} {coordinates} {}",
        query.unwrap_or_default()
    ));
    // The south pole has no roads; the other answers follow OSRM's shapes.
    if coordinates.contains(",-89.") {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            r#"{"code":"NoRoute","message":"Impossible route between points"}"#.into(),
        );
    }
    if coordinates.starts_with("0.000000") {
        return (
            axum::http::StatusCode::OK,
            "<html>proxy error</html>".into(),
        );
    }
    (
        axum::http::StatusCode::OK,
        r#"{"code":"Ok","routes":[{"distance":7345.6,"duration":612.0,"weight":612.0,"legs":[]}],"waypoints":[]}"#.into(),
    )
}

async fn server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route("/osrm/route/v1/{profile}/{coordinates}", get(route))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/osrm"), seen)
}

fn request(from: (f64, f64), to: (f64, f64)) -> RouteRequest {
    RouteRequest {
        from: Coordinates::new(from.0, from.1).expect("valid"),
        to: Coordinates::new(to.0, to.1).expect("valid"),
        at: Timestamp::from_millis(0),
        observed_kmh: None,
    }
}

#[tokio::test]
async fn a_route_comes_back_in_kilometres_and_minutes_asked_longitude_first() {
    let (base, seen) = server().await;
    let osrm = OsrmRouting::new(&base, "driving", Duration::from_secs(2)).expect("adapter");
    let route = osrm
        .route(&request((-1.3, 36.8), (-1.25, 36.85)))
        .await
        .expect("route");
    assert_eq!(route.distance_km, 7.35);
    assert_eq!(route.minutes, 10.2);
    assert_eq!(route.basis, Basis::Osrm);
    let asked = seen.lock().expect("lock").clone();
    assert_eq!(
        asked,
        vec![
            "driving 36.800000,-1.300000;36.850000,-1.250000 overview=false&alternatives=false&steps=false"
        ]
    );
}

#[tokio::test]
async fn no_road_is_no_route_and_garbage_or_silence_is_unavailable() {
    let (base, _) = server().await;
    let osrm = OsrmRouting::new(&base, "driving", Duration::from_secs(2)).expect("adapter");
    assert_eq!(
        osrm.route(&request((-1.3, 36.8), (-89.5, 0.0))).await,
        Err(RoutingError::NoRoute)
    );
    assert!(matches!(
        osrm.route(&request((1.0, 0.0), (1.0, 1.0))).await,
        Err(RoutingError::Unavailable(m)) if m.contains("without OSRM JSON")
    ));
    // Nothing listens here any more.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let down = OsrmRouting::new(&format!("http://{addr}"), "driving", Duration::from_secs(1))
        .expect("adapter");
    assert!(matches!(
        down.route(&request((-1.3, 36.8), (-1.25, 36.85))).await,
        Err(RoutingError::Unavailable(_))
    ));
}

#[test]
fn configuration_is_checked() {
    assert!(OsrmRouting::new("ftp://x", "driving", Duration::from_secs(1)).is_err());
    assert!(OsrmRouting::new("http://x", "car/../../admin", Duration::from_secs(1)).is_err());
    assert!(OsrmRouting::new("not a url", "driving", Duration::from_secs(1)).is_err());
}
