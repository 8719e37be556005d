//! The faults the soak injects, and for each the condition that says it was repaired.

use crate::watch::Snapshot;
use crate::world::{
    RepoState, World, CANARY, ISOLATED, ISOLATED_MEMBERS, RESTART_SEC, SCRATCH_VOLUME,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    RmForce,
    Stop,
    Kill,
    UpdateLimit,
    IsolationBreach,
    NetworkRemoved,
    VolumeRemoved,
    VolumeInUse,
    DaemonRestart,
    SshdRestart,
    LucidctlKilled,
    GoodCommit,
    NeverHealthyCommit,
    InvalidCommit,
}

pub const ALL: [Kind; 14] = [
    Kind::RmForce,
    Kind::Stop,
    Kind::Kill,
    Kind::UpdateLimit,
    Kind::IsolationBreach,
    Kind::NetworkRemoved,
    Kind::VolumeRemoved,
    Kind::VolumeInUse,
    Kind::DaemonRestart,
    Kind::SshdRestart,
    Kind::LucidctlKilled,
    Kind::GoodCommit,
    Kind::NeverHealthyCommit,
    Kind::InvalidCommit,
];

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::RmForce => "docker rm -f",
            Kind::Stop => "docker stop",
            Kind::Kill => "docker kill -s KILL",
            Kind::UpdateLimit => "docker update --memory",
            Kind::IsolationBreach => "non-member connected to the isolated network",
            Kind::NetworkRemoved => "isolated network removed",
            Kind::VolumeRemoved => "unused volume removed",
            Kind::VolumeInUse => "volume in use removed (refused)",
            Kind::DaemonRestart => "Docker daemon restarted",
            Kind::SshdRestart => "sshd killed and restarted",
            Kind::LucidctlKilled => "lucidctl SIGKILLed, restarted",
            Kind::GoodCommit => "good commit",
            Kind::NeverHealthyCommit => "bad commit: never healthy",
            Kind::InvalidCommit => "bad commit: invalid YAML",
        }
    }

    /// How often it is picked, relative to the others.
    fn weight(self) -> u64 {
        match self {
            Kind::RmForce => 4,
            Kind::Stop | Kind::Kill => 3,
            Kind::UpdateLimit | Kind::IsolationBreach | Kind::GoodCommit => 2,
            _ => 1,
        }
    }

    fn disruptive(self) -> bool {
        matches!(
            self,
            Kind::DaemonRestart | Kind::SshdRestart | Kind::LucidctlKilled
        )
    }

    fn git(self) -> bool {
        matches!(
            self,
            Kind::GoodCommit | Kind::NeverHealthyCommit | Kind::InvalidCommit
        )
    }

    fn on_container(self) -> bool {
        matches!(
            self,
            Kind::RmForce | Kind::Stop | Kind::Kill | Kind::UpdateLimit
        )
    }

    /// Longest a repair may take before it counts as a violation.
    pub fn deadline(self) -> Duration {
        match self {
            Kind::DaemonRestart => Duration::from_secs(240),
            _ => Duration::from_secs(150),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Pending,
    Repaired(Duration),
    /// The engine refused the fault (nothing to repair), with its message.
    Refused(String),
    Unrepaired,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub id: usize,
    pub kind: Kind,
    pub target: String,
    /// When the latency clock started: the fault, or for an outage, when the peer was back.
    pub clock: Instant,
    /// Seconds since the soak started, at injection.
    pub t: f64,
    pub detail: String,
    pub outcome: Outcome,
    pub old_id: Option<String>,
    pub want_memory: Option<String>,
    /// Passes run when the clock started.
    pub baseline: Option<u64>,
    pub revision: Option<String>,
    /// When a bad commit was seen contained (held, or input refused).
    pub contained_at: Option<Instant>,
    pub repaired_at: Option<Instant>,
}

impl Fault {
    pub fn json(&self, start: Instant) -> Value {
        let (outcome, latency) = match &self.outcome {
            Outcome::Pending => ("pending".to_string(), None),
            Outcome::Repaired(d) => ("repaired".to_string(), Some(d.as_secs_f64())),
            Outcome::Refused(why) => (format!("refused: {why}"), None),
            Outcome::Unrepaired => ("unrepaired".to_string(), None),
        };
        json!({
            "id": self.id,
            "t": self.t,
            "kind": self.kind.label(),
            "target": self.target,
            "detail": self.detail,
            "outcome": outcome,
            "latency_s": latency,
            "clock_t": self.clock.saturating_duration_since(start).as_secs_f64(),
        })
    }
}

/// SplitMix64, seeded; LUCID_E2E_SEED replays a run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.below(high.saturating_sub(low)))
    }
}

