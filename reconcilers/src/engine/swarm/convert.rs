//! lucidctl's swarm types to bollard's and back. Pure, so the mapping is
//! unit-tested without a daemon; `view_of` must give for a stored spec
//! exactly what `swarm::view::view` gives for the desired one.

use crate::render::MountFrom;
use crate::swarm_spec::model::*;
use crate::swarm_spec::view::{self, View};
use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, EndpointSpecModeEnum, HealthConfig, Limit, Mount, MountType, MountVolumeOptions,
    NetworkAttachmentConfig, Platform, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecModeReplicatedJob, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec,
    TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1,
    TaskSpecContainerSpecSecrets, TaskSpecLogDriver, TaskSpecPlacement, TaskSpecResources,
    TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};
use desired_state::model::{Kind, RestartPolicy};
use std::collections::{BTreeMap, HashMap};

/// Config and secret IDs by kind and name: a reference needs both.
pub type DataIds = BTreeMap<(FileKind, String), String>;

fn hash_map(m: &BTreeMap<String, String>) -> HashMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn nanos(d: &Option<desired_state::model::DurationSpec>) -> Option<i64> {
    d.map(|d| d.0.as_nanos() as i64)
}

/// The service spec lucidctl sends for `s`. `force_update` re-runs a Job
/// (or restarts tasks) without another change.
pub fn service_spec(s: &SwarmService, ids: &DataIds, force_update: Option<u64>) -> ServiceSpec {
    let mut task_labels = HashMap::new();
    task_labels.insert(TASK_HASH.to_string(), s.hash.clone());
    let mut configs = Vec::new();
    let mut secrets = Vec::new();
    for f in &s.files {
        let id = ids.get(&(f.kind, f.object.clone())).cloned();
        match f.kind {
            FileKind::Config => configs.push(TaskSpecContainerSpecConfigs {
                file: Some(TaskSpecContainerSpecFile1 {
                    name: Some(f.target.clone()),
                    uid: Some(f.uid.clone()),
                    gid: Some(f.gid.clone()),
                    mode: Some(f.mode),
                }),
                config_id: id,
                config_name: Some(f.object.clone()),
                ..Default::default()
            }),
            FileKind::Secret => secrets.push(TaskSpecContainerSpecSecrets {
                file: Some(TaskSpecContainerSpecFile {
                    name: Some(f.target.clone()),
                    uid: Some(f.uid.clone()),
                    gid: Some(f.gid.clone()),
                    mode: Some(f.mode),
                }),
                secret_id: id,
                secret_name: Some(f.object.clone()),
            }),
        }
    }
    // A named volume is made by the node that runs the task: it carries
    // lucidctl's ownership labels, so it is known (and never removed unasked).
    let project = s
        .labels
        .get(crate::labels::PROJECT)
        .map(String::as_str)
        .unwrap_or_default();
    let mounts: Vec<Mount> = s
        .mounts
        .iter()
        .map(|m| {
            let (typ, source) = match &m.from {
                MountFrom::Volume(v) => (MountType::VOLUME, Some(v.clone())),
                MountFrom::HostPath(p) => (MountType::BIND, Some(p.clone())),
                MountFrom::Anonymous => (MountType::VOLUME, None),
            };
            let volume_options = match &m.from {
                MountFrom::Volume(v) => Some(MountVolumeOptions {
                    labels: Some(hash_map(&crate::labels::ownership(
                        project,
                        "Volume",
                        Some(v),
                    ))),
                    ..Default::default()
                }),
                _ => None,
            };
            Mount {
                target: Some(m.target.clone()),
                source,
                typ: Some(typ),
                read_only: Some(m.read_only),
                volume_options,
                ..Default::default()
            }
        })
        .collect();
    let health_check = s.healthcheck.as_ref().map(|h| HealthConfig {
        test: Some(h.test.clone()),
        interval: nanos(&h.interval),
        timeout: nanos(&h.timeout),
        retries: h.retries.map(i64::from),
        start_period: nanos(&h.start_period),
        start_interval: None,
    });
    let container = TaskSpecContainerSpec {
        image: Some(s.image.clone()),
        labels: Some(task_labels),
        command: s.entrypoint.clone(),
        args: s.command.clone(),
        hostname: s.hostname.clone(),
        env: Some(
            s.env
                .iter()
                .map(|(k, v)| format!("{k}={}", v.expose()))
                .collect(),
        ),
        dir: s.working_dir.clone(),
        user: s.user.clone(),
        read_only: s.security.read_only_root_filesystem.then_some(true),
        mounts: (!mounts.is_empty()).then_some(mounts),
        stop_signal: s.stop_signal.clone(),
        stop_grace_period: s.stop_grace_seconds.map(|g| g * 1_000_000_000),
        health_check,
        secrets: (!secrets.is_empty()).then_some(secrets),
        configs: (!configs.is_empty()).then_some(configs),
        init: s.init,
        capability_add: (!s.security.cap_add.is_empty()).then(|| s.security.cap_add.clone()),
        capability_drop: (!s.security.cap_drop.is_empty()).then(|| s.security.cap_drop.clone()),
        ..Default::default()
    };
    let limits =
        (s.memory.is_some() || s.nano_cpus.is_some() || s.pids_limit.is_some()).then_some(Limit {
            nano_cpus: s.nano_cpus,
            memory_bytes: s.memory,
            pids: s.pids_limit,
        });
    let condition = if s.kind == Kind::Job {
        // A failed Job is reported, not retried behind the plan's back.
        TaskSpecRestartPolicyConditionEnum::NONE
    } else {
        match s.restart {
            Some(RestartPolicy::No) => TaskSpecRestartPolicyConditionEnum::NONE,
            Some(RestartPolicy::OnFailure) => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
            _ => TaskSpecRestartPolicyConditionEnum::ANY,
        }
    };
    let placement = &s.placement;
    let platforms: Vec<Platform> = placement
        .platforms
        .iter()
        .map(|p| {
            let mut parts = p.splitn(2, '/');
            Platform {
                os: parts.next().map(str::to_string),
                architecture: parts.next().map(str::to_string),
            }
        })
        .collect();
    let task = TaskSpec {
        container_spec: Some(container),
        resources: limits.map(|l| TaskSpecResources {
            limits: Some(l),
            ..Default::default()
        }),
        restart_policy: Some(TaskSpecRestartPolicy {
            condition: Some(condition),
            ..Default::default()
        }),
        placement: Some(TaskSpecPlacement {
            constraints: (!placement.constraints.is_empty()).then(|| placement.constraints.clone()),
            max_replicas: placement.max_replicas_per_node.map(|m| m as i64),
            platforms: (!platforms.is_empty()).then_some(platforms),
            ..Default::default()
        }),
        force_update,
        log_driver: s.logging.as_ref().map(|l| TaskSpecLogDriver {
            name: Some(l.driver.clone()),
            options: (!l.options.is_empty()).then(|| hash_map(&l.options)),
        }),
        networks: Some(
            s.networks
                .iter()
                .map(|n| NetworkAttachmentConfig {
                    target: Some(n.network.clone()),
                    aliases: Some(n.aliases.clone()),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    };
    let mode = if s.kind == Kind::Job {
        ServiceSpecMode {
            replicated_job: Some(ServiceSpecModeReplicatedJob {
                max_concurrent: Some(1),
                total_completions: Some(1),
            }),
            ..Default::default()
        }
    } else {
        ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(i64::from(s.replicas)),
            }),
            ..Default::default()
        }
    };
    let monitor = s.update.monitor.as_nanos() as i64;
    let (update_config, rollback_config) = if s.kind == Kind::Job {
        (None, None)
    } else {
        (
            Some(ServiceSpecUpdateConfig {
                parallelism: Some(1),
                failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
                monitor: Some(monitor),
                max_failure_ratio: Some(0.0),
                order: Some(if s.update.start_first {
                    ServiceSpecUpdateConfigOrderEnum::START_FIRST
                } else {
                    ServiceSpecUpdateConfigOrderEnum::STOP_FIRST
                }),
                ..Default::default()
            }),
            Some(ServiceSpecRollbackConfig {
                parallelism: Some(1),
                failure_action: Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE),
                monitor: Some(monitor),
                max_failure_ratio: Some(0.0),
                order: Some(if s.update.start_first {
                    ServiceSpecRollbackConfigOrderEnum::START_FIRST
                } else {
                    ServiceSpecRollbackConfigOrderEnum::STOP_FIRST
                }),
                ..Default::default()
            }),
        )
    };
    let ports: Vec<EndpointPortConfig> = s
        .ports
        .iter()
        .map(|p| EndpointPortConfig {
            protocol: Some(match p.protocol.as_str() {
                "udp" => EndpointPortConfigProtocolEnum::UDP,
                "sctp" => EndpointPortConfigProtocolEnum::SCTP,
                _ => EndpointPortConfigProtocolEnum::TCP,
            }),
            target_port: Some(i64::from(p.target)),
            published_port: (p.published != 0).then_some(i64::from(p.published)),
            publish_mode: Some(EndpointPortConfigPublishModeEnum::INGRESS),
            ..Default::default()
        })
        .collect();
    ServiceSpec {
        name: Some(s.name.clone()),
        labels: Some(hash_map(&s.labels)),
        task_template: Some(task),
        mode: Some(mode),
        update_config,
        rollback_config,
        // DNS round robin unless a port is published: a VIP needs IPVS in
        // the node's kernel, which some kernels lack (this CI's among them:
        // the VIP answered "no route to host" while the task IPs worked).
        endpoint_spec: Some(if ports.is_empty() {
            EndpointSpec {
                mode: Some(EndpointSpecModeEnum::DNSRR),
                ..Default::default()
            }
        } else {
            EndpointSpec {
                mode: Some(EndpointSpecModeEnum::VIP),
                ports: Some(ports),
            }
        }),
        ..Default::default()
    }
}

