//! `lucidctl`: thin commands over the desired-state and reconcilers libraries.

mod commands;

mod output;
mod run;

// The command line lives in the library, where tests and tools reach it;
// `crate::cli` keeps naming it for the modules here.
use controller::cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout, errors to stderr, as clap would print them.
            let _ = e.print();
            return ExitCode::from(controller::usage_exit_code(&e));
        }
    };
    commands::run(cli)
}

/// Rust ignores SIGPIPE, so `lucidctl ... | head` would fail on a closed pipe;
/// the default action ends the process quietly, as every Unix tool does.
fn restore_default_sigpipe() {
    unsafe extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    // SAFETY: installs the default disposition before any other thread exists.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}
