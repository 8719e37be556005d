//! Progress lines while applying: `[  1.2s] Service/lucid-redis: healthy`.
//! Plain, timestamped lines work the same on a terminal, in CI and in a journal.

use desired_state::model::Kind;
use reconcilers::apply::{describe, Progress, Report};
use reconcilers::engine::BuildEvent;
use std::time::Instant;

pub struct Lines {
    start: Instant,
}

impl Lines {
    pub fn new() -> Self {
        Lines {
            start: Instant::now(),
        }
    }
}

impl Progress for Lines {
    fn step(&self, kind: Kind, name: &str, status: &str) {
        eprintln!(
            "[{:>6.1}s] {kind}/{name}: {}",
            self.start.elapsed().as_secs_f64(),
            desired_state::diagnostics::escape_controls(status)
        );
    }
}

pub fn print_report(r: &Report) {
    let mut counts = std::collections::BTreeMap::new();
    for (_, _, o) in &r.outcomes {
        let word = describe(o);
        let key = word
            .split(':')
            .next()
            .unwrap_or("")
            .split(' ')
            .next()
            .unwrap_or("")
            .to_string();
        *counts.entry(key).or_insert(0usize) += 1;
    }
    eprintln!("\nApply report ({} pass(es)):", r.passes);
    if !r.config_files_written.is_empty() {
        eprintln!(
            "  host files written: {}",
            r.config_files_written.join(", ")
        );
    }
    for (phase, took) in &r.phases {
        eprintln!("  {phase}: {:.2}s", took.as_secs_f64());
    }
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    eprintln!(
        "  changes: {}",
        if summary.is_empty() {
            "none".to_string()
        } else {
            summary.join(", ")
        }
    );
    for (kind, name, o) in r.failures() {
        eprintln!("  FAILED {kind}/{name}: {}", describe(o));
    }
    for h in &r.held {
        eprintln!("  HELD {}", crate::output::plan::held_text(h));
    }
}

/// One line per build step; step output only in verbose mode, since a failed
/// build repeats its last lines in the error.
pub fn build_event(image: &str, event: BuildEvent) {
    match event {
        BuildEvent::Step { name, cached } => eprintln!(
            "  Image/{image}: {}{name}",
            if cached { "CACHED " } else { "" }
        ),
        BuildEvent::Log(line) if std::env::var_os("LUCID_VERBOSE").is_some() => {
            eprintln!("  Image/{image}:   {line}")
        }
        BuildEvent::Log(_) => {}
        BuildEvent::FellBack(why) => {
            eprintln!("  Image/{image}: BuildKit unavailable ({why}); using the classic builder")
        }
    }
}
