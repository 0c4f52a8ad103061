//! Structured logs and metrics, one JSON object a line on stdout, which Lambda hands to
//! CloudWatch Logs as is.
//!
//! - A log line carries the event's fields and those of every span it happened in, flattened:
//!   `request_id` (the Lambda runtime's `requestId`, or the HTTP request's id), `function`,
//!   and `alert_id` / `hospital_id` where the work concerns one. Fields are ids and outcomes,
//!   never medical data or secrets.
//! - A metric (an event of `haven_kernel::metrics::TARGET`) becomes a CloudWatch Embedded
//!   Metric Format line instead: CloudWatch turns it into a metric in the `Haven` namespace,
//!   by stage, without any API call from the function.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use haven_kernel::metrics::{self, Metric};
use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};
use tracing::{Event, Id, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The namespace Haven's own metrics are published under.
pub const NAMESPACE: &str = "Haven";

/// Installs the JSON subscriber once; later calls are no-ops. Level from `RUST_LOG`
/// (default `info`); metrics are written whatever the level.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let filter = filter.add_directive(
        format!("{}=info", metrics::TARGET)
            .parse()
            .expect("a valid directive"),
    );
    let stage = std::env::var("HAVEN_STAGE").unwrap_or_else(|_| "local".to_owned());
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(JsonLines::new(std::io::stdout, stage))
        .try_init();
}

/// The layer writing both kinds of line.
pub struct JsonLines<W> {
    writer: W,
    stage: String,
}

impl<W> JsonLines<W> {
    pub fn new(writer: W, stage: impl Into<String>) -> Self {
        JsonLines {
            writer,
            stage: stage.into(),
        }
    }
}

/// A span's fields, kept in its extensions.
struct SpanFields(Map<String, Value>);

