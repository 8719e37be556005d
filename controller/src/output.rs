//! How diagnostics and plans look on a terminal.

use desired_state::Diagnostic;

pub fn print_diagnostics(diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        eprintln!("{d}");
    }
}
