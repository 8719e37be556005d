//! Verdicts the driver reaches at moments of its own: when a bad commit is
//! replaced, and on the notifications at the end.

use crate::faults::{self, Fault, Kind};
use crate::invariants::Invariants;
use crate::sink;
use crate::watch::{self, Creations};
use crate::world::{World, CANARY};
use std::time::Instant;

/// Before a good commit replaces a bad one: the bad rollout was not retried
/// after it was held (no new canary container), and the last good revision still serves.
pub fn end_bad_period(
    w: &mut World,
    inv: &mut Invariants,
    faults: &[Fault],
    creations: &Creations,
    t: f64,
) {
    let Some(bad) = faults
        .iter()
        .rev()
        .find(|f| matches!(f.kind, Kind::NeverHealthyCommit | Kind::InvalidCommit))
    else {
        return;
    };
    let Some(contained) = bad.contained_at else {
        return;
    };
    let canary = w.obj(CANARY);
    let retried: Vec<String> = creations
        .since(contained)
        .into_iter()
        .filter(|n| n.starts_with(&canary))
        .collect();
    if !retried.is_empty() {
        inv.violate(
            t,
            format!(
                "{} #{} was applied again after it was held/refused: created {retried:?}",
                bad.kind.label(),
                bad.id
            ),
        );
    }
    let serving = watch::snapshot(w).and_then(|s| s.get(&canary).map(|c| c.revision.clone()));
    if serving.is_some() && serving.as_deref() != Some(w.good_revision.as_str()) {
        inv.violate(
            t,
            format!(
                "during {} #{} the canary left the last good revision: {serving:?}",
                bad.kind.label(),
                bad.id
            ),
        );
    }
}

/// Each fault that must be heard about was (or was within the ten-minute
/// de-duplication window), and every notification has a fault behind it.
pub fn check_notifications(
    inv: &mut Invariants,
    faults: &[Fault],
    got: &[sink::Received],
    start: Instant,
    tend: f64,
) {
    let at = |r: &sink::Received| r.at.saturating_duration_since(start).as_secs_f64();
    let event = |r: &sink::Received| r.body["event"].as_str().unwrap_or("").to_string();
    let kills: Vec<f64> = faults
        .iter()
        .filter(|f| f.kind == Kind::LucidctlKilled)
        .map(|f| f.t)
        .collect();
    for f in faults {
        let (Some(expected), Some(done)) = (faults::expected_notification(f.kind), f.repaired_at)
        else {
            continue;
        };
        let from = f.t;
        let to = done.saturating_duration_since(start).as_secs_f64() + 20.0;
        // A notification queued when lucidctl was SIGKILLed is lost with it: not a fault of the loop.
        if kills.iter().any(|k| *k >= from - 1.0 && *k <= to) {
            continue;
        }
        let heard = got.iter().any(|r| {
            let (a, e) = (at(r), event(r));
            (expected.contains(&e.as_str()) && a >= from - 600.0 && a <= to)
                // The loop counts an event held back by the rate limit as sent
                // for its ten-minute de-duplication; the summary is what arrives.
                || (e == "rate-limited" && a >= from - 600.0 && a <= to + 60.0)
        });
        if !heard {
            inv.violate(
                tend,
                format!(
                    "no {expected:?} notification for {} #{} at {:.0} s",
                    f.kind.label(),
                    f.id,
                    f.t
                ),
            );
        }
    }
    for r in got {
        let (a, e) = (at(r), event(r));
        let explained = faults
            .iter()
            .any(|f| f.t <= a + 1.0 && faults::explains(f.kind, &e));
        if !explained {
            inv.violate(
                tend,
                format!(
                    "notification {e:?} at {a:.0} s has no fault behind it: {}",
                    r.body
                ),
            );
        }
    }
}
