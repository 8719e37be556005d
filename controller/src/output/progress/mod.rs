//! Progress while applying. On a terminal, a live display: one line per
//! resource with its state and elapsed time, finished ones collapsed into a
//! single line above. Elsewhere (CI, a journal, a pipe), plain timestamped
//! lines: `[  1.2s] Service/lucid-redis: healthy`. `--progress` chooses, as
//! compose's flag of the same name does.

mod live;
mod plain;

pub use live::Live;
pub use plain::Lines;

use controller::cli::ProgressMode;
use reconcilers::apply::{describe, Progress, Report};
use reconcilers::engine::BuildEvent;
use std::io::IsTerminal;

/// The display an apply draws on.
pub enum Display {
    Plain(Lines),
    Live(Live),
}

impl Display {
    pub fn new(mode: ProgressMode) -> Self {
        let terminal =
            std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb");
        match mode {
            ProgressMode::Plain => Display::Plain(Lines::new()),
            ProgressMode::Tty => Display::Live(Live::new(true)),
            ProgressMode::Auto if terminal => Display::Live(Live::new(false)),
            ProgressMode::Auto => Display::Plain(Lines::new()),
        }
    }

    pub fn progress(&self) -> &dyn Progress {
        match self {
            Display::Plain(p) => p,
            Display::Live(l) => l,
        }
    }

    pub fn build_event(&self, image: &str, event: BuildEvent) {
        match self {
            Display::Plain(_) => build_event(image, event),
            Display::Live(l) => l.build_event(image, event),
        }
    }

    /// Takes the live lines down, so that what follows prints normally.
    pub fn finish(&self) {
        if let Display::Live(l) = self {
            l.finish();
        }
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
    for i in &r.intruders {
        eprintln!("  POLICY VIOLATION {}", i.summary());
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
        BuildEvent::Log(line) if controller::terminal::verbose() => {
            eprintln!("  Image/{image}:   {line}")
        }
        BuildEvent::Log(_) => {}
        BuildEvent::FellBack(why) => {
            eprintln!("  Image/{image}: BuildKit unavailable ({why}); using the classic builder")
        }
    }
}