/// What the picker must know about the run so far.
pub struct Picking<'a> {
    pub services: &'a [String],
    pub pending: Vec<&'a Fault>,
    /// Stops and kills per service in the last ten minutes (five crash restarts hold a service).
    pub recent_stops: &'a dyn Fn(&str) -> usize,
    /// Whether lucidctl may be killed now: kills are spaced so that some
    /// incarnations live long enough to show a leak.
    pub may_kill_lucidctl: bool,
}

/// Picks a fault kind and target the current state allows.
pub fn pick(rng: &mut Rng, repo: RepoState, p: &Picking) -> (Kind, String) {
    let total: u64 = ALL.iter().map(|k| k.weight()).sum();
    for _ in 0..100 {
        let mut roll = rng.below(total);
        let kind = *ALL
            .iter()
            .find(|k| {
                if roll < k.weight() {
                    true
                } else {
                    roll -= k.weight();
                    false
                }
            })
            .unwrap_or(&Kind::RmForce);
        let pending = |f: &dyn Fn(&Fault) -> bool| p.pending.iter().any(|x| f(x));
        let network_busy =
            pending(&|f| matches!(f.kind, Kind::IsolationBreach | Kind::NetworkRemoved));
        if kind.on_container() {
            let candidates: Vec<&String> = p
                .services
                .iter()
                .filter(|s| s.as_str() != CANARY)
                .filter(|s| {
                    !pending(&|f| {
                        (f.kind.on_container() || f.kind == Kind::IsolationBreach)
                            && &f.target == *s
                    })
                })
                .filter(|s| !(network_busy && ISOLATED_MEMBERS.contains(&s.as_str())))
                .filter(|s| !matches!(kind, Kind::Stop | Kind::Kill) || (p.recent_stops)(s) < 4)
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let target = candidates[rng.below(candidates.len() as u64) as usize].clone();
            return (kind, target);
        }
        if kind == Kind::IsolationBreach {
            // A managed service the policy does not allow on the isolated network.
            let candidates: Vec<&String> = p
                .services
                .iter()
                .filter(|s| s.as_str() != CANARY && !ISOLATED_MEMBERS.contains(&s.as_str()))
                .filter(|s| !pending(&|f| f.kind.on_container() && &f.target == *s))
                .collect();
            if network_busy || candidates.is_empty() {
                continue;
            }
            let target = candidates[rng.below(candidates.len() as u64) as usize].clone();
            return (kind, target);
        }
        let ok = match kind {
            Kind::NetworkRemoved => {
                !network_busy
                    && !pending(&|f| {
                        f.kind.on_container() && ISOLATED_MEMBERS.contains(&f.target.as_str())
                    })
            }
            Kind::VolumeRemoved => !pending(&|f| f.kind == Kind::VolumeRemoved),
            Kind::LucidctlKilled => p.may_kill_lucidctl && !pending(&|f| f.kind.disruptive()),
            k if k.disruptive() => !pending(&|f| f.kind.disruptive()),
            k if k.git() => {
                !pending(&|f| f.kind.git()) && (repo == RepoState::Good || k == Kind::GoodCommit)
            }
            _ => true,
        };
        if ok {
            let target = match kind {
                Kind::NetworkRemoved => ISOLATED,
                Kind::VolumeRemoved => SCRATCH_VOLUME,
                Kind::VolumeInUse => "lucid-mongodb-data",
                k if k.git() => CANARY,
                _ => "-",
            };
            return (kind, target.to_string());
        }
    }
    (Kind::GoodCommit, CANARY.to_string())
}

