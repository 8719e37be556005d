//! A workload under test and every tool's copy of it.
//!
//! Each tool runs its own copy beside the others (names `<run tag>-<system>-<tool>-`),
//! so no-op, dry-run and drift rounds can alternate A B A B without tearing
//! down. A bench overlay on top of the desired state makes copies coexist:
//! no fixed subnets, no static addresses, no host ports, and the bench's own
//! image tag (never the demo's `lucid-local/standin:dev`).
//!
//! Three revisions: COLD keeps the declared health intervals (1 s in the local
//! overlay) for scenario 1, where one copy runs at a time. STEADY raises every
//! interval to 10 s except the victim's: with all copies up, 1 s probes of 4 x 27
//! containers would cost a 2-core engine host more CPU than it has (each probe
//! is an exec), and the figures would measure the probes. CHANGED is STEADY
//! with one env value of the "victim" changed (scenario 4); the victim, a
//! service nothing depends on, is also the container removed in scenario 5.

use crate::playbook::{playbook, PlaybookInput};
use crate::tools::{Kind, Tool};
use desired_state::model::{Kind as ResKind, Spec};
use desired_state::{DesiredState, LoadOptions};
use lucid_e2e::{repo_root, try_run};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub struct System {
    /// "lucid" or "synthetic-100": the system column.
    pub label: String,
    pub services: usize,
    /// `<run tag>-<slug>`: the start of every Docker name of this system.
    pub name_root: String,
    dir: PathBuf,
    base: Vec<PathBuf>,
    pub secrets_dir: PathBuf,
    files_dir: PathBuf,
    /// The Service changed in scenario 4 and removed in scenario 5: one nothing depends on.
    pub victim: String,
}

pub const COLD: usize = 0;
pub const STEADY: usize = 1;
pub const CHANGED: usize = 2;
const REVISIONS: usize = 3;
/// The health interval of every service but the victim in STEADY and CHANGED.
const STEADY_INTERVAL: &str = "10s";

impl System {
    /// The 27-service local Lucid system: configs/lucid + overlays/local.
    pub fn lucid(work: &Path, tag: &str) -> System {
        let root = repo_root();
        System::new(
            "lucid".into(),
            work.join("lucid"),
            format!("{tag}-l"),
            vec![
                root.join("configs/lucid"),
                root.join("configs/lucid/overlays/local"),
            ],
        )
    }

    /// A synthetic system of `n` stand-in services running `image`.
    pub fn synthetic(work: &Path, tag: &str, n: usize, image: &str) -> Result<System, String> {
        let dir = work.join(format!("synthetic-{n}"));
        let state = dir.join("state");
        write(
            &state.join("system.yaml"),
            &crate::synthetic::system_yaml(n, image),
        )?;
        Ok(System::new(
            format!("synthetic-{n}"),
            dir,
            format!("{tag}-s{n}"),
            vec![state],
        ))
    }

    fn new(label: String, dir: PathBuf, name_root: String, base: Vec<PathBuf>) -> System {
        System {
            label,
            services: 0,
            name_root,
            secrets_dir: dir.join("env"),
            files_dir: dir.join("files"),
            dir,
            base,
            victim: String::new(),
        }
    }

    /// Docker names of `tool`'s copy start with this.
    pub fn prefix(&self, tool: Kind) -> String {
        format!("{}-{}-", self.name_root, tool.short())
    }

    /// The Docker name of the victim in `tool`'s copy.
    pub fn victim_container(&self, tool: Kind) -> String {
        format!("{}{}", self.prefix(tool), self.victim)
    }

    /// lucidctl's project: ownership labels and the API floor's filter.
    pub fn lucidctl_project(&self) -> String {
        format!("{}-lc", self.name_root)
    }

    /// Compose project names are letters and digits only in v1.
    pub fn compose_project(&self, tool: Kind) -> String {
        format!("{}{}", self.name_root, tool.short()).replace('-', "")
    }

