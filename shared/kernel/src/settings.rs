//! How the notification pipeline behaves, read once per process from its environment.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct CommsSettings {
    /// How long a hospital has to answer before the alert moves on (`HAVEN_ACK_DEADLINE_SECONDS`).
    pub ack_deadline: Duration,
    /// The first retry waits about this long; each later one twice as long (`HAVEN_RETRY_BASE_MS`).
    pub retry_base: Duration,
    /// No retry waits longer: the acknowledgement deadline comes first.
    pub retry_cap: Duration,
    /// Attempts per delivery before it is given up and parked in the dead-letter queue.
    pub max_attempts: u32,
    /// Time limit of one webhook request (`HAVEN_WEBHOOK_TIMEOUT_SECONDS`, 1 to 7 seconds: a
    /// batch must end inside the worker function's timeout).
    pub attempt_timeout: Duration,
    /// Where people reach this Haven: acknowledgement links start with it (`HAVEN_PUBLIC_URL`).
    pub public_base_url: String,
    /// Accept webhook URLs on loopback and private networks (`HAVEN_ALLOW_PRIVATE_WEBHOOKS`):
    /// for local development only; on AWS it would let a hospital admin reach internal hosts.
    pub allow_private_webhooks: bool,
    /// Outbox events older than this are published by the relay (the normal path publishes
    /// them at once; the relay is for crashes and outages).
    pub relay_after: Duration,
    /// The local time pages show, as minutes east of UTC (`HAVEN_UTC_OFFSET_MINUTES`; East
    /// Africa Time by default).
    pub utc_offset_minutes: i32,
}

impl Default for CommsSettings {
    fn default() -> Self {
        CommsSettings {
            ack_deadline: Duration::from_secs(60),
            retry_base: Duration::from_secs(2),
            retry_cap: Duration::from_secs(30),
            max_attempts: 6,
            attempt_timeout: Duration::from_secs(5),
            public_base_url: "http://127.0.0.1:3000".into(),
            allow_private_webhooks: false,
            relay_after: Duration::from_secs(10),
            utc_offset_minutes: 180,
        }
    }
}

fn number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

impl CommsSettings {
    pub fn from_env() -> Self {
        let mut s = CommsSettings::default();
        if let Some(v) = number("HAVEN_ACK_DEADLINE_SECONDS").filter(|v| (1..=900).contains(v)) {
            s.ack_deadline = Duration::from_secs(v);
        }
        if let Some(v) = number("HAVEN_RETRY_BASE_MS").filter(|v| (1..=60_000).contains(v)) {
            s.retry_base = Duration::from_millis(v);
        }
        if let Some(v) = number("HAVEN_WEBHOOK_TIMEOUT_SECONDS")
            .filter(|v| (1..=crate::catalogue::MAX_ATTEMPT_TIMEOUT.as_secs()).contains(v))
        {
            s.attempt_timeout = Duration::from_secs(v);
        }
        if let Some(url) = Self::public_url_from_env() {
            s.public_base_url = url;
        }
        if let Some(v) = std::env::var("HAVEN_UTC_OFFSET_MINUTES")
            .ok()
            .and_then(|v| v.trim().parse::<i32>().ok())
            .filter(|v| (-720..=840).contains(v))
        {
            s.utc_offset_minutes = v;
        }
        s.allow_private_webhooks = matches!(
            std::env::var("HAVEN_ALLOW_PRIVATE_WEBHOOKS").as_deref(),
            Ok("1" | "true")
        );
        s
    }

    /// `HAVEN_PUBLIC_URL` when it is set: the address people reach this Haven at. Off AWS
    /// the gateway falls back to its own listening address (not a fixed port), so links in
    /// texts and webhooks work on whatever `PORT` it was given.
    pub fn public_url_from_env() -> Option<String> {
        let url = std::env::var("HAVEN_PUBLIC_URL").ok()?;
        let url = url.trim().trim_end_matches('/');
        (!url.is_empty()).then(|| url.to_owned())
    }

    /// The lease a worker holds on a delivery while it makes one attempt: longer than the
    /// attempt, so a second copy of the message waits rather than sends twice; short, so a
    /// crashed worker's delivery is taken over within seconds.
    pub fn lease(&self) -> Duration {
        self.attempt_timeout + Duration::from_secs(3)
    }
}
