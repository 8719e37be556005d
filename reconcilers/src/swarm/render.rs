//! The files rendered into what lucidctl asks a Swarm for. Pure: file
//! contents and secret values arrive as arguments. A workload is rendered as
//! a container first (the same spec hash inputs as the local target), then
//! given its Swarm settings: replicas, placement, update policy, configs and
//! secrets named by content hash.

use super::model::*;
use crate::hash::short_hash;
use crate::labels;
use crate::observed::{Observed, ObservedImage};
use crate::render::{render_container, render_network, Inputs, MountFrom, RenderError};
use desired_state::model::{numeric_user, Kind, MountSource, Rollout, Spec, WorkloadSpec};
use desired_state::{DesiredState, Resource};
use std::collections::BTreeMap;
use std::time::Duration;

/// A ConfigFile's bytes and file mode.
#[derive(Debug, Clone, PartialEq)]
pub struct FileContent {
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// Content hashes are cut to this many hex digits in object names.
const NAME_HASH_LEN: usize = 12;
/// Swarm watches a new task at least this long, even without a healthcheck.
const MIN_MONITOR: Duration = Duration::from_secs(5);
/// Docker's healthcheck defaults, for the monitor period.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;

/// The swarm config holding ConfigFile `name` with content hash `hash`.
pub fn config_object_name(inputs: &Inputs, name: &str, hash: &str) -> String {
    let cut = &hash[..hash.len().min(NAME_HASH_LEN)];
    inputs.object_name(&format!("{name}-{cut}"))
}

/// The swarm secret holding key `key` of SecretSet `set`.
pub fn secret_object_name(inputs: &Inputs, set: &str, key: &str, value: &str) -> String {
    let hash = short_hash(format!("{set}\n{key}\n{value}").as_bytes());
    inputs.object_name(&format!("{set}-{key}-{}", &hash[..NAME_HASH_LEN]))
}

pub fn render(
    state: &DesiredState,
    inputs: &Inputs,
    images: &BTreeMap<String, ObservedImage>,
    configs: &BTreeMap<String, FileContent>,
) -> Result<SwarmDesired, RenderError> {
    let mut out = SwarmDesired::default();
    let isolated: Vec<&str> = state
        .resources
        .iter()
        .filter_map(|r| match &r.spec {
            Spec::IsolationPolicy(p) => Some(p.network.as_str()),
            _ => None,
        })
        .collect();
    for r in state.of_kind(Kind::Network) {
        let Spec::Network(n) = &r.spec else { continue };
        let plan = render_network(r, n, inputs);
        let encrypted = isolated.contains(&r.name());
        let mut labels = plan.labels.clone();
        // Encryption is part of what the network is.
        let hash = short_hash(format!("{}{encrypted}", plan.hash).as_bytes());
        labels.insert(labels::SPEC_HASH.to_string(), hash.clone());
        out.networks.push(SwarmNetwork {
            resource: r.name().to_string(),
            name: inputs.network_name(r.name()),
            internal: n.internal,
            encrypted,
            subnet: n.subnet.as_ref().map(|s| s.to_string()),
            labels,
            hash,
            external: n.external,
        });
    }
    for (name, content) in configs {
        let Some(hash) = inputs.config_hashes.get(name) else {
            continue;
        };
        let object = config_object_name(inputs, name, hash);
        let mut l = labels::ownership(&inputs.project, "ConfigFile", Some(name));
        l.insert(CONTENT_HASH.to_string(), hash.clone());
        out.data.push(SwarmData {
            kind: FileKind::Config,
            what: format!("ConfigFile/{name}"),
            name: object,
            labels: l,
            bytes: content.bytes.clone(),
        });
    }
    let observed = Observed {
        images: images.clone(),
        ..Observed::default()
    };
    for r in state.workloads() {
        let Some(w) = r.spec.workload() else { continue };
        let service = render_service(r, w, inputs, &observed, configs)?;
        for f in service.files.iter().filter(|f| f.kind == FileKind::Secret) {
            if out.data.iter().any(|d| d.name == f.object) {
                continue;
            }
            let (set, key) = secret_key_of(w, &f.target);
            let value = inputs
                .secrets
                .get(&set)
                .and_then(|v| v.get(&key))
                .map(|v| v.expose().as_bytes().to_vec())
                .unwrap_or_default();
            let mut l = labels::ownership(&inputs.project, "SecretSet", Some(&set));
            l.insert(CONTENT_HASH.to_string(), f.object.clone());
            out.data.push(SwarmData {
                kind: FileKind::Secret,
                what: format!("SecretSet/{set} key {key}"),
                name: f.object.clone(),
                labels: l,
                bytes: value,
            });
        }
        out.services.push(service);
    }
    Ok(out)
}

/// The set and key a secret file's target (`<target>/<KEY>`) comes from.
fn secret_key_of(w: &WorkloadSpec, target: &str) -> (String, String) {
    for f in &w.secret_files {
        let dir = f.target.trim_end_matches('/');
        if let Some(key) = target.strip_prefix(dir).and_then(|k| k.strip_prefix('/')) {
            return (f.secret_set.clone(), key.to_string());
        }
    }
    (String::new(), String::new())
}

fn render_service(
    r: &Resource,
    w: &WorkloadSpec,
    inputs: &Inputs,
    observed: &Observed,
    configs: &BTreeMap<String, FileContent>,
) -> Result<SwarmService, RenderError> {
    let c = render_container(r, inputs, observed).expect("a workload renders")?;
    let mut mounts = Vec::new();
    let mut files = Vec::new();
    for m in &w.mounts {
        let from = match m.source() {
            Some(MountSource::Volume(v)) => MountFrom::Volume(inputs.volume_name(v)),
            Some(MountSource::Bind(b)) => MountFrom::HostPath(b.to_string()),
            Some(MountSource::Anonymous) => MountFrom::Anonymous,
            Some(MountSource::ConfigFile(name)) => {
                let hash = inputs.config_hashes.get(name).cloned().unwrap_or_default();
                files.push(SwarmFile {
                    kind: FileKind::Config,
                    object: config_object_name(inputs, name, &hash),
                    source: name.to_string(),
                    target: m.target.clone(),
                    mode: configs.get(name).map_or(0o444, |c| c.mode),
                    uid: "0".into(),
                    gid: "0".into(),
                });
                continue;
            }
            None => continue,
        };
        mounts.push(SwarmMount {
            target: m.target.clone(),
            from,
            read_only: m.read_only,
        });
    }
    let (uid, gid) = w.user.as_deref().and_then(numeric_user).unwrap_or((0, 0));
    for f in &w.secret_files {
        let Some(values) = inputs.secrets.get(&f.secret_set) else {
            return Err(RenderError::MissingSecrets {
                resource: r.id(),
                set: f.secret_set.clone(),
            });
        };
        for (key, value) in values {
            files.push(SwarmFile {
                kind: FileKind::Secret,
                object: secret_object_name(inputs, &f.secret_set, key, value.expose()),
                source: f.secret_set.clone(),
                target: format!("{}/{key}", f.target.trim_end_matches('/')),
                mode: 0o400,
                uid: uid.to_string(),
                gid: gid.to_string(),
            });
        }
    }
    // Unpublished ports need nothing on a swarm: the overlay reaches every port.
    let ports = w
        .ports
        .iter()
        .filter_map(|p| {
            Some(SwarmPort {
                target: p.container_port,
                published: p.host_port?,
                protocol: p.protocol.as_str().to_string(),
            })
        })
        .collect();
    let networks = c
        .networks
        .iter()
        .map(|n| SwarmAttachment {
            network: n.network.clone(),
            aliases: n.aliases.clone(),
        })
        .collect();
    let update = UpdatePolicy {
        start_first: w.rollout != Some(Rollout::StopFirst),
        monitor: monitor_of(w),
    };
    let replicas = if c.kind == Kind::Job {
        1
    } else {
        w.replicas.unwrap_or(1)
    };
    let placement = w.placement.clone().unwrap_or_default();
    let object_names: Vec<&str> = files.iter().map(|f| f.object.as_str()).collect();
    let hash = short_hash(
        serde_json::to_string(&(
            "lucid-swarm-hash/v1",
            &c.hash,
            replicas,
            &placement,
            update.start_first,
            update.monitor.as_millis() as u64,
            &object_names,
        ))
        .unwrap_or_default()
        .as_bytes(),
    );
    let mut labels = c.labels.clone();
    labels.insert(labels::SPEC_HASH.to_string(), hash.clone());
    labels.remove(labels::IMAGE_DIGEST);
    Ok(SwarmService {
        kind: c.kind,
        resource: c.resource,
        name: c.name,
        image: c.image,
        entrypoint: c.entrypoint,
        command: c.command,
        env: c.env,
        user: c.user,
        working_dir: c.working_dir,
        replicas,
        placement,
        networks,
        ports,
        mounts,
        files,
        healthcheck: c.healthcheck,
        restart: c.restart,
        memory: c.memory,
        nano_cpus: c.nano_cpus,
        pids_limit: c.pids_limit,
        security: c.security,
        init: c.init,
        stop_grace_seconds: c.stop_grace_seconds,
        stop_signal: w.stop_signal.clone(),
        hostname: w.hostname.clone(),
        logging: w.logging.clone(),
        update,
        labels,
        hash,
    })
}

/// At least interval x retries (plus the start period), so a task that
/// turns unhealthy during the update still rolls it back.
fn monitor_of(w: &WorkloadSpec) -> Duration {
    let Some(h) = &w.healthcheck else {
        return MIN_MONITOR;
    };
    if h.test.first().map(String::as_str) == Some("NONE") {
        return MIN_MONITOR;
    }
    let interval = h.interval.map_or(DEFAULT_INTERVAL, |d| d.0);
    let retries = h.retries.unwrap_or(DEFAULT_RETRIES);
    let start = h.start_period.map_or(Duration::ZERO, |d| d.0);
    (interval * retries + start).max(MIN_MONITOR)
}

#[cfg(test)]
pub(crate) mod tests;
