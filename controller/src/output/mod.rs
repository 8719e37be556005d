//! How diagnostics and plans look on a terminal and in JSON.

pub mod plan;
pub mod progress;

use desired_state::Diagnostic;

pub fn print_diagnostics(diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        eprintln!("{d}");
    }
}
