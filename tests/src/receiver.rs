//! A real webhook receiver on a loopback port: it records every request (headers, body, when)
//! and answers as a test scripts it — a hospital's integration endpoint, healthy or not.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Status(u16),
    /// A status with `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
    /// Holds the request this long, then answers 200 (a slow or hung receiver).
    Hang(Duration),
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub at: Instant,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub json: serde_json::Value,
    /// The status the receiver answered.
    pub answered: u16,
}

impl Delivery {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
    pub fn id(&self) -> &str {
        self.header("webhook-id")
    }
}

struct Inner {
    deliveries: Vec<Delivery>,
    script: VecDeque<Reply>,
    default: Reply,
}

#[derive(Clone)]
pub struct Receiver {
    /// The URL to configure as a hospital's webhook.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    /// Dropped with the last handle: the server then shuts down.
    _stop: Arc<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            deliveries: Vec::new(),
            script: VecDeque::new(),
            default: Reply::Status(200),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("bound");
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(inner.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            inner,
            _stop: Arc::new(stop),
        }
    }

    /// The next answers, in order; after them, the default.
    pub fn script(&self, replies: &[Reply]) {
        self.lock().script.extend(replies.iter().copied());
    }

    pub fn answer_by_default(&self, reply: Reply) {
        self.lock().default = reply;
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.lock().deliveries.clone()
    }

    /// Deliveries answered with a 2xx: what the hospital took in.
    pub fn accepted(&self) -> Vec<Delivery> {
        self.deliveries()
            .into_iter()
            .filter(|d| (200..300).contains(&d.answered))
            .collect()
    }

    /// Waits until `done` holds for the deliveries so far, or panics after `limit`.
    pub async fn wait_until(
        &self,
        limit: Duration,
        what: &str,
        done: impl Fn(&[Delivery]) -> bool,
    ) -> Vec<Delivery> {
        let start = Instant::now();
        loop {
            let deliveries = self.deliveries();
            if done(&deliveries) {
                return deliveries;
            }
            assert!(
                start.elapsed() < limit,
                "waited {limit:?} for {what}; the receiver saw {} requests: {:?}",
                deliveries.len(),
                deliveries
                    .iter()
                    .map(|d| (
                        d.json["type"].clone(),
                        d.json["hospital_id"].clone(),
                        d.answered
                    ))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let at = Instant::now();
    let reply = {
        let mut inner = inner.lock().unwrap_or_else(|e| e.into_inner());
        let default = inner.default;
        inner.script.pop_front().unwrap_or(default)
    };
    let (status, retry_after, hang) = match reply {
        Reply::Status(s) => (s, None, None),
        Reply::RetryAfter(s, after) => (s, Some(after), None),
        Reply::Hang(d) => (200, None, Some(d)),
    };
    // Recorded on arrival: a sender killed while the request hangs still counts as sent.
    let delivery = Delivery {
        at,
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        json: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        body,
        answered: status,
    };
    inner
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .deliveries
        .push(delivery);
    if let Some(d) = hang {
        tokio::time::sleep(d).await;
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match retry_after {
        Some(s) => (code, [("retry-after", s.to_string())]).into_response(),
        None => code.into_response(),
    }
}
