//! The soak's Markdown table and its figures.

use crate::faults::{Fault, Kind, Outcome, ALL};
use crate::invariants::Violation;
use crate::watch::Sample;
use std::fmt::Write;
use std::time::Duration;

pub struct Summary<'a> {
    pub seed: u64,
    pub title: String,
    pub command: String,
    pub duration: Duration,
    pub faults: &'a [Fault],
    pub violations: &'a [Violation],
    pub samples: &'a [Sample],
    pub leak: String,
    pub notifications: usize,
    /// (event, faults that must cause it, notifications received).
    pub heard: Vec<(String, usize, usize)>,
    pub notes: Vec<String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn markdown(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n## {}\n", s.title);
    let _ = writeln!(out, "`{}`", s.command);
    let _ = writeln!(
        out,
        "\nSeed {} (replay: `LUCID_E2E_SEED={}`), {:.1} min, {} faults, {} notifications received, **{} invariant violations**.\n",
        s.seed,
        s.seed,
        s.duration.as_secs_f64() / 60.0,
        s.faults.len(),
        s.notifications,
        s.violations.len()
    );
    let _ = writeln!(
        out,
        "| fault | injected | repaired | refused by the engine | unrepaired | p50 | p95 | max |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for kind in ALL {
        let of: Vec<&Fault> = s.faults.iter().filter(|f| f.kind == kind).collect();
        if of.is_empty() {
            continue;
        }
        let mut lat: Vec<f64> = of
            .iter()
            .filter_map(|f| match f.outcome {
                Outcome::Repaired(d) => Some(d.as_secs_f64()),
                _ => None,
            })
            .collect();
        lat.sort_by(f64::total_cmp);
        let count = |p: fn(&Outcome) -> bool| of.iter().filter(|f| p(&f.outcome)).count();
        let fmt = |x: f64| {
            if x.is_nan() {
                "-".to_string()
            } else {
                format!("{x:.1} s")
            }
        };
        let _ = writeln!(
            out,
            "| {}{} | {} | {} | {} | {} | {} | {} | {} |",
            kind.label(),
            note(kind),
            of.len(),
            lat.len(),
            count(|o| matches!(o, Outcome::Refused(_))),
            count(|o| matches!(o, Outcome::Unrepaired | Outcome::Pending)),
            fmt(percentile(&lat, 0.5)),
            fmt(percentile(&lat, 0.95)),
            fmt(lat.last().copied().unwrap_or(f64::NAN)),
        );
    }
    let _ = writeln!(out, "\nLatency: from the fault to the service running and healthy again (a new container for `rm -f`, the declared limit back for `update`), the non-member disconnected, the network back with its six members, the volume back; for outages from the moment the daemon, sshd or lucidctl was back to a pass run since and everything ready; for commits from the push to the canary serving the new revision (good) or to the rollout held / the input refused with the last good revision serving (bad).\n");
    if s.violations.is_empty() {
        let _ = writeln!(out, "Violations: none.");
    } else {
        let _ = writeln!(out, "Violations:");
        for v in s.violations {
            let _ = writeln!(out, "- at {:.0} s: {}", v.t, v.what.replace('\n', " "));
        }
    }
    let _ = writeln!(out, "\nNotifications (`run --notify` to the soak's sink; the loop de-duplicates an event per resource for 10 min and sends at most 10 a minute, the rest summed up in one `rate-limited`):\n");
    let _ = writeln!(out, "| event | faults that must cause it | received |");
    let _ = writeln!(out, "|---|---|---|");
    for (event, expected, got) in &s.heard {
        let _ = writeln!(out, "| {event} | {expected} | {got} |");
    }
    let _ = writeln!(out, "\nlucidctl RSS and open fds ({}):\n", s.leak);
    let _ = writeln!(out, "| minute | incarnation | RSS | fds |");
    let _ = writeln!(out, "|---|---|---|---|");
    let mut last_minute = None;
    for sample in s.samples {
        let minute = (sample.t / 60.0).floor() as u64;
        let step = (s.duration.as_secs() / 60 / 12).max(1);
        if !minute.is_multiple_of(step) || last_minute == Some(minute) {
            continue;
        }
        last_minute = Some(minute);
        let _ = writeln!(
            out,
            "| {minute} | {} | {:.1} MB | {} |",
            sample.incarnation,
            sample.rss_kb as f64 / 1024.0,
            sample.fds
        );
    }
    for n in &s.notes {
        let _ = writeln!(out, "\n{n}");
    }
    out
}

fn note(kind: Kind) -> &'static str {
    match kind {
        Kind::LucidctlKilled => " (5 s RestartSec)",
        _ => "",
    }
}
