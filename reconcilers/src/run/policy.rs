//! The run loop's policies, as small pure functions of time.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// Restarts of one workload inside this window count towards crash-looping.
pub const CRASH_WINDOW: Duration = Duration::from_secs(600);
pub const CRASH_LIMIT: usize = 5;

/// Workloads the loop keeps restarting are held back (left out of the plan)
/// with a hold that doubles on every strike: 60 s, 120 s, ... up to 32 min.
#[derive(Debug, Default)]
pub struct CrashLoops {
    restarts: BTreeMap<String, VecDeque<Instant>>,
    /// Held until the instant, and how many times it was held.
    held: BTreeMap<String, (Instant, u32)>,
}

impl CrashLoops {
    /// Records that the loop started or recreated `name` at `now`; returns
    /// how long it is now held, when this restart makes it crash-looping.
    pub fn record_restart(&mut self, name: &str, now: Instant) -> Option<Duration> {
        let q = self.restarts.entry(name.to_string()).or_default();
        q.push_back(now);
        while q
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > CRASH_WINDOW)
        {
            q.pop_front();
        }
        if q.len() < CRASH_LIMIT {
            return None;
        }
        q.clear();
        let strikes = self.held.get(name).map(|(_, n)| n + 1).unwrap_or(1);
        let wait = Duration::from_secs(30u64.saturating_mul(1 << strikes.min(6)));
        self.held.insert(name.to_string(), (now + wait, strikes));
        Some(wait)
    }

    /// Holds that ran out are lifted (the strike count stays, so the next hold is longer).
    pub fn held_at(&self, now: Instant) -> BTreeSet<String> {
        self.held
            .iter()
            .filter(|(_, (until, _))| now < *until)
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// After a failed pass, retry with jittered exponential backoff; a pass that
/// succeeds resets it. The loop still wakes on any trigger meanwhile.
pub struct ErrorPolicy {
    min: Duration,
    max: Duration,
    failures: u32,
}

impl ErrorPolicy {
    pub fn new(min: Duration, max: Duration) -> ErrorPolicy {
        ErrorPolicy {
            min,
            max,
            failures: 0,
        }
    }

    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// The requeue delay after one more failure; `jitter` in [0, 1) spreads it by up to 20%.
    pub fn failed(&mut self, jitter: f64) -> Duration {
        let base = self
            .min
            .saturating_mul(1u32 << self.failures.min(20))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        base.mul_f64(1.0 + 0.2 * jitter.clamp(0.0, 1.0))
            .min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_restarts_in_the_window_hold_a_workload_with_growing_holds() {
        let mut c = CrashLoops::default();
        let t0 = Instant::now();
        for i in 0..4 {
            assert_eq!(c.record_restart("web", t0 + Duration::from_secs(i)), None);
        }
        let first = c.record_restart("web", t0 + Duration::from_secs(4));
        assert_eq!(first, Some(Duration::from_secs(60)));
        assert!(c.held_at(t0 + Duration::from_secs(5)).contains("web"));
        assert!(
            !c.held_at(t0 + Duration::from_secs(65)).contains("web"),
            "the hold runs out"
        );
        let later = t0 + Duration::from_secs(100);
        for i in 0..4 {
            assert_eq!(
                c.record_restart("web", later + Duration::from_secs(i)),
                None
            );
        }
        assert_eq!(
            c.record_restart("web", later + Duration::from_secs(4)),
            Some(Duration::from_secs(120)),
            "the second hold is twice as long"
        );
        assert!(
            c.held_at(later).contains("web")
                || c.held_at(later + Duration::from_secs(5)).contains("web")
        );
    }

    #[test]
    fn restarts_outside_the_window_do_not_count() {
        let mut c = CrashLoops::default();
        let t0 = Instant::now();
        for i in 0..10u64 {
            assert_eq!(
                c.record_restart("db", t0 + CRASH_WINDOW / 3 * i as u32),
                None,
                "restart {i}"
            );
        }
        assert!(c.held_at(t0 + CRASH_WINDOW * 3).is_empty());
    }

    #[test]
    fn the_error_policy_backs_off_to_its_cap_and_resets() {
        let mut p = ErrorPolicy::new(Duration::from_millis(500), Duration::from_secs(60));
        let delays: Vec<Duration> = (0..10).map(|_| p.failed(0.0)).collect();
        assert_eq!(delays[0], Duration::from_millis(500));
        assert_eq!(delays[1], Duration::from_secs(1));
        assert_eq!(delays[3], Duration::from_secs(4));
        assert_eq!(delays[9], Duration::from_secs(60));
        assert!(p.failed(0.99) <= Duration::from_secs(60));
        p.succeeded();
        assert_eq!(
            p.failed(0.5),
            Duration::from_millis(550),
            "back to the minimum, plus 10% jitter"
        );
    }
}
