//! Outages worth waking someone for: the engine unreachable, or the git
//! source failing to fetch, for longer than a threshold; and, once one was
//! reported, its recovery. A blip shorter than the threshold says nothing.

use super::notify::Severity;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct Outage {
    since: Option<Instant>,
    reported: bool,
}

impl Outage {
    /// What to say about this outage now: (event suffix, severity, message).
    fn observe(
        &mut self,
        now: Instant,
        failing: Option<&str>,
        threshold: Duration,
    ) -> Option<(&'static str, Severity, String)> {
        match (failing, self.since) {
            (Some(_), None) => {
                self.since = Some(now);
                None
            }
            (Some(why), Some(since))
                if !self.reported && now.duration_since(since) >= threshold =>
            {
                self.reported = true;
                Some((
                    "failing",
                    Severity::Critical,
                    format!("for {}s: {why}", now.duration_since(since).as_secs()),
                ))
            }
            (Some(_), Some(_)) => None,
            (None, Some(since)) => {
                let was_reported = self.reported;
                *self = Outage::default();
                was_reported.then(|| {
                    (
                        "recovered",
                        Severity::Info,
                        format!("after {}s", now.duration_since(since).as_secs()),
                    )
                })
            }
            (None, None) => None,
        }
    }
}

/// Tracks both outages; the loop feeds it after every pass.
#[derive(Debug)]
pub struct Outages {
    threshold: Duration,
    engine: Outage,
    git: Outage,
}

impl Outages {
    pub fn new(threshold: Duration) -> Self {
        Outages {
            threshold,
            engine: Outage::default(),
            git: Outage::default(),
        }
    }

    /// Notifications due now: (event, severity, message).
    pub fn observe(
        &mut self,
        now: Instant,
        engine_down: Option<&str>,
        git_failing: Option<&str>,
    ) -> Vec<(&'static str, Severity, String)> {
        let mut out = Vec::new();
        if let Some((what, severity, detail)) =
            self.engine.observe(now, engine_down, self.threshold)
        {
            let (event, message) = match what {
                "failing" => (
                    "engine-unreachable",
                    format!("the Docker engine has been unreachable {detail}"),
                ),
                _ => (
                    "engine-recovered",
                    format!("the Docker engine answers again {detail}"),
                ),
            };
            out.push((event, severity, message));
        }
        if let Some((what, severity, detail)) = self.git.observe(now, git_failing, self.threshold) {
            let (event, message) = match what {
                "failing" => (
                    "git-failing",
                    format!("git fetch has been failing {detail}"),
                ),
                _ => ("git-recovered", format!("git fetch works again {detail}")),
            };
            out.push((event, severity, message));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(120);

    #[test]
    fn a_blip_shorter_than_the_threshold_says_nothing() {
        let mut o = Outages::new(T);
        let t0 = Instant::now();
        assert!(o.observe(t0, Some("refused"), None).is_empty());
        assert!(o
            .observe(t0 + Duration::from_secs(60), Some("refused"), None)
            .is_empty());
        assert!(
            o.observe(t0 + Duration::from_secs(90), None, None)
                .is_empty(),
            "no recovery for an unreported blip"
        );
    }

    #[test]
    fn a_long_outage_is_reported_once_then_its_recovery() {
        let mut o = Outages::new(T);
        let t0 = Instant::now();
        o.observe(t0, Some("refused"), None);
        let due = o.observe(t0 + T, Some("refused"), None);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].0, "engine-unreachable");
        assert_eq!(due[0].1, Severity::Critical);
        assert!(due[0].2.contains("refused"), "{}", due[0].2);
        assert!(
            o.observe(t0 + T * 2, Some("refused"), None).is_empty(),
            "once"
        );
        let back = o.observe(t0 + T * 3, None, None);
        assert_eq!(back[0].0, "engine-recovered");
        assert!(back[0].2.contains("after 360s"), "{}", back[0].2);
    }

    #[test]
    fn git_and_engine_are_tracked_apart() {
        let mut o = Outages::new(T);
        let t0 = Instant::now();
        o.observe(t0, None, Some("could not resolve host"));
        let due = o.observe(t0 + T, None, Some("could not resolve host"));
        assert_eq!(due.iter().map(|d| d.0).collect::<Vec<_>>(), ["git-failing"]);
        assert_eq!(o.observe(t0 + T + T, None, None)[0].0, "git-recovered");
    }
}
