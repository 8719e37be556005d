//! The tools under comparison and how each one is invoked on a system:
//! lucidctl and the anchors (docker-compose 1.29, compose v2, Ansible with
//! community.docker). An anchor that cannot be found is kept with the reason,
//! so the table says so instead of the suite failing.

use crate::system::System;
use lucid_e2e::{repo_root, target_dir, try_run};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Lucidctl,
    ComposeV1,
    ComposeV2,
    Ansible,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Lucidctl,
        Kind::ComposeV1,
        Kind::ComposeV2,
        Kind::Ansible,
    ];

    /// The name used on the command line (`--tools`) and in JSON.
    pub fn id(self) -> &'static str {
        match self {
            Kind::Lucidctl => "lucidctl",
            Kind::ComposeV1 => "compose-v1",
            Kind::ComposeV2 => "compose-v2",
            Kind::Ansible => "ansible",
        }
    }

    /// The part of Docker object names that tells the tools' copies apart.
    pub fn short(self) -> &'static str {
        match self {
            Kind::Lucidctl => "lc",
            Kind::ComposeV1 => "c1",
            Kind::ComposeV2 => "c2",
            Kind::Ansible => "an",
        }
    }
}

pub struct Tool {
    pub kind: Kind,
    /// The program, and arguments that come before the tool's own (`docker compose`).
    pub program: Vec<String>,
    /// "docker-compose 1.29.2"; for a missing tool, why it is missing.
    pub version: String,
    pub available: bool,
    /// Ansible: the venv's python, for the playbook's interpreter.
    pub python: Option<PathBuf>,
}

impl Tool {
    pub fn label(&self) -> String {
        if self.available {
            self.version.clone()
        } else {
            self.kind.id().to_string()
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program[0]);
        cmd.args(&self.program[1..]).env("NO_COLOR", "1");
        match self.kind {
            // v1 deadlocks on a cold `up` of more than 64 services at once.
            Kind::ComposeV1 => {
                cmd.env("COMPOSE_PARALLEL_LIMIT", "128");
            }
            // ansible-core refuses to start without a UTF-8 locale.
            Kind::Ansible => {
                cmd.env("LC_ALL", "C.UTF-8").env("ANSIBLE_NOCOLOR", "1");
            }
            _ => {}
        }
        cmd
    }

    /// Converge `sys` to revision `rev`: apply, `up -d`, or the playbook.
    pub fn up(&self, sys: &System, rev: usize) -> Command {
        let mut cmd = self.command();
        match self.kind {
            Kind::Lucidctl => {
                cmd.arg("apply").args(sys.lucidctl_args(rev));
            }
            Kind::ComposeV1 | Kind::ComposeV2 => {
                cmd.args(self.compose_args(sys, rev)).args(["up", "-d"]);
            }
            Kind::Ansible => {
                cmd.args(self.ansible_args(sys, rev));
            }
        }
        cmd
    }

    /// The dry run of `up`, or why the tool has none.
    pub fn dry_run(&self, sys: &System, rev: usize) -> Result<Command, String> {
        let mut cmd = self.command();
        match self.kind {
            Kind::Lucidctl => {
                cmd.arg("diff").args(sys.lucidctl_args(rev));
            }
            Kind::ComposeV1 => return Err("n/a: docker-compose 1.29 has no dry run".into()),
            Kind::ComposeV2 => {
                cmd.arg("--dry-run")
                    .args(self.compose_args(sys, rev))
                    .args(["up", "-d"]);
            }
            Kind::Ansible => {
                cmd.args(self.ansible_args(sys, rev))
                    .args(["--check", "--diff"]);
            }
        }
        Ok(cmd)
    }

    /// Removes the tool's copy of `sys` the tool's own way; the caller sweeps
    /// by name afterwards for whatever it leaves (Ansible has no "down").
    pub fn down(&self, sys: &System) -> Option<Command> {
        let mut cmd = self.command();
        // Any revision will do: they all declare the same objects.
        match self.kind {
            Kind::Lucidctl => {
                cmd.arg("delete")
                    .args(sys.lucidctl_args(0))
                    .arg("--volumes");
            }
            Kind::ComposeV1 | Kind::ComposeV2 => {
                cmd.args(self.compose_args(sys, 0))
                    .args(["down", "-v", "-t", "1"]);
            }
            Kind::Ansible => return None,
        }
        Some(cmd)
    }

    fn compose_args(&self, sys: &System, rev: usize) -> Vec<String> {
        vec![
            "-p".into(),
            sys.compose_project(self.kind),
            "-f".into(),
            sys.compose_file(self.kind, rev).display().to_string(),
        ]
    }

    fn ansible_args(&self, sys: &System, rev: usize) -> Vec<String> {
        vec![
            "-i".into(),
            "localhost,".into(),
            sys.playbook(rev).display().to_string(),
        ]
    }

