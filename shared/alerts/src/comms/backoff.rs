//! When to try a failed delivery again: exponential backoff with "equal jitter" (half the
//! window fixed, half random), on an emergency scale of seconds. Each window doubles, so
//! every wait is at least as long as the one before until the cap, and copies of a message
//! that failed together do not come back together.

use std::time::Duration;

use rand::Rng;

/// The wait after attempt `attempt` (1-based) failed.
pub fn delay(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let window = window(attempt, base, cap);
    let half = window / 2;
    let jitter = rand::rng().random_range(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter)
}

/// The largest wait after attempt `attempt`: `base × 2^(attempt-1)`, at most `cap`.
pub fn window(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let doublings = attempt.saturating_sub(1).min(20);
    base.saturating_mul(1 << doublings).min(cap)
}

/// `Retry-After` is honoured, within reason: never sooner than the backoff would wait,
/// never longer than the cap (the acknowledgement deadline will not wait for a busy server).
pub fn honour_retry_after(asked: Duration, backoff: Duration, cap: Duration) -> Duration {
    asked.max(backoff).min(cap.max(backoff))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_double_up_to_the_cap() {
        let base = Duration::from_secs(2);
        let cap = Duration::from_secs(30);
        let windows: Vec<u64> = (1..=6).map(|a| window(a, base, cap).as_secs()).collect();
        assert_eq!(windows, vec![2, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn waits_never_shrink_before_the_cap_and_stay_in_their_window() {
        let base = Duration::from_millis(500);
        let cap = Duration::from_secs(60);
        for _ in 0..200 {
            let waits: Vec<Duration> = (1..=6).map(|a| delay(a, base, cap)).collect();
            for (i, w) in waits.iter().enumerate() {
                let win = window(i as u32 + 1, base, cap);
                assert!(*w >= win / 2 && *w <= win, "{w:?} outside {win:?}");
            }
            assert!(waits.windows(2).all(|p| p[0] <= p[1]), "{waits:?}");
        }
    }

    #[test]
    fn retry_after_is_bounded() {
        let s = Duration::from_secs;
        assert_eq!(honour_retry_after(s(5), s(2), s(30)), s(5));
        assert_eq!(honour_retry_after(s(1), s(2), s(30)), s(2));
        assert_eq!(honour_retry_after(s(3600), s(2), s(30)), s(30));
    }
}
