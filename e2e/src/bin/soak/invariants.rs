//! Invariants checked on every tick and at the end. A violation is recorded
//! with the moment it was seen; the soak fails when there is any.

use crate::watch::{Sample, Snapshot};
use crate::world::{World, SCRATCH_VOLUME};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// A `.prev`/`.next` container, or one lucidctl does not declare, may live this long (a rollout's span).
const ORPHAN_AFTER: Duration = Duration::from_secs(120);
/// Two containers for one resource may coexist this long (a rename in flight).
const DUPLICATE_AFTER: Duration = Duration::from_secs(30);
const CANARY_FILE: &str = ".soak-canary";

#[derive(Debug, Clone)]
pub struct Violation {
    pub t: f64,
    pub what: String,
}

#[derive(Default)]
pub struct Invariants {
    pub violations: Vec<Violation>,
    /// First seen, for containers that must not last.
    suspects: BTreeMap<String, Instant>,
    reported: BTreeSet<String>,
    /// Volume name -> the canary text written at the start.
    canaries: BTreeMap<String, String>,
    /// Unmanaged objects created at the start, and what they looked like.
    unmanaged: Vec<(String, String)>,
}

impl Invariants {
    pub fn violate(&mut self, t: f64, what: String) {
        eprintln!("[{t:7.1}s] VIOLATION: {what}");
        self.violations.push(Violation { t, what });
    }

    /// Once per key: a lasting condition is one violation, not one per tick.
    fn violate_once(&mut self, t: f64, key: String, what: String) {
        if self.reported.insert(key) {
            self.violate(t, what);
        }
    }

    /// Containers named `.prev`/`.next` or not matching a declared resource,
    /// and resources with two containers, beyond their grace.
    pub fn containers(&mut self, t: f64, w: &World, snap: &Snapshot, workloads: &BTreeSet<String>) {
        let now = Instant::now();
        let mut seen = BTreeSet::new();
        let mut by_resource: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for c in snap.values() {
            let base = c.name.strip_prefix(&w.prefix).unwrap_or(&c.name);
            let temporary = base.ends_with(".prev") || base.ends_with(".next");
            if temporary || !workloads.contains(base) {
                let key = format!("orphan {}", c.name);
                let first = *self.suspects.entry(key.clone()).or_insert(now);
                seen.insert(key.clone());
                if now.duration_since(first) > ORPHAN_AFTER {
                    self.violate_once(
                        t,
                        key,
                        format!(
                            "container {} ({} {}) left for over {}s",
                            c.name,
                            c.kind,
                            c.resource,
                            ORPHAN_AFTER.as_secs()
                        ),
                    );
                }
            } else {
                by_resource
                    .entry((c.kind.clone(), c.resource.clone()))
                    .or_default()
                    .push(c.name.clone());
            }
        }
        for ((kind, name), names) in by_resource {
            if names.len() > 1 {
                let key = format!("duplicate {kind}/{name}");
                let first = *self.suspects.entry(key.clone()).or_insert(now);
                seen.insert(key.clone());
                if now.duration_since(first) > DUPLICATE_AFTER {
                    self.violate_once(
                        t,
                        key,
                        format!("{kind}/{name} has several containers: {names:?}"),
                    );
                }
            }
        }
        self.suspects.retain(|k, _| seen.contains(k));
    }

