//! When `run` asks the registry again: each reference on its own interval;
//! after a failure (a 429 above all) it backs off, doubling up to an hour,
//! so a registry that says "too many requests" is not hammered.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub const BACKOFF_MAX: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
struct Entry {
    next: Instant,
    failures: u32,
}

#[derive(Debug, Default)]
pub struct Schedule(BTreeMap<String, Entry>);

impl Schedule {
    /// Whether `reference` is due now (a new one is due at once).
    pub fn due(&self, reference: &str, now: Instant) -> bool {
        self.0.get(reference).is_none_or(|e| now >= e.next)
    }

    pub fn succeeded(&mut self, reference: &str, now: Instant, interval: Duration) {
        self.0.insert(
            reference.to_string(),
            Entry {
                next: now + interval,
                failures: 0,
            },
        );
    }

    /// Backs off: the interval, doubled per failure in a row, at most an hour.
    pub fn failed(&mut self, reference: &str, now: Instant, interval: Duration) -> Duration {
        let failures = self.0.get(reference).map_or(0, |e| e.failures) + 1;
        let wait = interval
            .saturating_mul(1u32 << failures.min(12))
            .min(BACKOFF_MAX)
            .max(interval);
        self.0.insert(
            reference.to_string(),
            Entry {
                next: now + wait,
                failures,
            },
        );
        wait
    }

    /// How long until the next reference is due.
    pub fn next_in(&self, now: Instant) -> Option<Duration> {
        self.0
            .values()
            .map(|e| e.next.saturating_duration_since(now))
            .min()
    }

    /// Forgets references no longer asked about.
    pub fn retain(&mut self, keep: &[String]) {
        self.0.retain(|r, _| keep.contains(r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reference_waits_its_interval_and_backs_off_after_failures() {
        let mut s = Schedule::default();
        let t0 = Instant::now();
        let i = Duration::from_secs(10);
        assert!(s.due("a", t0), "a new reference is due at once");
        s.succeeded("a", t0, i);
        assert!(!s.due("a", t0 + Duration::from_secs(9)));
        assert!(s.due("a", t0 + i));
        assert_eq!(s.failed("a", t0, i), Duration::from_secs(20));
        assert_eq!(s.failed("a", t0, i), Duration::from_secs(40));
        for _ in 0..20 {
            s.failed("a", t0, i);
        }
        assert_eq!(s.failed("a", t0, i), BACKOFF_MAX, "capped");
        s.succeeded("a", t0, i);
        assert_eq!(s.next_in(t0), Some(i), "a success resets the backoff");
    }
}
