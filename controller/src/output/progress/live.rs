//! The live display: a spinner line per resource in progress, showing its
//! state ("waiting for lucid-mongodb (healthy)", "pulling 12.3 MB of 45.6 MB",
//! "building: [2/5] RUN ...") and how long it has taken. A finished resource
//! leaves one line above the display: a mark, its outcome and its time.
//! Every other stderr line goes through `controller::terminal`, so nothing is
//! drawn into the middle of a line.

use desired_state::diagnostics::escape_controls;
use desired_state::model::Kind;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use reconcilers::apply::Progress;
use reconcilers::engine::BuildEvent;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Wide enough for the Lucid system's longest `Kind/name`.
const NAME_WIDTH: usize = 38;

pub struct Live {
    multi: MultiProgress,
    rows: Mutex<BTreeMap<String, ProgressBar>>,
    style: ProgressStyle,
}

impl Live {
    /// `forced`: draw even when stderr is not a terminal (`--progress=tty`).
    pub fn new(forced: bool) -> Self {
        let target = if forced {
            ProgressDrawTarget::term_like_with_hz(Box::new(console::Term::buffered_stderr()), 10)
        } else {
            ProgressDrawTarget::stderr_with_hz(10)
        };
        let multi = MultiProgress::with_draw_target(target);
        controller::terminal::attach(&multi);
        let template = format!("{{spinner}} {{prefix:{NAME_WIDTH}!}} {{wide_msg}} {{secs:>6}}");
        let style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key("secs", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1}s", s.elapsed().as_secs_f64());
            });
        Live {
            multi,
            rows: Mutex::new(BTreeMap::new()),
            style,
        }
    }

    /// The line of `key`, added at the bottom the first time it is named.
    fn row(&self, key: &str) -> Option<ProgressBar> {
        let mut rows = self.rows.lock().ok()?;
        let bar = rows.entry(key.to_string()).or_insert_with(|| {
            let bar = self.multi.add(
                ProgressBar::new_spinner()
                    .with_style(self.style.clone())
                    .with_prefix(key.to_string()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Some(bar.clone())
    }

    fn set(&self, key: &str, text: &str) {
        if let Some(bar) = self.row(key) {
            bar.set_message(one_line(text));
        }
    }

    pub fn build_event(&self, image: &str, event: BuildEvent) {
        let key = format!("Image/{image}");
        match event {
            BuildEvent::Step { name, cached } => self.set(
                &key,
                &format!("building: {}{name}", if cached { "CACHED " } else { "" }),
            ),
            BuildEvent::Log(line) if controller::terminal::verbose() => {
                self.multi
                    .suspend(|| eprintln!("  {key}:   {}", one_line(&line)));
            }
            BuildEvent::Log(_) => {}
            BuildEvent::FellBack(why) => self.multi.suspend(|| {
                eprintln!(
                    "  {key}: BuildKit unavailable ({}); using the classic builder",
                    one_line(&why)
                )
            }),
        }
    }

    /// Clears what is still drawn and gives stderr back.
    pub fn finish(&self) {
        if let Ok(mut rows) = self.rows.lock() {
            for (_, bar) in std::mem::take(&mut *rows) {
                bar.finish_and_clear();
            }
        }
        let _ = self.multi.clear();
        controller::terminal::detach();
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Progress for Live {
    fn step(&self, kind: Kind, name: &str, status: &str) {
        self.set(&format!("{kind}/{name}"), status);
    }

    fn detail(&self, kind: Kind, name: &str, detail: &str) {
        self.set(&format!("{kind}/{name}"), detail);
    }

    fn done(&self, kind: Kind, name: &str, outcome: &str) {
        let key = format!("{kind}/{name}");
        let bar = self.rows.lock().ok().and_then(|mut r| r.remove(&key));
        let took = bar.as_ref().map(|b| b.elapsed()).unwrap_or_default();
        if let Some(bar) = bar {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        let line = format!(
            "{} {key:<NAME_WIDTH$} {} {:>6.1}s",
            mark(outcome),
            one_line(outcome),
            took.as_secs_f64()
        );
        let _ = self.multi.println(line);
    }
}

/// ✔ done, ✘ failed or rolled back, - interrupted.
fn mark(outcome: &str) -> char {
    if outcome.starts_with("failed") || outcome.starts_with("rolled back") {
        '✘'
    } else if outcome.starts_with("interrupted") {
        '-'
    } else {
        '✔'
    }
}

/// A display line holds one line: newlines become spaces, controls escaped.
fn one_line(text: &str) -> String {
    escape_controls(&text.replace(['\n', '\t'], " "))
}

#[cfg(test)]
mod tests {
    use super::{mark, one_line};

    #[test]
    fn failures_and_rollbacks_are_marked_apart_from_successes() {
        assert_eq!(mark("created"), '✔');
        assert_eq!(mark("failed: boom"), '✘');
        assert_eq!(mark("rolled back: unhealthy"), '✘');
        assert_eq!(mark("interrupted"), '-');
    }

    #[test]
    fn a_display_line_never_spans_lines_or_carries_escapes() {
        assert_eq!(one_line("a\nb\tc"), "a b c");
        assert_eq!(one_line("x\u{1b}[2J"), "x\\u{1b}[2J");
    }
}