fn enum_str<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The declared fields of a stored spec, as `swarm::view::view` flattens a
/// desired one. `network_names` turns the network IDs Swarm stores back into names.
pub fn view_of(spec: &ServiceSpec, network_names: &BTreeMap<String, String>) -> View {
    let mut v = View::new();
    let mut put = |k: &str, val: String| {
        v.insert(k.to_string(), val);
    };
    let empty_task = TaskSpec::default();
    let task = spec.task_template.as_ref().unwrap_or(&empty_task);
    let empty_container = TaskSpecContainerSpec::default();
    let c = task.container_spec.as_ref().unwrap_or(&empty_container);
    if let Some(image) = &c.image {
        // The CLI pins a digest on create; the tag is what the files say.
        let tag = image.split('@').next().unwrap_or(image);
        put("image", tag.to_string());
    }
    let is_job = spec
        .mode
        .as_ref()
        .is_some_and(|m| m.replicated_job.is_some());
    if !is_job {
        let replicas = spec
            .mode
            .as_ref()
            .and_then(|m| m.replicated.as_ref())
            .and_then(|r| r.replicas)
            .map_or("(global)".to_string(), |r| r.to_string());
        put("replicas", replicas);
    }
    if let Some(e) = &c.command {
        put("entrypoint", view::list(e));
    }
    if let Some(a) = &c.args {
        put("command", view::list(a));
    }
    if let Some(u) = &c.user {
        put("user", u.clone());
    }
    if let Some(d) = &c.dir {
        put("workingDir", d.clone());
    }
    if let Some(h) = &c.hostname {
        put("hostname", h.clone());
    }
    for e in c.env.iter().flatten() {
        let (k, val) = e.split_once('=').unwrap_or((e, ""));
        put(&format!("env.{k}"), view::env_digest(val));
    }
    for n in task.networks.iter().flatten() {
        let target = n.target.clone().unwrap_or_default();
        let name = network_names.get(&target).cloned().unwrap_or(target);
        put(
            &format!("networks.{name}"),
            view::list(n.aliases.as_deref().unwrap_or_default()),
        );
    }
    for p in spec
        .endpoint_spec
        .iter()
        .flat_map(|e| e.ports.iter().flatten())
    {
        let protocol = p.protocol.as_ref().map_or("tcp".into(), enum_str);
        put(
            &format!("ports.{}/{protocol}", p.target_port.unwrap_or(0)),
            view::port(p.published_port.unwrap_or(0) as u16),
        );
    }
    for m in c.mounts.iter().flatten() {
        let from = match (m.typ, &m.source) {
            (Some(MountType::BIND), Some(p)) => MountFrom::HostPath(p.clone()),
            (_, Some(v)) if !v.is_empty() => MountFrom::Volume(v.clone()),
            _ => MountFrom::Anonymous,
        };
        put(
            &format!("mounts.{}", m.target.clone().unwrap_or_default()),
            view::mount(&from, m.read_only.unwrap_or(false)),
        );
    }
    for f in c.configs.iter().flatten() {
        let file = f.file.clone().unwrap_or_default();
        put(
            &format!("configs.{}", file.name.unwrap_or_default()),
            view::file(
                f.config_name.as_deref().unwrap_or_default(),
                file.mode.unwrap_or(0),
                file.uid.as_deref().unwrap_or_default(),
                file.gid.as_deref().unwrap_or_default(),
            ),
        );
    }
    for s in c.secrets.iter().flatten() {
        let file = s.file.clone().unwrap_or_default();
        put(
            &format!("secrets.{}", file.name.unwrap_or_default()),
            view::file(
                s.secret_name.as_deref().unwrap_or_default(),
                file.mode.unwrap_or(0),
                file.uid.as_deref().unwrap_or_default(),
                file.gid.as_deref().unwrap_or_default(),
            ),
        );
    }
    // No healthcheck: bollard reads the stored spec's `Healthcheck` under
    // the name `HealthCheck` and so never sees it (the engine accepts either
    // on input). The spec hash carries a declared change instead.
    if let Some(p) = &task.placement {
        if let Some(cs) = p.constraints.as_ref().filter(|c| !c.is_empty()) {
            put("placement.constraints", view::list(cs));
        }
        if let Some(ps) = p.platforms.as_ref().filter(|p| !p.is_empty()) {
            let ps: Vec<String> = ps
                .iter()
                .map(|p| {
                    format!(
                        "{}/{}",
                        p.os.as_deref().unwrap_or_default(),
                        p.architecture.as_deref().unwrap_or_default()
                    )
                })
                .collect();
            put("placement.platforms", view::list(&ps));
        }
        if let Some(m) = p.max_replicas.filter(|m| *m != 0) {
            put("placement.maxReplicasPerNode", m.to_string());
        }
    }
    if let Some(l) = task.resources.as_ref().and_then(|r| r.limits.as_ref()) {
        if let Some(m) = l.memory_bytes.filter(|m| *m != 0) {
            put("resources.memory", m.to_string());
        }
        if let Some(c) = l.nano_cpus.filter(|c| *c != 0) {
            put("resources.nanoCpus", c.to_string());
        }
        if let Some(p) = l.pids.filter(|p| *p != 0) {
            put("resources.pids", p.to_string());
        }
    }
    if c.read_only == Some(true) {
        put("security.readOnlyRootFilesystem", "true".into());
    }
    if let Some(a) = c.capability_add.as_ref().filter(|a| !a.is_empty()) {
        put("security.capAdd", view::list(a));
    }
    if let Some(d) = c.capability_drop.as_ref().filter(|d| !d.is_empty()) {
        put("security.capDrop", view::list(d));
    }
    if let Some(i) = c.init {
        put("init", i.to_string());
    }
    if let Some(g) = c.stop_grace_period {
        put("stopGracePeriod", g.to_string());
    }
    if let Some(sig) = &c.stop_signal {
        put("stopSignal", sig.clone());
    }
    if let Some(l) = &task.log_driver {
        put("logging.driver", l.name.clone().unwrap_or_default());
        for (k, val) in l.options.iter().flatten() {
            put(&format!("logging.options.{k}"), val.clone());
        }
    }
    if !is_job {
        let u = spec.update_config.clone().unwrap_or_default();
        let start_first = u.order == Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST);
        put("update.order", view::order(start_first).into());
        put("update.monitor", u.monitor.unwrap_or(0).to_string());
    }
    v
}

#[cfg(test)]
mod tests;
