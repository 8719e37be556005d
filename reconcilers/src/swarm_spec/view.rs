//! A service's declared fields flattened into `path -> value`, built the
//! same way from a desired `SwarmService` (here) and from what the manager
//! reports (the engine module, with the helpers below), so the two compare
//! directly: a field-level diff, drift by hand (scaled, updated), and a
//! second apply that finds nothing. Env values are kept as hashes only, so a
//! view can be logged without showing a secret.

use super::model::{FileKind, SwarmService};
use crate::fields::FieldChange;
use crate::hash::short_hash;
use crate::render::{EnvValue, MountFrom};
use std::collections::BTreeMap;

pub type View = BTreeMap<String, String>;

pub fn list(items: &[String]) -> String {
    format!("{items:?}")
}

/// What an env value is compared by: never the value itself.
pub fn env_digest(value: &str) -> String {
    format!("#{}", short_hash(value.as_bytes()))
}

pub fn mount(from: &MountFrom, read_only: bool) -> String {
    let source = match from {
        MountFrom::Volume(v) => format!("volume {v}"),
        MountFrom::HostPath(p) => format!("bind {p}"),
        MountFrom::Anonymous => "anonymous volume".to_string(),
    };
    if read_only {
        format!("{source} (read-only)")
    } else {
        source
    }
}

pub fn file(object: &str, mode: u32, uid: &str, gid: &str) -> String {
    format!("{object} mode {mode:o} owner {uid}:{gid}")
}

pub fn port(published: u16) -> String {
    match published {
        0 => "published on a port Swarm picks".into(),
        p => format!("published on {p}"),
    }
}

pub fn order(start_first: bool) -> &'static str {
    if start_first {
        "start-first"
    } else {
        "stop-first"
    }
}

/// The desired side.
pub fn view(s: &SwarmService) -> View {
    let mut v = View::new();
    let mut put = |k: &str, val: String| {
        v.insert(k.to_string(), val);
    };
    put("image", s.image.clone());
    if s.kind == desired_state::model::Kind::Service {
        put("replicas", s.replicas.to_string());
    }
    if let Some(e) = &s.entrypoint {
        put("entrypoint", list(e));
    }
    if let Some(c) = &s.command {
        put("command", list(c));
    }
    if let Some(u) = &s.user {
        put("user", u.clone());
    }
    if let Some(d) = &s.working_dir {
        put("workingDir", d.clone());
    }
    if let Some(h) = &s.hostname {
        put("hostname", h.clone());
    }
    for (k, val) in &s.env {
        put(&format!("env.{k}"), env_digest(val.expose()));
    }
    for n in &s.networks {
        put(&format!("networks.{}", n.network), list(&n.aliases));
    }
    for p in &s.ports {
        put(
            &format!("ports.{}/{}", p.target, p.protocol),
            port(p.published),
        );
    }
    for m in &s.mounts {
        put(&format!("mounts.{}", m.target), mount(&m.from, m.read_only));
    }
    for f in &s.files {
        let key = match f.kind {
            FileKind::Config => "configs",
            FileKind::Secret => "secrets",
        };
        put(
            &format!("{key}.{}", f.target),
            file(&f.object, f.mode, &f.uid, &f.gid),
        );
    }
    // The healthcheck is not compared field by field: the engine client
    // cannot read it back (see engine::swarm::convert::view_of); the spec
    // hash still carries every declared change.
    if !s.placement.constraints.is_empty() {
        put("placement.constraints", list(&s.placement.constraints));
    }
    if !s.placement.platforms.is_empty() {
        put("placement.platforms", list(&s.placement.platforms));
    }
    if let Some(m) = s.placement.max_replicas_per_node {
        put("placement.maxReplicasPerNode", m.to_string());
    }
    if let Some(m) = s.memory {
        put("resources.memory", m.to_string());
    }
    if let Some(c) = s.nano_cpus {
        put("resources.nanoCpus", c.to_string());
    }
    if let Some(p) = s.pids_limit {
        put("resources.pids", p.to_string());
    }
    if s.security.read_only_root_filesystem {
        put("security.readOnlyRootFilesystem", "true".into());
    }
    if !s.security.cap_add.is_empty() {
        put("security.capAdd", list(&s.security.cap_add));
    }
    if !s.security.cap_drop.is_empty() {
        put("security.capDrop", list(&s.security.cap_drop));
    }
    if let Some(i) = s.init {
        put("init", i.to_string());
    }
    if let Some(g) = s.stop_grace_seconds {
        put("stopGracePeriod", (g * 1_000_000_000).to_string());
    }
    if let Some(sig) = &s.stop_signal {
        put("stopSignal", sig.clone());
    }
    if let Some(l) = &s.logging {
        put("logging.driver", l.driver.clone());
        for (k, val) in &l.options {
            put(&format!("logging.options.{k}"), val.clone());
        }
    }
    if s.kind == desired_state::model::Kind::Service {
        put("update.order", order(s.update.start_first).into());
        put("update.monitor", s.update.monitor.as_nanos().to_string());
    }
    v
}

/// Field-level lines from `have` to `want`. Env values never show: a plain
/// one shows what it becomes, a secret one `(sensitive)`.
pub fn diff(want: &View, have: &View, env: &BTreeMap<String, EnvValue>) -> Vec<FieldChange> {
    let shown = |path: &str, value: Option<&String>, wanted: bool| -> String {
        let Some(value) = value else {
            return "(unset)".into();
        };
        if let Some(key) = path.strip_prefix("env.") {
            return match (wanted, env.get(key)) {
                (true, Some(EnvValue::Plain(p))) => format!("{p:?}"),
                (true, _) => "(sensitive)".into(),
                (false, _) => "(another value)".into(),
            };
        }
        value.clone()
    };
    // Only declared fields count, as on the local target; what Swarm fills in
    // by itself (a default stop grace period) is no change. In keyed
    // collections an extra entry is one (an env var, a network added by hand).
    let counted = |k: &str| {
        want.contains_key(k)
            || [
                "image",
                "replicas",
                "env.",
                "networks.",
                "ports.",
                "mounts.",
                "configs.",
                "secrets.",
            ]
            .iter()
            .any(|p| k == *p || (p.ends_with('.') && k.starts_with(p)))
    };
    let mut keys: Vec<&String> = want
        .keys()
        .chain(have.keys())
        .filter(|k| counted(k))
        .collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| want.get(*k) != have.get(*k))
        .map(|k| FieldChange {
            path: k.clone(),
            from: shown(k, have.get(k), false),
            to: shown(k, want.get(k), true),
        })
        .collect()
}
