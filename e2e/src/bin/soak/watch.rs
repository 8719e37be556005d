//! What the driver sees: one `docker ps` per tick, a stream of container
//! creations (a retried rollout shows there), and lucidctl's RSS and fds.

use crate::world::World;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub running: bool,
    pub healthy: bool,
    /// `io.lucidctl.kind` and `io.lucidctl.name`.
    pub kind: String,
    pub resource: String,
    pub revision: String,
}

/// Every container of the project, by Docker name.
pub type Snapshot = BTreeMap<String, Container>;

/// None while the daemon does not answer.
pub fn snapshot(w: &World) -> Option<Snapshot> {
    let filter = format!("label=io.lucidctl.project={}", w.project);
    let format = "{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Status}}\t{{.Label \"io.lucidctl.kind\"}}\t{{.Label \"io.lucidctl.name\"}}\t{{.Label \"io.lucidctl.revision\"}}";
    let out = w
        .docker(&[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &filter,
            "--format",
            format,
        ])
        .ok()?;
    let mut snap = Snapshot::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 7 {
            continue;
        }
        snap.insert(
            f[1].to_string(),
            Container {
                id: f[0].to_string(),
                name: f[1].to_string(),
                running: f[2] == "running",
                healthy: f[3].contains("(healthy)"),
                kind: f[4].to_string(),
                resource: f[5].to_string(),
                revision: f[6].to_string(),
            },
        );
    }
    Some(snap)
}

/// Container creations seen on the soak daemon: (when, name).
#[derive(Clone, Default)]
pub struct Creations(Arc<Mutex<Vec<(Instant, String)>>>);

impl Creations {
    pub fn since(&self, t: Instant) -> Vec<String> {
        self.0
            .lock()
            .map(|v| {
                v.iter()
                    .filter(|(at, _)| *at >= t)
                    .map(|(_, n)| n.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Follows `docker events` (create) on the soak daemon, reopening it after
/// every daemon restart, until `stop` is set.
pub struct EventsFollower {
    stop: Arc<Mutex<bool>>,
    child: Arc<Mutex<Option<Child>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EventsFollower {
    pub fn start(host: String, creations: Creations) -> EventsFollower {
        let stop = Arc::new(Mutex::new(false));
        let child: Arc<Mutex<Option<Child>>> = Arc::new(Mutex::new(None));
        let (s, c) = (stop.clone(), child.clone());
        let thread = std::thread::spawn(move || {
            while !*s.lock().unwrap() {
                let spawned = Command::new("docker")
                    .args([
                        "-H",
                        &host,
                        "events",
                        "--filter",
                        "type=container",
                        "--filter",
                    ])
                    .args(["event=create", "--format", "{{.Actor.Attributes.name}}"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn();
                let Ok(mut proc) = spawned else {
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                };
                let stdout = proc.stdout.take();
                *c.lock().unwrap() = Some(proc);
                if let Some(out) = stdout {
                    for line in BufReader::new(out).lines().map_while(Result::ok) {
                        if let Ok(mut v) = creations.0.lock() {
                            v.push((Instant::now(), line.trim().to_string()));
                        }
                    }
                }
                if let Some(mut p) = c.lock().unwrap().take() {
                    let _ = p.kill();
                    let _ = p.wait();
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        EventsFollower {
            stop,
            child,
            thread: Some(thread),
        }
    }
}

impl Drop for EventsFollower {
    fn drop(&mut self) {
        *self.stop.lock().unwrap() = true;
        if let Some(mut p) = self.child.lock().unwrap().take() {
            let _ = p.kill();
            let _ = p.wait();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One reading of lucidctl's resident memory and open descriptors.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Seconds since the soak started.
    pub t: f64,
    pub incarnation: u32,
    pub rss_kb: u64,
    pub fds: u64,
}

pub fn sample(pid: u32, t: f64, incarnation: u32) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some(Sample {
        t,
        incarnation,
        rss_kb,
        fds,
    })
}

/// ssh processes whose command line contains `needle` (masters left behind).
pub fn processes_with(needle: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let program = cmd.split(' ').next().unwrap_or("");
        if cmd.contains(needle) && (program == "ssh" || program.ends_with("/ssh")) {
            out.push((pid, cmd.trim().to_string()));
        }
    }
    out
}