fn new_fault(id: usize, kind: Kind, target: &str, t: f64) -> Fault {
    Fault {
        id,
        kind,
        target: target.to_string(),
        clock: Instant::now(),
        t,
        detail: String::new(),
        outcome: Outcome::Pending,
        old_id: None,
        want_memory: None,
        baseline: None,
        revision: None,
        contained_at: None,
        repaired_at: None,
    }
}

/// Passes run so far, or 0 while lucidctl does not answer. Failed passes
/// count: while the input is broken every pass "fails", yet still heals
/// against the last good state.
fn passes(w: &World) -> u64 {
    w.good_passes().unwrap_or(0)
}

/// Makes the fault happen. Blocking for outages (daemon, sshd, lucidctl).
pub fn inject(w: &mut World, rng: &mut Rng, id: usize, kind: Kind, target: &str, t: f64) -> Fault {
    let mut f = new_fault(id, kind, target, t);
    let name = w.obj(target);
    let refused = |f: &mut Fault, r: Result<String, String>| {
        if let Err(why) = r {
            f.outcome = Outcome::Refused(why.lines().next().unwrap_or("").to_string());
        }
    };
    match kind {
        Kind::RmForce => {
            f.old_id = w.docker(&["inspect", "-f", "{{.Id}}", &name]).ok();
            let r = w.docker(&["rm", "-f", &name]);
            refused(&mut f, r);
        }
        Kind::Stop => {
            let r = w.docker(&["stop", "-t", "2", &name]);
            refused(&mut f, r);
        }
        Kind::Kill => {
            let r = w.docker(&["kill", "-s", "KILL", &name]);
            refused(&mut f, r);
        }
        Kind::UpdateLimit => {
            f.want_memory = w
                .docker(&["inspect", "-f", "{{.HostConfig.Memory}}", &name])
                .ok();
            let r = w.docker(&["update", "--memory", "96m", "--memory-swap", "192m", &name]);
            f.detail = format!("memory {:?} -> 96m", f.want_memory);
            refused(&mut f, r);
        }
        Kind::IsolationBreach => {
            f.baseline = Some(passes(w));
            let r = w.docker(&["network", "connect", &w.obj(ISOLATED), &name]);
            refused(&mut f, r);
        }
        Kind::NetworkRemoved => {
            // The engine refuses to remove a network with endpoints: take them off first.
            let net = w.obj(ISOLATED);
            let members = w
                .docker(&[
                    "network",
                    "inspect",
                    "-f",
                    "{{range .Containers}}{{.Name}} {{end}}",
                    &net,
                ])
                .unwrap_or_default();
            for m in members.split_whitespace() {
                let _ = w.docker(&["network", "disconnect", "-f", &net, m]);
            }
            f.detail = format!("disconnected {}", members.trim());
            let r = w.docker(&["network", "rm", &net]);
            refused(&mut f, r);
        }
        Kind::VolumeRemoved | Kind::VolumeInUse => {
            let r = w.docker(&["volume", "rm", &name]);
            refused(&mut f, r);
            if kind == Kind::VolumeInUse && f.outcome == Outcome::Pending {
                f.detail = "the engine removed a volume in use".into();
            }
        }
        Kind::DaemonRestart => {
            let down = Instant::now();
            w.dockerd.stop();
            std::thread::sleep(rng.millis(500, 5000));
            w.dockerd.start_again();
            f.detail = format!("daemon down {:.1}s", down.elapsed().as_secs_f64());
            f.clock = Instant::now();
            f.baseline = Some(passes(w));
        }
        Kind::SshdRestart => {
            let down = Instant::now();
            w.sshd.stop();
            std::thread::sleep(rng.millis(500, 8000));
            w.sshd.resume();
            f.detail = format!("sshd down {:.1}s", down.elapsed().as_secs_f64());
            f.clock = Instant::now();
            f.baseline = Some(passes(w));
        }
        Kind::LucidctlKilled => {
            w.kill_lucidctl();
            std::thread::sleep(RESTART_SEC);
            w.start_lucidctl();
            f.detail = format!(
                "restarted after {}s as systemd would",
                RESTART_SEC.as_secs()
            );
            f.clock = Instant::now();
            f.baseline = Some(0);
        }
        Kind::GoodCommit => {
            f.revision = Some(w.commit(RepoState::Good));
        }
        Kind::NeverHealthyCommit => {
            f.revision = Some(w.commit(RepoState::NeverHealthy));
        }
        Kind::InvalidCommit => {
            f.revision = Some(w.commit(RepoState::InvalidYaml));
        }
    }
    if let Some(r) = &f.revision {
        f.detail = format!("{} ({})", &r[..12.min(r.len())], f.detail);
    }
    f
}

