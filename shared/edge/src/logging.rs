//! Structured JSON logs (one object a line), which CloudWatch Logs Insights queries by field.
//! Fields are ids and outcomes, never medical data or secrets.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber once; later calls are no-ops. Level from `RUST_LOG`
/// (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .flatten_event(true)
        .try_init();
}
