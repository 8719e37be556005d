//! The Ansible anchor's workload: a playbook generated from the same desired
//! state lucidctl applies, using community.docker's docker_network,
//! docker_volume and docker_container. Ansible runs tasks one after another,
//! so the tasks are in dependency order; a container another one needs healthy
//! gets `state: healthy` (community.docker >= 3.11) and a Job runs with
//! `detach: false` (waits for its exit), which is how an Ansible user gates.
//! Written as JSON, which YAML (and so ansible-playbook) reads as is.

use desired_state::model::{Condition, Kind, MountSource, Spec, WorkloadSpec};
use desired_state::{DesiredState, Resource};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub struct PlaybookInput<'a> {
    pub state: &'a DesiredState,
    /// Prepended to every Docker object name, as lucidctl's --name-prefix does.
    pub prefix: &'a str,
    pub secrets_dir: &'a Path,
    /// Where inline ConfigFiles and merged env files are written.
    pub work_dir: &'a Path,
    pub python: &'a Path,
}

/// The playbook text.
pub fn playbook(input: &PlaybookInput) -> Result<String, String> {
    let state = input.state;
    let mut tasks = Vec::new();
    for r in state.of_kind(Kind::Network) {
        let Spec::Network(n) = &r.spec else { continue };
        tasks.push(json!({
            "name": format!("network {}", r.name()),
            "community.docker.docker_network": {
                "name": format!("{}{}", input.prefix, r.name()),
                "driver": n.driver(),
                "internal": n.internal,
            }
        }));
    }
    for r in state.of_kind(Kind::Volume) {
        tasks.push(json!({
            "name": format!("volume {}", r.name()),
            "community.docker.docker_volume": {"name": format!("{}{}", input.prefix, r.name())}
        }));
    }
    let gated: BTreeSet<&str> = state
        .workloads()
        .flat_map(|r| r.spec.workload().into_iter().flat_map(|w| &w.depends_on))
        .filter(|d| d.condition == Condition::Healthy)
        .map(|d| d.name.as_str())
        .collect();
    for r in dependency_order(state)? {
        let w = r.spec.workload().expect("workloads only");
        let job = r.kind() == Kind::Job;
        let mut task = container(input, r, w)?;
        if job {
            task.insert("detach".into(), json!(false));
            task.insert("state".into(), json!("started"));
        } else if gated.contains(r.name()) && w.healthcheck.is_some() {
            task.insert("state".into(), json!("healthy"));
            task.insert("healthy_wait_timeout".into(), json!(300));
        } else {
            task.insert("state".into(), json!("started"));
        }
        tasks.push(json!({
            "name": format!("{} {}", r.kind(), r.name()),
            "community.docker.docker_container": Value::Object(task),
        }));
    }
    let play = json!([{
        "name": "bench system",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": false,
        "vars": {"ansible_python_interpreter": input.python.display().to_string()},
        "tasks": tasks,
    }]);
    serde_json::to_string_pretty(&play).map_err(|e| e.to_string())
}

/// Workloads so that each comes after what it depends on.
fn dependency_order(state: &DesiredState) -> Result<Vec<&Resource>, String> {
    let all: Vec<&Resource> = state.workloads().collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::new();
    while order.len() < all.len() {
        let before = order.len();
        for r in &all {
            let w = r.spec.workload().expect("workloads only");
            if !done.contains(r.name())
                && w.depends_on.iter().all(|d| done.contains(d.name.as_str()))
            {
                done.insert(r.name());
                order.push(*r);
            }
        }
        if order.len() == before {
            return Err("dependsOn cycle (validation should have caught it)".into());
        }
    }
    Ok(order)
}

