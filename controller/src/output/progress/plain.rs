//! Timestamped lines, one per state change; the same on a terminal, in CI
//! and in a journal. Transient details (bytes pulled) are left out.

use desired_state::model::Kind;
use reconcilers::apply::Progress;
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
        controller::eprintln_above!(
            "[{:>6.1}s] {kind}/{name}: {}",
            self.start.elapsed().as_secs_f64(),
            desired_state::diagnostics::escape_controls(status)
        );
    }
}