    fn overlay(&self, rev: usize) -> PathBuf {
        self.dir.join(format!("overlay-r{rev}"))
    }

    pub fn files(&self, rev: usize) -> Vec<PathBuf> {
        let mut files = self.base.clone();
        files.push(self.overlay(rev));
        files
    }

    /// `-f ... -p --name-prefix --files-dir --secrets-dir` for apply, diff, delete and run.
    pub fn lucidctl_args(&self, rev: usize) -> Vec<String> {
        let mut args = Vec::new();
        for f in self.files(rev) {
            args.push("-f".into());
            args.push(f.display().to_string());
        }
        args.extend([
            "-p".into(),
            self.lucidctl_project(),
            "--name-prefix".into(),
            self.prefix(Kind::Lucidctl),
            "--files-dir".into(),
            self.files_dir.display().to_string(),
            "--secrets-dir".into(),
            self.secrets_dir.display().to_string(),
        ]);
        args
    }

    pub fn compose_file(&self, tool: Kind, rev: usize) -> PathBuf {
        self.dir
            .join(format!("compose-r{rev}"))
            .join(format!("{}.yml", tool.short()))
    }

    pub fn playbook(&self, rev: usize) -> PathBuf {
        self.dir.join(format!("ansible/r{rev}.yml"))
    }

    /// Writes the overlays, secrets, compose files and playbooks of both revisions.
    pub fn prepare(&mut self, lucidctl: &Tool, ansible: &Tool, image: &str) -> Result<(), String> {
        let base = load(&self.base)?;
        self.services = base.count(ResKind::Service);
        self.victim = victim(&base)?;
        let mut gen = Command::new(&lucidctl.program[0]);
        gen.args(["secrets", "generate", "--secrets-dir"])
            .arg(&self.secrets_dir);
        for f in &self.base {
            gen.arg("-f").arg(f);
        }
        lucid(gen)?;
        for rev in 0..REVISIONS {
            write(
                &self.overlay(rev).join("bench.yaml"),
                &bench_overlay(&base, image, &self.victim, rev),
            )?;
            let out_dir = self.dir.join(format!("compose-r{rev}"));
            let mut export = Command::new(&lucidctl.program[0]);
            export.args(["export", "compose", "-o"]).arg(&out_dir);
            export.arg("--secrets-dir").arg(&self.secrets_dir);
            for f in self.files(rev) {
                export.arg("-f").arg(f);
            }
            lucid(export)?;
            let master = std::fs::read_to_string(out_dir.join("docker-compose.master.yml"))
                .map_err(|e| format!("export compose wrote no master file: {e}"))?;
            for tool in [Kind::ComposeV1, Kind::ComposeV2] {
                write(
                    &self.compose_file(tool, rev),
                    &rename_compose(&master, &self.prefix(tool)),
                )?;
            }
            if let Some(python) = &ansible.python {
                let state = load(&self.files(rev))?;
                let text = playbook(&PlaybookInput {
                    state: &state,
                    prefix: &self.prefix(Kind::Ansible),
                    secrets_dir: &self.secrets_dir,
                    work_dir: &self.dir.join("ansible"),
                    python,
                })?;
                write(&self.playbook(rev), &text)?;
            }
        }
        Ok(())
    }
}

fn load(paths: &[PathBuf]) -> Result<DesiredState, String> {
    let options = LoadOptions {
        paths: paths.to_vec(),
        recursive: false,
        root: None,
    };
    desired_state::load_valid(&options)
        .map(|(state, _)| state)
        .map_err(|e| {
            let errors: Vec<String> = e.errors.iter().map(|d| format!("{d:?}")).collect();
            format!("the bench system does not validate: {}", errors.join("\n"))
        })
}

fn lucid(cmd: Command) -> Result<(), String> {
    let out = try_run(cmd, Duration::from_secs(300))?;
    if out.success() {
        Ok(())
    } else {
        Err(format!("{out:?}"))
    }
}