    /// Whether a finished command of this tool succeeded (`diff` exits 2 on changes).
    pub fn ok(&self, code: Option<i32>, dry_run: bool) -> bool {
        match (self.kind, dry_run) {
            (Kind::Lucidctl, true) => matches!(code, Some(0) | Some(2)),
            _ => code == Some(0),
        }
    }
}

fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let out = try_run(cmd, Duration::from_secs(60)).ok()?;
    out.success()
        .then(|| out.stdout.lines().next().unwrap_or("").trim().to_string())
}

fn missing(kind: Kind, why: String) -> Tool {
    Tool {
        kind,
        program: vec![],
        version: why,
        available: false,
        python: None,
    }
}

/// lucidctl from `--lucidctl`, or target/release/lucidctl, built when missing.
pub fn lucidctl(path: Option<PathBuf>) -> Result<Tool, String> {
    let bin = match path {
        Some(p) => p,
        None => {
            let bin = target_dir().join("release/lucidctl");
            if !bin.is_file() {
                eprintln!("bench: building lucidctl (cargo build --release -p controller)");
                let mut cmd =
                    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
                cmd.args(["build", "--release", "-p", "controller"])
                    .current_dir(repo_root());
                let out = try_run(cmd, Duration::from_secs(3600))?;
                if !out.success() {
                    return Err(format!("building lucidctl failed: {}", out.stderr));
                }
            }
            bin
        }
    };
    let rev = first_line(
        "git",
        &[
            "-C",
            &repo_root().display().to_string(),
            "describe",
            "--always",
            "--dirty",
        ],
    )
    .unwrap_or_else(|| "unknown".into());
    Ok(Tool {
        kind: Kind::Lucidctl,
        program: vec![bin.display().to_string()],
        version: format!("lucidctl {rev}"),
        available: bin.is_file(),
        python: None,
    })
}

pub fn compose_v1() -> Tool {
    let program = std::env::var("LUCID_COMPOSE_V1").unwrap_or_else(|_| "docker-compose".into());
    match first_line(&program, &["version", "--short"]) {
        Some(v) if v.starts_with("1.") => Tool {
            kind: Kind::ComposeV1,
            program: vec![program],
            version: format!("docker-compose {v}"),
            available: true,
            python: None,
        },
        Some(v) => missing(
            Kind::ComposeV1,
            format!("`{program}` is version {v}, not 1.x"),
        ),
        None => missing(
            Kind::ComposeV1,
            "not installed: apt-get install docker-compose (scripts/install-anchors.sh compose-v1)"
                .into(),
        ),
    }
}

/// `$LUCID_COMPOSE_V2`, the unpacked Debian binary, or the `docker compose` plugin.
pub fn compose_v2() -> Tool {
    let mut candidates: Vec<Vec<String>> = Vec::new();
    if let Ok(p) = std::env::var("LUCID_COMPOSE_V2") {
        candidates.push(vec![p]);
    }
    candidates.push(vec![target_dir()
        .join("anchors/bin/docker-compose-v2")
        .display()
        .to_string()]);
    candidates.push(vec!["docker".into(), "compose".into()]);
    for program in candidates {
        let mut args: Vec<&str> = program[1..].iter().map(String::as_str).collect();
        args.extend(["version", "--short"]);
        if let Some(v) = first_line(&program[0], &args) {
            let v = v.trim_start_matches('v').to_string();
            if v.starts_with('2') {
                return Tool {
                    kind: Kind::ComposeV2,
                    program,
                    version: format!("compose {v}"),
                    available: true,
                    python: None,
                };
            }
        }
    }
    missing(
        Kind::ComposeV2,
        "not installed: scripts/install-anchors.sh compose-v2 (or LUCID_COMPOSE_V2=/path/to/binary)".into(),
    )
}

/// `$LUCID_ANSIBLE_VENV` or target/anchors/ansible: a venv with ansible and docker.
pub fn ansible() -> Tool {
    let venv = std::env::var_os("LUCID_ANSIBLE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("anchors/ansible"));
    let playbook = venv.join("bin/ansible-playbook");
    let python = venv.join("bin/python");
    let has_docker = first_line(
        &python.display().to_string(),
        &["-c", "import docker; print(docker.__version__)"],
    );
    let core = first_line(&playbook.display().to_string(), &["--version"]);
    let collection = first_line(
        "sh",
        &[
            "-c",
            &format!(
                "LC_ALL=C.UTF-8 {} collection list community.docker 2>/dev/null | grep community.docker",
                venv.join("bin/ansible-galaxy").display()
            ),
        ],
    );
    match (core, has_docker, collection) {
        (Some(core), Some(_), Some(col)) => Tool {
            kind: Kind::Ansible,
            program: vec![playbook.display().to_string()],
            version: format!(
                "ansible {} + {}",
                core.trim_start_matches("ansible-playbook ").replace(['[', ']'], ""),
                col.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            available: true,
            python: Some(python),
        },
        _ => missing(
            Kind::Ansible,
            format!(
                "not installed: scripts/install-anchors.sh ansible (a venv with ansible, docker and community.docker at {})",
                venv.display()
            ),
        ),
    }
}