/// The runtime's camelCase names, as every other line spells them. The runtime's request id
/// is Lambda's; an HTTP request's `request_id` is API Gateway's (the `x-request-id` a caller
/// sees), and a line without one takes Lambda's.
fn field_name(name: &str) -> &str {
    match name {
        "requestId" => "lambda_request_id",
        "xrayTraceId" => "xray_trace_id",
        "tenantId" => "tenant_id",
        other => other,
    }
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field_name(field.name()).to_owned(), json!(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0
            .insert(field_name(field.name()).to_owned(), json!(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0
            .insert(field_name(field.name()).to_owned(), json!(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0
            .insert(field_name(field.name()).to_owned(), json!(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0
            .insert(field_name(field.name()).to_owned(), json!(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field_name(field.name()).to_owned(),
            json!(format!("{value:?}")),
        );
    }
}

impl<S, W> Layer<S> for JsonLines<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Map::new();
        attrs.record(&mut Fields(&mut fields));
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if let Some(SpanFields(fields)) = span.extensions_mut().get_mut::<SpanFields>() {
            values.record(&mut Fields(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = Map::new();
        // Outermost span first, so the innermost wins a name they share.
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                    line.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        let mut own = Map::new();
        event.record(&mut Fields(&mut own));
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let out = if event.metadata().target() == metrics::TARGET {
            match emf(&self.stage, now_ms, line, own) {
                Some(v) => v,
                None => return,
            }
        } else {
            line.extend(own);
            fill_request_id(&mut line);
            line.insert(
                "timestamp".into(),
                json!(
                    chrono::DateTime::from_timestamp_millis(now_ms as i64).map(|t| t.to_rfc3339())
                ),
            );
            line.insert("level".into(), json!(event.metadata().level().as_str()));
            line.insert("target".into(), json!(event.metadata().target()));
            Value::Object(line)
        };
        let mut w = self.writer.make_writer();
        // One write per line, so lines from concurrent invocations never interleave.
        let mut bytes = serde_json::to_vec(&out).unwrap_or_default();
        bytes.push(b'\n');
        let _ = w.write_all(&bytes);
    }
}

fn fill_request_id(line: &mut Map<String, Value>) {
    if line.get("request_id").is_none_or(|v| v.is_null())
        && let Some(lambda) = line.get("lambda_request_id").cloned()
    {
        line.insert("request_id".into(), lambda);
    }
}

/// An Embedded Metric Format line: the metric under `Haven`, by stage, with the context's ids
/// as properties (searchable in Logs Insights, not dimensions).
fn emf(
    stage: &str,
    now_ms: u64,
    mut context: Map<String, Value>,
    own: Map<String, Value>,
) -> Option<Value> {
    fill_request_id(&mut context);
    let name = own.get("metric")?.as_str()?;
    let metric = Metric::ALL.iter().find(|m| m.name() == name)?;
    let value = own.get("value")?.as_f64()?;
    for (k, v) in own {
        if !matches!(k.as_str(), "metric" | "value" | "message") {
            context.insert(k, v);
        }
    }
    context.insert("Stage".into(), json!(stage));
    context.insert(metric.name().into(), json!(value));
    context.insert(
        "_aws".into(),
        json!({
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Stage"]],
                "Metrics": [{"Name": metric.name(), "Unit": metric.unit()}],
            }],
        }),
    );
    Some(Value::Object(context))
}

/// Lines kept in memory instead of written out: what a test or a tool reads back from
/// `JsonLines`.
#[derive(Clone, Default)]
pub struct MemoryLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl MemoryLog {
    /// Every line written so far, parsed; an error if any line is not one JSON value.
    pub fn lines(&self) -> Result<Vec<Value>, serde_json::Error> {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(serde_json::from_str)
            .collect()
    }
}

impl Write for MemoryLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for MemoryLog {
    type Writer = MemoryLog;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_carries_the_ids_of_the_spans_it_happened_in() {
        let captured = MemoryLog::default();
        let subscriber =
            tracing_subscriber::registry().with(JsonLines::new(captured.clone(), "test"));
        tracing::subscriber::with_default(subscriber, || {
            let runtime = tracing::info_span!("Lambda runtime invoke", requestId = "r-1");
            let _r = runtime.enter();
            let request = tracing::info_span!("request", function = "comms-ack", alert_id = "a-1");
            let _q = request.enter();
            tracing::info!(hospital_id = "h-1", outcome = "accepted", "answered");
        });
        let lines = captured.lines().expect("one JSON object a line");
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert_eq!(l["request_id"], "r-1");
        assert_eq!(l["function"], "comms-ack");
        assert_eq!(l["alert_id"], "a-1");
        assert_eq!(l["hospital_id"], "h-1");
        assert_eq!(l["message"], "answered");
        assert_eq!(l["level"], "INFO");
        assert!(l["timestamp"].as_str().is_some_and(|t| t.starts_with("20")));
        assert!(l.get("_aws").is_none());
    }

    #[test]
    fn an_http_request_id_wins_over_lambdas_and_a_worker_line_takes_lambdas() {
        let captured = MemoryLog::default();
        let subscriber =
            tracing_subscriber::registry().with(JsonLines::new(captured.clone(), "test"));
        tracing::subscriber::with_default(subscriber, || {
            let runtime = tracing::info_span!("Lambda runtime invoke", requestId = "lambda-1");
            let _r = runtime.enter();
            tracing::info!("a worker line");
            let absent: Option<&str> = None;
            let request = tracing::info_span!("request", request_id = "api-1", alert_id = absent);
            let _q = request.enter();
            tracing::warn!("an http line");
        });
        let lines = captured.lines().expect("one JSON object a line");
        assert_eq!(lines[0]["request_id"], "lambda-1");
        assert_eq!(lines[1]["request_id"], "api-1");
        assert_eq!(lines[1]["lambda_request_id"], "lambda-1");
        assert_eq!(lines[1]["level"], "WARN");
        assert!(
            lines[1].get("alert_id").is_none(),
            "an absent id is left out"
        );
    }

    #[test]
    fn a_metric_becomes_an_embedded_metric_format_line() {
        let captured = MemoryLog::default();
        let subscriber =
            tracing_subscriber::registry().with(JsonLines::new(captured.clone(), "prod"));
        tracing::subscriber::with_default(subscriber, || {
            let runtime = tracing::info_span!("Lambda runtime invoke", requestId = "r-2");
            let _r = runtime.enter();
            metrics::record(Metric::TimeToAcknowledgement, 41_250.0, "a-9");
            metrics::count(Metric::Escalations, "a-9");
        });
        let lines = captured.lines().expect("one JSON object a line");
        assert_eq!(lines.len(), 2);
        let l = &lines[0];
        let directive = &l["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Stage"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "TimeToAcknowledgement", "Unit": "Milliseconds"}])
        );
        assert!(
            l["_aws"]["Timestamp"]
                .as_u64()
                .is_some_and(|t| t > 1_700_000_000_000)
        );
        // The members the directive names are on the line itself.
        assert_eq!(l["Stage"], "prod");
        assert_eq!(l["TimeToAcknowledgement"], 41_250.0);
        assert_eq!(l["alert_id"], "a-9");
        assert_eq!(l["request_id"], "r-2");
        assert!(l.get("message").is_none());
        assert_eq!(lines[1]["Escalations"], 1.0);
        assert_eq!(
            lines[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Count"
        );
    }
}
