//! Everything the bench creates on the engine carries the run tag
//! `lbench<pid>` at the start of its name (containers, networks, volumes) or in
//! its image tag, so teardown is a sweep by name that needs no bookkeeping:
//! on drop (normal end and panics), on Ctrl-C / SIGTERM (turned into a panic at
//! the next check, so the drop runs), and at start for runs whose process is
//! gone (a SIGKILLed bench). Nothing without the tag is ever touched.

use lucid_e2e::try_run;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: i32) {
    // Only an atomic store: the one thing that is async-signal-safe here.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Catches SIGINT and SIGTERM. std has no signal API and the bench takes no
/// new crate for it; libc's `signal` is linked into every Rust binary anyway.
pub fn catch_signals() {
    extern "C" {
        fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    }
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;
    // SAFETY: installs a handler that only stores to an atomic.
    unsafe {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
}

/// Panics (so the guards' drops clean up) once a signal has arrived.
pub fn check_interrupt() {
    if INTERRUPTED.load(Ordering::SeqCst) {
        panic!("interrupted: tearing down what the bench created");
    }
}

/// `lbench<pid>`: the prefix of every object of this run.
pub fn run_tag() -> String {
    format!("lbench{}", std::process::id())
}

/// Removes this run's objects when dropped.
pub struct Sweeper {
    pub tag: String,
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        eprintln!("bench: removing everything named {}*", self.tag);
        let leaks = sweep(|name| name.starts_with(&self.tag));
        for leak in leaks {
            eprintln!("bench: could not remove {leak}");
        }
    }
}

/// Removes what earlier bench runs left when their process no longer exists.
pub fn sweep_stale() {
    let stale = |name: &str| {
        let Some(rest) = name.strip_prefix("lbench") else {
            return false;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        !pid.is_empty()
            && pid != std::process::id().to_string()
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
    };
    for leak in sweep(stale) {
        eprintln!("bench: could not remove {leak} left by an earlier run");
    }
}

fn docker_lines(args: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    match try_run(cmd, Duration::from_secs(120)) {
        Ok(out) if out.success() => out
            .stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn docker_quiet(args: &[String]) -> bool {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    try_run(cmd, Duration::from_secs(300)).is_ok_and(|o| o.success())
}

/// Removes the containers, networks, volumes and image tags whose name
/// matches; returns what could not be removed. Engine 20.10 sometimes leaks a
/// network ("active endpoints" with none attached, moby#43286): retried, then
/// reported, never fatal.
pub fn sweep(matches: impl Fn(&str) -> bool) -> Vec<String> {
    let mut leaks = Vec::new();
    let containers: Vec<String> = docker_lines(&["ps", "-a", "--format", "{{.Names}}"])
        .into_iter()
        .filter(|n| matches(n))
        .collect();
    if !containers.is_empty() {
        let mut args = vec!["rm".to_string(), "-f".into(), "-v".into()];
        args.extend(containers.iter().cloned());
        if !docker_quiet(&args) {
            leaks.extend(containers.into_iter().map(|c| format!("container {c}")));
        }
    }
    for net in docker_lines(&["network", "ls", "--format", "{{.Name}}"]) {
        if !matches(&net) {
            continue;
        }
        let removed = (0..3).any(|attempt| {
            if attempt > 0 {
                std::thread::sleep(Duration::from_secs(1));
            }
            docker_quiet(&["network".into(), "rm".into(), net.clone()])
        });
        if !removed {
            leaks.push(format!(
                "network {net} (engine leak? only a daemon restart clears it)"
            ));
        }
    }
    for vol in docker_lines(&["volume", "ls", "--format", "{{.Name}}"]) {
        if matches(&vol) && !docker_quiet(&["volume".into(), "rm".into(), "-f".into(), vol.clone()])
        {
            leaks.push(format!("volume {vol}"));
        }
    }
    // Images are untagged by reference, never removed by ID, so other tags survive.
    for image in docker_lines(&[
        "image",
        "ls",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        "lucid-bench/*",
    ]) {
        let tag = image.rsplit(':').next().unwrap_or("");
        if matches(tag) && !docker_quiet(&["image".into(), "rm".into(), image.clone()]) {
            leaks.push(format!("image {image}"));
        }
    }
    leaks
}