    /// Writes a canary file into every managed volume (but the scratch one, which is removed on purpose).
    pub fn write_canaries(&mut self, w: &World, seed: u64) {
        // Declared Volumes only: the engine lock is a volume too, re-made on every lease.
        let filter = format!("label=io.lucidctl.project={}", w.project);
        let names = w
            .docker(&[
                "volume",
                "ls",
                "-q",
                "--filter",
                &filter,
                "--filter",
                "label=io.lucidctl.kind=Volume",
            ])
            .unwrap_or_default();
        for v in names.lines().filter(|v| *v != w.obj(SCRATCH_VOLUME)) {
            let Ok(mount) = w.docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", v]) else {
                continue;
            };
            let text = format!("soak seed {seed}, volume {v}\n");
            let path = std::path::Path::new(&mount).join(CANARY_FILE);
            std::fs::write(&path, &text)
                .unwrap_or_else(|e| panic!("cannot write the canary {}: {e}", path.display()));
            self.canaries.insert(v.to_string(), text);
        }
    }

    pub fn canary_count(&self) -> usize {
        self.canaries.len()
    }

    /// Every canary is still there, unchanged. Skipped while the daemon does not answer.
    pub fn check_canaries(&mut self, t: f64, w: &World) {
        let canaries = self.canaries.clone();
        for (v, text) in canaries {
            let mount = match w.docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", &v]) {
                Ok(m) => m,
                Err(e) if e.to_lowercase().contains("no such volume") => {
                    self.violate_once(t, format!("volume {v}"), format!("volume {v} is gone"));
                    continue;
                }
                Err(_) => continue,
            };
            let got = std::fs::read_to_string(std::path::Path::new(&mount).join(CANARY_FILE));
            if got.as_deref().ok() != Some(text.as_str()) {
                self.violate_once(
                    t,
                    format!("canary {v}"),
                    format!("the canary file in volume {v} is lost or changed: {got:?}"),
                );
            }
        }
    }

    /// A container, its network and volume that lucidctl must never touch,
    /// named like the project's objects to tempt it.
    pub fn create_unmanaged(&mut self, w: &World) {
        let image = lucid_e2e::STANDIN_IMAGE;
        let net = w.obj("bystander-net");
        let vol = w.obj("bystander-vol");
        let by = w.obj("bystander");
        let steps: [Vec<String>; 3] = [
            vec![
                "network".into(),
                "create".into(),
                "--subnet".into(),
                w.dockerd.subnet(9),
                net.clone(),
            ],
            vec!["volume".into(), "create".into(), vol.clone()],
            vec![
                "run".into(),
                "-d".into(),
                "--name".into(),
                by.clone(),
                "--network".into(),
                net.clone(),
                "--restart".into(),
                "unless-stopped".into(),
                "-v".into(),
                format!("{vol}:/data"),
                "-e".into(),
                "STANDIN_PORTS=8080".into(),
                image.into(),
                "serve".into(),
            ],
        ];
        for s in steps {
            let args: Vec<&str> = s.iter().map(String::as_str).collect();
            w.docker(&args)
                .unwrap_or_else(|e| panic!("creating an unmanaged object ({args:?}) failed: {e}"));
        }
        if let Ok(mount) = w.docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", &vol]) {
            let text = "unmanaged\n".to_string();
            let _ = std::fs::write(std::path::Path::new(&mount).join(CANARY_FILE), &text);
            self.canaries.insert(vol.clone(), text);
        }
        for (kind, name) in [("network", &net), ("volume", &vol), ("container", &by)] {
            let look = unmanaged_look(w, kind, name).unwrap_or_default();
            self.unmanaged.push((format!("{kind} {name}"), look));
        }
    }

    /// The unmanaged objects are as they were.
    pub fn check_unmanaged(&mut self, t: f64, w: &World) {
        for (what, before) in self.unmanaged.clone() {
            let (kind, name) = what.split_once(' ').unwrap_or(("", ""));
            let now = unmanaged_look(w, kind, name);
            if now.as_deref() != Some(before.as_str()) {
                self.violate(
                    t,
                    format!("unmanaged {what} changed: {before:?} -> {now:?}"),
                );
            }
        }
    }

    pub fn json(&self) -> Value {
        json!(self
            .violations
            .iter()
            .map(|v| json!({"t": v.t, "what": v.what}))
            .collect::<Vec<_>>())
    }
}

/// What must not change about an unmanaged object: its ID, labels, and for
/// a container its state and networks (the daemon restarts it after its own restarts).
fn unmanaged_look(w: &World, kind: &str, name: &str) -> Option<String> {
    let format = match kind {
        "container" => "{{.Id}} {{.State.Status}} {{json .Config.Labels}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        "network" => "{{.Id}} {{json .Labels}}",
        _ => "{{.Name}} {{json .Labels}}",
    };
    w.docker(&[kind, "inspect", "-f", format, name]).ok()
}

/// RSS and fds must not grow within a lucidctl process: for each
/// incarnation that lived at least five minutes past a minute of warm-up,
/// the median of its last quarter against the median of its first quarter.
pub fn leak_verdict(samples: &[Sample]) -> (String, Option<String>) {
    let mut by: BTreeMap<u32, Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        by.entry(s.incarnation).or_default().push(s);
    }
    let mut texts = Vec::new();
    let mut leaks = Vec::new();
    for (inc, all) in by {
        let start = all[0].t + 60.0;
        let warm: Vec<&Sample> = all.into_iter().filter(|s| s.t >= start).collect();
        let span = warm.last().map(|l| l.t - warm[0].t).unwrap_or(0.0);
        if span < 300.0 || warm.len() < 8 {
            continue;
        }
        let q = warm.len() / 4;
        let median = |v: &[&Sample], f: fn(&Sample) -> u64| {
            let mut x: Vec<u64> = v.iter().map(|s| f(s)).collect();
            x.sort_unstable();
            x[x.len() / 2]
        };
        let (rss0, rss1) = (
            median(&warm[..q], |s| s.rss_kb),
            median(&warm[warm.len() - q..], |s| s.rss_kb),
        );
        let (fd0, fd1) = (
            median(&warm[..q], |s| s.fds),
            median(&warm[warm.len() - q..], |s| s.fds),
        );
        let text = format!(
            "incarnation {inc} over {:.0} min: RSS {:.1} -> {:.1} MB, fds {fd0} -> {fd1}",
            span / 60.0,
            rss0 as f64 / 1024.0,
            rss1 as f64 / 1024.0
        );
        if fd1 > fd0 + 32 {
            leaks.push(format!("open fds grew: {text}"));
        } else if rss1 > rss0 * 2 + 16 * 1024 {
            leaks.push(format!("RSS grew: {text}"));
        }
        texts.push(text);
    }
    if texts.is_empty() {
        return (
            "no incarnation lived 6 minutes: too short to judge".into(),
            None,
        );
    }
    (
        texts.join("; "),
        (!leaks.is_empty()).then(|| leaks.join("; ")),
    )
}
