//! What happened recently, for people: a bounded ring of the loop's events
//! (drift repairs, rollbacks, held rollouts, crash loops, policy violations,
//! lost volumes, broken input, failed passes), newest last.
//!
//! Served as JSON at `GET /events`:
//!
//! ```json
//! {"events": [{"seq": 7, "time": "2026-01-02T03:04:05Z", "event": "policy-violation",
//!              "severity": "critical", "resource": "Service/web",
//!              "message": "Service/web was attached to isolated network lucid-tron-isolated; disconnected"}]}
//! ```
//!
//! `seq` grows by one per event for the life of the process (a client polls
//! and keeps those above the last it saw); `time` is RFC 3339 UTC; `event`
//! is any event the loop notifies about (`rollout-failed`, `rollout-held`,
//! `crash-looping`, `unhealthy-restarted`, `policy-violation`,
//! `volume-lost`, `drift-repaired` (one per pass, resource null, the
//! repairs listed in the message), `input-broken`, `input-recovered`, the
//! engine and git outages and recoveries) or `reconcile-failed` (a pass
//! failed with an error different from the previous pass's); `severity`
//! is info, warning or critical; `resource` is `Kind/name` or null; `message` never holds a secret value (it is built
//! from the same outcomes the log prints). At most [`CAPACITY`] are kept.

use super::notify::Severity;
use serde::Serialize;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub const CAPACITY: usize = 100;
/// The same event, resource and message again within this long is not recorded twice
/// (a held rollout is reported by every pass).
const REPEAT_WINDOW: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub seq: u64,
    pub time: String,
    pub event: String,
    pub severity: Severity,
    pub resource: Option<String>,
    pub message: String,
    #[serde(skip)]
    pub at: Option<Instant>,
}

#[derive(Debug, Clone, Default)]
pub struct EventLog {
    events: VecDeque<Event>,
    next_seq: u64,
}

impl EventLog {
    /// Keeps the event unless it repeats a recent one; drops the oldest beyond CAPACITY.
    pub fn record(
        &mut self,
        event: &str,
        severity: Severity,
        resource: Option<String>,
        message: String,
        time: String,
        now: Instant,
    ) {
        let repeated = self.events.iter().any(|e| {
            e.event == event
                && e.resource == resource
                && e.message == message
                && e.at
                    .is_some_and(|at| now.saturating_duration_since(at) < REPEAT_WINDOW)
        });
        if repeated {
            return;
        }
        self.next_seq += 1;
        self.events.push_back(Event {
            seq: self.next_seq,
            time,
            event: event.to_string(),
            severity,
            resource,
            message,
            at: Some(now),
        });
        while self.events.len() > CAPACITY {
            self.events.pop_front();
        }
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Event> {
        self.events.iter()
    }

    /// The last sequence number handed out (0 before any event).
    pub fn last_seq(&self) -> u64 {
        self.next_seq
    }

    /// The `GET /events` document.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "events": self.events })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(log: &mut EventLog, message: &str, now: Instant) {
        let r = Some("Service/web".to_string());
        log.record(
            "drift-repaired",
            Severity::Info,
            r,
            message.into(),
            "t".into(),
            now,
        );
    }

    #[test]
    fn keeps_the_newest_hundred_and_numbers_them() {
        let mut log = EventLog::default();
        let now = Instant::now();
        for i in 0..150 {
            add(&mut log, &format!("change {i}"), now);
        }
        assert_eq!(log.iter().count(), CAPACITY);
        assert_eq!(log.iter().next().map(|e| e.seq), Some(51));
        assert_eq!(log.last_seq(), 150);
        let json = log.to_json();
        assert_eq!(json["events"][99]["message"], "change 149");
        assert_eq!(json["events"][99]["severity"], "info");
        assert_eq!(json["events"][99]["resource"], "Service/web");
        assert!(json["events"][99].get("at").is_none());
    }

    #[test]
    fn a_repeat_is_recorded_once_per_window() {
        let mut log = EventLog::default();
        let now = Instant::now();
        add(&mut log, "held", now);
        add(&mut log, "held", now + Duration::from_secs(60));
        assert_eq!(log.iter().count(), 1);
        add(
            &mut log,
            "held",
            now + REPEAT_WINDOW + Duration::from_secs(1),
        );
        assert_eq!(log.iter().count(), 2);
    }
}
