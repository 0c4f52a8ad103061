//! What the alert path measures. The domain names a measurement and records it as a tracing
//! event of [`TARGET`]; the edge's log layer writes it in CloudWatch Embedded Metric Format
//! (the `Haven` namespace, by stage), and alarms in `template.yaml` watch some of them.

/// The tracing target of metric events.
pub const TARGET: &str = "haven::metric";

use crate::clock::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// From the tap to a hospital chosen (milliseconds).
    TimeToMatch,
    /// From the tap to the first hospital told on any channel (milliseconds).
    TimeToFirstDelivery,
    /// From the tap to a hospital accepting (milliseconds).
    TimeToAcknowledgement,
    /// An alert moved on from a hospital that refused or did not answer in time.
    Escalations,
    /// An alert ran out of hospitals without one accepting: dispatch took it over.
    AlertsUnacknowledged,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::TimeToMatch,
        Metric::TimeToFirstDelivery,
        Metric::TimeToAcknowledgement,
        Metric::Escalations,
        Metric::AlertsUnacknowledged,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::TimeToMatch => "TimeToMatch",
            Metric::TimeToFirstDelivery => "TimeToFirstDelivery",
            Metric::TimeToAcknowledgement => "TimeToAcknowledgement",
            Metric::Escalations => "Escalations",
            Metric::AlertsUnacknowledged => "AlertsUnacknowledged",
        }
    }

    /// The CloudWatch unit.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::TimeToMatch | Metric::TimeToFirstDelivery | Metric::TimeToAcknowledgement => {
                "Milliseconds"
            }
            Metric::Escalations | Metric::AlertsUnacknowledged => "Count",
        }
    }
}

/// Records one value of `metric` about an alert.
pub fn record(metric: Metric, value: f64, alert_id: &str) {
    tracing::info!(
        target: TARGET,
        metric = metric.name(),
        value,
        alert_id,
        "metric"
    );
}

/// Counts one occurrence of `metric` about an alert.
pub fn count(metric: Metric, alert_id: &str) {
    record(metric, 1.0, alert_id);
}

/// Milliseconds from an RFC 3339 instant (an alert's `created_at`) to `now`; `None` when the
/// instant does not parse or lies ahead.
pub fn millis_since(since: &str, now: Timestamp) -> Option<f64> {
    let ms = now.millis() - Timestamp::parse_rfc3339(since)?.millis();
    (ms >= 0).then_some(ms as f64)
}

/// Records the time from an alert's creation to now.
pub fn record_since(metric: Metric, created_at: &str, now: Timestamp, alert_id: &str) {
    if let Some(ms) = millis_since(created_at, now) {
        record(metric, ms, alert_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_time_is_counted_from_the_tap() {
        let now = Timestamp::parse_rfc3339("2026-11-23T10:00:41.250Z").expect("time");
        assert_eq!(
            millis_since("2026-11-23T10:00:00.000Z", now),
            Some(41_250.0)
        );
        assert_eq!(
            millis_since("2026-11-23T12:00:00+02:00", now),
            Some(41_250.0)
        );
        assert_eq!(millis_since("2026-11-23T10:01:00Z", now), None);
        assert_eq!(millis_since("yesterday", now), None);
    }

    #[test]
    fn names_are_unique_and_durations_are_milliseconds() {
        let mut names: Vec<_> = Metric::ALL.iter().map(|m| m.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
        assert_eq!(Metric::TimeToMatch.unit(), "Milliseconds");
        assert_eq!(Metric::Escalations.unit(), "Count");
    }
}
