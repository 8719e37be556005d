//! `lucidctl`: thin commands over the desired-state and reconcilers libraries.

mod cli;
mod commands;
mod logging;
mod output;
mod run;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = cli::Cli::parse();
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