/// The last declared Service nothing depends on and that publishes nothing.
fn victim(state: &DesiredState) -> Result<String, String> {
    let needed: Vec<&str> = state
        .workloads()
        .flat_map(|r| r.spec.workload().into_iter().flat_map(|w| &w.depends_on))
        .map(|d| d.name.as_str())
        .collect();
    state
        .of_kind(ResKind::Service)
        .filter(|r| !needed.contains(&r.name()))
        .filter(|r| {
            r.spec
                .workload()
                .is_some_and(|w| w.ports.iter().all(|p| p.host_port.is_none()))
        })
        .last()
        .map(|r| r.name().to_string())
        .ok_or_else(|| "no Service without dependents to use as the victim".into())
}

/// The bench overlay: merge patches that let copies coexist, plus the revision's env value.
fn bench_overlay(state: &DesiredState, image: &str, victim: &str, rev: usize) -> String {
    let mut out = String::from("# Written by the bench: no fixed subnets, addresses or host ports; the bench's image tag.\n");
    let mut push = |kind: ResKind, name: &str, spec: Value| {
        out.push_str(&format!(
            "---\napiVersion: lucid/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec: {spec}\n"
        ));
    };
    for r in &state.resources {
        match &r.spec {
            Spec::Network(n) if n.subnet.is_some() || n.gateway.is_some() => {
                push(r.kind(), r.name(), json!({"subnet": null, "gateway": null}));
            }
            Spec::Service(w) | Spec::Job(w) => {
                let mut spec = json!({"image": image});
                if w.ports.iter().any(|p| p.host_port.is_some()) {
                    let ports: Vec<Value> = w
                        .ports
                        .iter()
                        .map(|p| json!({"containerPort": p.container_port, "protocol": p.protocol.as_str()}))
                        .collect();
                    spec["ports"] = json!(ports);
                }
                if w.networks.iter().any(|n| n.ipv4_address.is_some()) {
                    let nets: Vec<Value> = w
                        .networks
                        .iter()
                        .map(|n| json!({"name": n.name, "aliases": n.aliases}))
                        .collect();
                    spec["networks"] = json!(nets);
                }
                if r.name() == victim {
                    spec["env"] = json!({"BENCH_REV": (rev == CHANGED).to_string()});
                } else if rev != COLD && w.healthcheck.is_some() {
                    spec["healthcheck"] = json!({"interval": STEADY_INTERVAL});
                }
                push(r.kind(), r.name(), spec);
            }
            _ => {}
        }
    }
    // Images are deleted: every workload runs the bench's tag, which the bench tags itself.
    for r in state.of_kind(ResKind::Image) {
        out.push_str(&format!(
            "---\napiVersion: lucid/v1alpha1\nkind: Image\nmetadata:\n  name: {}\n$patch: delete\n",
            r.name()
        ));
    }
    out
}

/// The exported compose file with every Docker name prefixed: `container_name:`
/// and the `name:` of top-level networks and volumes. Service keys stay, so
/// `depends_on`, network membership and DNS names inside a copy are unchanged.
/// Line-based because the exporter's output is regular and the bench takes no YAML crate.
pub fn rename_compose(text: &str, prefix: &str) -> String {
    let mut out = String::new();
    let mut section = "";
    for line in text.lines() {
        if !line.starts_with(' ') && !line.starts_with('#') && line.ends_with(':') {
            section = match line {
                "networks:" => "networks",
                "volumes:" => "volumes",
                _ => "other",
            };
        }
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let renamed = if let Some(name) = trimmed.strip_prefix("container_name: ") {
            Some(format!("{indent}container_name: {prefix}{}", unquote(name)))
        } else if let (Some(name), "networks" | "volumes", 4) =
            (trimmed.strip_prefix("name: "), section, indent.len())
        {
            Some(format!("{indent}name: {prefix}{}", unquote(name)))
        } else {
            None
        };
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches(|c| c == '"' || c == '\'')
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