/// The state a repair predicate reads.
pub struct View<'a> {
    pub snap: Option<&'a Snapshot>,
    pub status: Option<&'a Value>,
    pub passes: Option<u64>,
    pub services: &'a [String],
    pub good_revision: &'a str,
}

impl View<'_> {
    pub fn service_ok(&self, w: &World, name: &str) -> bool {
        self.snap
            .and_then(|s| s.get(&w.obj(name)))
            .is_some_and(|c| c.running && c.healthy)
    }

    pub fn all_ok(&self, w: &World) -> bool {
        self.services.iter().all(|s| self.service_ok(w, s))
    }

    /// Connected, and every resource ready, or held with its previous
    /// container serving: a held rollout shows `degraded` for as long as
    /// the bad spec is declared, which is right for the operator, and is no
    /// failure to repair an outage (the soak's smoke, seed
    /// 1796121150301557468: a daemon restart while a bad commit was held).
    pub fn loop_ready(&self, w: &World) -> bool {
        self.status.is_some_and(|s| {
            let held = |name: &Value| {
                s["held"]
                    .as_array()
                    .is_some_and(|h| h.iter().any(|x| &x["name"] == name))
            };
            s["disconnected_since"].is_null()
                && s["resources"].as_array().is_some_and(|r| {
                    !r.is_empty()
                        && r.iter().all(|x| {
                            x["state"] == "ready"
                                || (held(&x["name"])
                                    && x["name"].as_str().is_some_and(|n| self.service_ok(w, n)))
                        })
                })
        })
    }

    fn canary_serves(&self, w: &World, revision: &str) -> bool {
        self.service_ok(w, CANARY)
            && self
                .snap
                .and_then(|s| s.get(&w.obj(CANARY)))
                .is_some_and(|c| c.revision == revision)
    }
}

/// Networks a container is attached to, by name.
pub fn networks_of(w: &World, container: &str) -> Option<Vec<String>> {
    let out = w
        .docker(&[
            "inspect",
            "-f",
            "{{json .NetworkSettings.Networks}}",
            container,
        ])
        .ok()?;
    let v: Value = serde_json::from_str(&out).ok()?;
    Some(v.as_object()?.keys().cloned().collect())
}

/// Whether the fault is repaired (for bad commits: contained, the last good revision serving).
pub fn repaired(w: &World, f: &Fault, v: &View) -> bool {
    let name = w.obj(&f.target);
    match f.kind {
        Kind::RmForce => {
            v.service_ok(w, &f.target)
                && v.snap
                    .and_then(|s| s.get(&w.obj(&f.target)))
                    .is_some_and(|c| Some(&c.id) != f.old_id.as_ref())
        }
        Kind::Stop | Kind::Kill => v.service_ok(w, &f.target),
        Kind::UpdateLimit => {
            v.service_ok(w, &f.target)
                && w.docker(&["inspect", "-f", "{{.HostConfig.Memory}}", &w.obj(&f.target)])
                    .ok()
                    == f.want_memory
        }
        Kind::IsolationBreach => {
            networks_of(w, &name).is_some_and(|n| !n.contains(&w.obj(ISOLATED)))
        }
        Kind::NetworkRemoved => {
            let members = w
                .docker(&[
                    "network",
                    "inspect",
                    "-f",
                    "{{range .Containers}}{{.Name}} {{end}}",
                    &w.obj(ISOLATED),
                ])
                .unwrap_or_default();
            let on: Vec<&str> = members.split_whitespace().collect();
            w.docker(&["network", "inspect", "-f", "{{.Id}}", &w.obj(ISOLATED)])
                .is_ok()
                && ISOLATED_MEMBERS
                    .iter()
                    .all(|m| on.contains(&w.obj(m).as_str()) && v.service_ok(w, m))
        }
        Kind::VolumeRemoved | Kind::VolumeInUse => w
            .docker(&["volume", "inspect", "-f", "{{.Name}}", &w.obj(&f.target)])
            .is_ok(),
        Kind::DaemonRestart | Kind::SshdRestart | Kind::LucidctlKilled => {
            v.loop_ready(w) && v.passes.is_some_and(|p| p > f.baseline.unwrap_or(0)) && v.all_ok(w)
        }
        Kind::GoodCommit => v.canary_serves(w, f.revision.as_deref().unwrap_or("")),
        Kind::NeverHealthyCommit => {
            let held = v.status.is_some_and(|s| {
                s["held"]
                    .as_array()
                    .is_some_and(|h| h.iter().any(|x| x["name"] == CANARY))
            });
            held && v.canary_serves(w, v.good_revision)
        }
        Kind::InvalidCommit => {
            v.status.is_some_and(|s| s["input_error"].is_string())
                && v.canary_serves(w, v.good_revision)
        }
    }
}

