//! Stderr shared with a live display. While `apply` draws its progress lines
//! at the bottom of the terminal, every other line (logs, warnings) must be
//! printed above them, whole, or a redraw would cut it in two.

use indicatif::MultiProgress;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

static LIVE: RwLock<Option<MultiProgress>> = RwLock::new(None);
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// `--verbose`: causes under errors, every build output line.
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// `--verbose` given, or LUCID_VERBOSE set.
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed) || std::env::var_os("LUCID_VERBOSE").is_some()
}

/// From now on, stderr lines go above this display.
pub fn attach(display: &MultiProgress) {
    if let Ok(mut live) = LIVE.write() {
        *live = Some(display.clone());
    }
}

/// The display is gone; stderr is plain again.
pub fn detach() {
    if let Ok(mut live) = LIVE.write() {
        *live = None;
    }
}

/// Writes `bytes` to stderr in one piece, above the live display if one is drawn.
pub fn write_stderr(bytes: &[u8]) {
    let write = || {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(bytes);
        let _ = err.flush();
    };
    match LIVE.read().ok().and_then(|l| l.clone()) {
        Some(display) => display.suspend(write),
        None => write(),
    }
}

/// A `tracing` writer: collects one event and writes it whole when dropped.
#[derive(Default)]
pub struct StderrLine(Vec<u8>);

impl Write for StderrLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for StderrLine {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            write_stderr(&self.0);
        }
    }
}

/// For `tracing_subscriber::fmt().with_writer(...)`.
pub fn stderr_line() -> StderrLine {
    StderrLine::default()
}

/// `eprintln!` that never breaks a live display's lines.
#[macro_export]
macro_rules! eprintln_above {
    ($($arg:tt)*) => {
        $crate::terminal::write_stderr(format!("{}\n", format_args!($($arg)*)).as_bytes())
    };
}