fn container(
    input: &PlaybookInput,
    r: &Resource,
    w: &WorkloadSpec,
) -> Result<Map<String, Value>, String> {
    let p = input.prefix;
    let mut c = Map::new();
    c.insert("name".into(), json!(format!("{p}{}", r.name())));
    c.insert("image".into(), json!(w.image.to_string()));
    if let Some(cmd) = &w.command {
        c.insert("command".into(), json!(cmd));
    }
    if let Some(ep) = &w.entrypoint {
        c.insert("entrypoint".into(), json!(ep));
    }
    if !w.env.is_empty() {
        c.insert("env".into(), json!(w.env));
    }
    if let Some(file) = env_file(input, r, w)? {
        c.insert("env_file".into(), json!(file.display().to_string()));
    }
    // The resource name as an alias on each network, as compose's service name
    // and lucidctl's unprefixed name resolve, so jobs reach `lucid-mongodb:27017`.
    let networks: Vec<Value> = w
        .networks
        .iter()
        .map(|n| {
            let mut aliases = vec![r.name().to_string()];
            aliases.extend(n.aliases.iter().cloned());
            json!({"name": format!("{p}{}", n.name), "aliases": aliases})
        })
        .collect();
    if !networks.is_empty() {
        c.insert("networks".into(), json!(networks));
    }
    let mut mounts = Vec::new();
    for m in &w.mounts {
        let (kind, source, ro) = match m.source() {
            Some(MountSource::Volume(v)) => ("volume", format!("{p}{v}"), m.read_only),
            Some(MountSource::Bind(b)) => ("bind", b.to_string(), m.read_only),
            Some(MountSource::ConfigFile(name)) => (
                "bind",
                config_file(input, name)?.display().to_string(),
                true,
            ),
            Some(MountSource::Anonymous) | None => continue,
        };
        mounts.push(json!({"type": kind, "source": source, "target": m.target, "read_only": ro}));
    }
    if !mounts.is_empty() {
        c.insert("mounts".into(), json!(mounts));
    }
    let ports: Vec<String> = w
        .ports
        .iter()
        .filter_map(|port| {
            let host = port.host_port?;
            let ip = port.host_ip.map(|ip| format!("{ip}:")).unwrap_or_default();
            Some(format!(
                "{ip}{host}:{}/{}",
                port.container_port,
                port.protocol.as_str()
            ))
        })
        .collect();
    if !ports.is_empty() {
        c.insert("published_ports".into(), json!(ports));
    }
    if let Some(h) = &w.healthcheck {
        let mut hc = Map::new();
        hc.insert("test".into(), json!(h.test));
        for (key, d) in [
            ("interval", h.interval),
            ("timeout", h.timeout),
            ("start_period", h.start_period),
        ] {
            if let Some(d) = d {
                hc.insert(key.into(), json!(d.to_string()));
            }
        }
        if let Some(n) = h.retries {
            hc.insert("retries".into(), json!(n));
        }
        c.insert("healthcheck".into(), Value::Object(hc));
    }
    let restart = match (w.restart, r.kind()) {
        (Some(policy), _) => policy.as_str(),
        (None, Kind::Job) => "no",
        (None, _) => "unless-stopped",
    };
    c.insert("restart_policy".into(), json!(restart));
    if let Some(res) = &w.resources {
        if let Some(m) = res.memory {
            // docker_container reads M as MiB; bytes are exact.
            c.insert("memory".into(), json!(format!("{}B", m.0)));
        }
        if let Some(cpus) = res.cpus {
            c.insert("cpus".into(), json!(cpus));
        }
        if let Some(n) = res.pids_limit {
            c.insert("pids_limit".into(), json!(n));
        }
    }
    if let Some(s) = &w.security {
        if s.read_only_root_filesystem {
            c.insert("read_only".into(), json!(true));
        }
        if !s.cap_drop.is_empty() {
            c.insert("cap_drop".into(), json!(s.cap_drop));
        }
        if !s.cap_add.is_empty() {
            c.insert("capabilities".into(), json!(s.cap_add));
        }
        if s.no_new_privileges {
            c.insert("security_opts".into(), json!(["no-new-privileges"]));
        }
        if s.privileged {
            c.insert("privileged".into(), json!(true));
        }
    }
    if let Some(u) = &w.user {
        c.insert("user".into(), json!(u));
    }
    if let Some(d) = &w.working_dir {
        c.insert("working_dir".into(), json!(d));
    }
    if let Some(i) = w.init {
        c.insert("init".into(), json!(i));
    }
    if let Some(g) = w.stop_grace_period {
        c.insert(
            "stop_timeout".into(),
            json!(g.0.as_secs_f64().ceil() as u64),
        );
    }
    Ok(c)
}

/// docker_container takes one env file: a service's several SecretSets are merged into one.
fn env_file(
    input: &PlaybookInput,
    r: &Resource,
    w: &WorkloadSpec,
) -> Result<Option<PathBuf>, String> {
    let files: Vec<PathBuf> = w
        .env_from
        .iter()
        .filter_map(|e| {
            match input
                .state
                .get(Kind::SecretSet, &e.secret_set)
                .map(|s| &s.spec)
            {
                Some(Spec::SecretSet(s)) => Some(input.secrets_dir.join(&s.file)),
                _ => None,
            }
        })
        .collect();
    match files.len() {
        0 => Ok(None),
        1 => Ok(files.into_iter().next()),
        _ => {
            let mut merged: BTreeMap<String, String> = BTreeMap::new();
            for f in &files {
                let text =
                    std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
                for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
                    if let Some((k, v)) = line.split_once('=') {
                        merged.insert(k.trim().to_string(), v.to_string());
                    }
                }
            }
            let path = input.work_dir.join("env").join(format!("{}.env", r.name()));
            let text: String = merged.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            write(&path, &text)?;
            Ok(Some(path))
        }
    }
}

/// A ConfigFile's path on the engine host: its source file, or its inline content written out.
fn config_file(input: &PlaybookInput, name: &str) -> Result<PathBuf, String> {
    let Some(r) = input.state.get(Kind::ConfigFile, name) else {
        return Err(format!("ConfigFile {name} is not declared"));
    };
    let Spec::ConfigFile(cf) = &r.spec else {
        unreachable!()
    };
    match (&cf.file, &cf.content) {
        (Some(f), _) => Ok(r.origin.base_dir("/spec/file").join(f)),
        (None, Some(text)) => {
            let path = input.work_dir.join("configs").join(name);
            write(&path, text)?;
            Ok(path)
        }
        (None, None) => Err(format!("ConfigFile {name} has neither file nor content")),
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