/// What the loop and the engine showed when a repair ran out of time, for the violation.
pub fn diagnose(w: &World, f: &Fault, v: &View) -> String {
    let status = v.status.map(|s| {
        let not_ready: Vec<String> = s["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["state"] != "ready")
            .map(|r| format!("{}/{} {} {}", r["kind"], r["name"], r["state"], r["last_error"]))
            .collect();
        let held: Vec<&Value> = s["held"].as_array().into_iter().flatten().collect();
        format!(
            "status: held {held:?}, input_error {}, applied {}, disconnected_since {}, last_error {}, not ready {not_ready:?}",
            s["input_error"], s["applied_revision"], s["disconnected_since"], s["last_error"]
        )
    });
    let target = if f.kind.git() {
        CANARY
    } else {
        f.target.as_str()
    };
    let describe = |target: &str| {
        v.snap
            .and_then(|s| s.get(&w.obj(target)))
            .map(|c| {
                format!(
                    "{}: running {} healthy {} revision {} (last good {})",
                    c.name, c.running, c.healthy, c.revision, v.good_revision
                )
            })
            .unwrap_or_else(|| format!("no container {}", w.obj(target)))
    };
    // An outage names no service: show every one that is not back.
    let containers = if f.target == "-" {
        let down: Vec<String> = v
            .services
            .iter()
            .filter(|s| !v.service_ok(w, s))
            .map(|s| describe(s))
            .collect();
        format!("services not running and healthy: {down:?}")
    } else {
        describe(target)
    };
    format!(
        "{}; {containers}",
        status.unwrap_or_else(|| "no status".into())
    )
}

/// The notification a fault must cause (one per fault, or one within the
/// ten-minute de-duplication window before it).
pub fn expected_notification(kind: Kind) -> Option<&'static [&'static str]> {
    match kind {
        Kind::RmForce | Kind::UpdateLimit | Kind::NetworkRemoved => Some(&["drift-repaired"]),
        Kind::VolumeRemoved => Some(&["volume-lost"]),
        Kind::IsolationBreach => Some(&["policy-violation"]),
        Kind::NeverHealthyCommit => Some(&["rollout-failed", "rollout-held"]),
        Kind::InvalidCommit => Some(&["input-broken"]),
        _ => None,
    }
}

/// Which faults explain a notification event (a notification no fault explains is a violation).
pub fn explains(kind: Kind, event: &str) -> bool {
    match event {
        "drift-repaired" => !kind.git(),
        "policy-violation" => matches!(kind, Kind::IsolationBreach),
        "volume-lost" => matches!(kind, Kind::VolumeRemoved | Kind::VolumeInUse),
        "rollout-failed" | "rollout-held" => matches!(kind, Kind::NeverHealthyCommit),
        "input-broken" | "input-recovered" => matches!(kind, Kind::InvalidCommit),
        "engine-unreachable" | "engine-recovered" => {
            matches!(kind, Kind::DaemonRestart | Kind::SshdRestart)
        }
        "rate-limited" => true,
        _ => false,
    }
}
