//! bollard's models into lucidctl's. Every field is optional on the wire
//! (engines from API 1.41 to 1.52 differ), so absence is never an error.

use crate::observed::*;
use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary,
    ContainerSummaryStateEnum, HealthStatusEnum, MountPoint, Network, Volume,
};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

fn labels(l: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    l.unwrap_or_default().into_iter().collect()
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.is_empty())
}

pub(super) fn container(c: ContainerInspectResponse) -> ObservedContainer {
    let config = c.config.unwrap_or_default();
    let host = c.host_config.unwrap_or_default();
    let state = c.state.unwrap_or_default();
    let runtime = super::runtime::observe(&config, &host);
    let env = config
        .env
        .unwrap_or_default()
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let health = config.healthcheck.unwrap_or_default();
    let mut ports = Vec::new();
    for (key, bindings) in host.port_bindings.unwrap_or_default() {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(container_port) = port.parse::<u16>() else {
            continue;
        };
        for b in bindings.unwrap_or_default() {
            ports.push(ObservedPort {
                container_port,
                protocol: proto.to_string(),
                host_ip: non_empty(b.host_ip),
                // An empty HostPort asked for any free port: declared as 0.
                host_port: b.host_port.and_then(|p| match p.as_str() {
                    "" => Some(0),
                    p => p.parse().ok(),
                }),
            });
        }
    }
    ports.sort();
    let networks = c
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, ep)| {
            let ip = ep.ipam_config.and_then(|i| non_empty(i.ipv4_address));
            (
                name,
                ObservedAttachment {
                    aliases: ep.aliases.unwrap_or_default(),
                    ipv4_address: ip,
                    network_id: non_empty(ep.network_id),
                },
            )
        })
        .collect();
    let mounts = mounts(c.mounts);
    ObservedContainer {
        id: c.id.unwrap_or_default(),
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        labels: labels(config.labels),
        image_id: c.image.unwrap_or_default(),
        image_ref: config.image.unwrap_or_default(),
        state: state.status.map(run_state),
        failing_streak: state.health.as_ref().and_then(|h| h.failing_streak),
        health: state.health.and_then(|h| h.status).map(|s| match s {
            HealthStatusEnum::STARTING => Health::Starting,
            HealthStatusEnum::HEALTHY => Health::Healthy,
            HealthStatusEnum::UNHEALTHY => Health::Unhealthy,
            _ => Health::None,
        }),
        exit_code: state.exit_code,
        start_error: state.error.filter(|e| !e.is_empty()),
        summary_only: false,
        config: ObservedConfig {
            env,
            cmd: config.cmd,
            entrypoint: config.entrypoint,
            user: non_empty(config.user),
            working_dir: non_empty(config.working_dir),
            healthcheck_test: health.test,
            healthcheck_interval: health
                .interval
                .filter(|i| *i > 0)
                .map(|i| Duration::from_nanos(i as u64)),
            ports,
            networks,
            mounts,
            restart: host
                .restart_policy
                .and_then(|r| r.name)
                .map(|n| n.to_string())
                .filter(|n| !n.is_empty()),
            memory: host.memory.filter(|m| *m > 0),
            nano_cpus: host.nano_cpus.filter(|c| *c > 0),
            read_only_rootfs: host.readonly_rootfs,
            cap_drop: host.cap_drop.unwrap_or_default(),
            cap_add: host.cap_add.unwrap_or_default(),
            init: host.init,
            privileged: host.privileged,
            runtime,
        },
    }
}

fn mounts(list: Option<Vec<MountPoint>>) -> BTreeMap<String, ObservedMount> {
    list.unwrap_or_default()
        .into_iter()
        .filter_map(|m| {
            let source = if m.typ.as_deref() == Some("volume") {
                m.name
            } else {
                m.source
            };
            Some((
                m.destination?,
                ObservedMount {
                    source: source.unwrap_or_default(),
                    read_only: !m.rw.unwrap_or(true),
                    mode: m.mode.unwrap_or_default(),
                },
            ))
        })
        .collect()
}

/// A container as the list shows it (`summary_only`): what the list-first
/// observation proves convergence from, without an inspect per container.
pub(super) fn container_summary(c: ContainerSummary) -> ObservedContainer {
    let status = c.status.unwrap_or_default();
    let state = c.state.and_then(|s| match s {
        ContainerSummaryStateEnum::CREATED => Some(RunState::Created),
        ContainerSummaryStateEnum::RUNNING => Some(RunState::Running),
        ContainerSummaryStateEnum::PAUSED => Some(RunState::Paused),
        ContainerSummaryStateEnum::RESTARTING => Some(RunState::Restarting),
        ContainerSummaryStateEnum::EXITED => Some(RunState::Exited),
        ContainerSummaryStateEnum::REMOVING => Some(RunState::Removing),
        ContainerSummaryStateEnum::DEAD => Some(RunState::Dead),
        // Unknown to this version: not a state to prove anything from.
        _ => None,
    });
    let networks = c
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default()
        .into_keys()
        .map(|name| (name, ObservedAttachment::default()))
        .collect();
    ObservedContainer {
        id: c.id.unwrap_or_default(),
        name: c
            .names
            .unwrap_or_default()
            .first()
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        labels: labels(c.labels),
        image_id: c.image_id.unwrap_or_default(),
        image_ref: c.image.unwrap_or_default(),
        state,
        // API 1.41 lists health only inside the status text.
        // As an inspect shows it: no health at all without a health check.
        health: Some(health_from_status(&status)).filter(|h| *h != Health::None),
        failing_streak: None,
        exit_code: if state == Some(RunState::Exited) {
            exit_code_from_status(&status)
        } else {
            None
        },
        start_error: None,
        summary_only: true,
        config: ObservedConfig {
            networks,
            mounts: mounts(c.mounts),
            ..ObservedConfig::default()
        },
    }
}

/// `Up 3 minutes (healthy)`, `Up 2 seconds (health: starting)`, `Up 1 hour (unhealthy)`.
pub(crate) fn health_from_status(status: &str) -> Health {
    if status.ends_with("(healthy)") {
        Health::Healthy
    } else if status.ends_with("(unhealthy)") {
        Health::Unhealthy
    } else if status.ends_with("(health: starting)") {
        Health::Starting
    } else {
        Health::None
    }
}

/// `Exited (137) 5 seconds ago` gives 137.
pub(crate) fn exit_code_from_status(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest.split_once(')')?.0.parse().ok()
}

fn run_state(s: ContainerStateStatusEnum) -> RunState {
    match s {
        ContainerStateStatusEnum::CREATED => RunState::Created,
        ContainerStateStatusEnum::RUNNING => RunState::Running,
        ContainerStateStatusEnum::PAUSED => RunState::Paused,
        ContainerStateStatusEnum::RESTARTING => RunState::Restarting,
        ContainerStateStatusEnum::REMOVING => RunState::Removing,
        ContainerStateStatusEnum::DEAD => RunState::Dead,
        _ => RunState::Exited,
    }
}

pub(super) fn network(n: Network) -> ObservedNetwork {
    ObservedNetwork {
        id: n.id.unwrap_or_default(),
        name: n.name.unwrap_or_default(),
        labels: labels(n.labels),
        driver: n.driver.unwrap_or_default(),
        subnets: n
            .ipam
            .and_then(|i| i.config)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c.subnet)
            .collect(),
        internal: n.internal.unwrap_or(false),
        containers: Vec::new(),
    }
}

pub(super) fn volume(v: Volume) -> ObservedVolume {
    ObservedVolume {
        name: v.name,
        labels: v.labels.into_iter().collect(),
        driver: v.driver,
        driver_opts: v.options.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_status_text_gives_health_and_exit_code() {
        assert_eq!(
            health_from_status("Up 3 minutes (healthy)"),
            Health::Healthy
        );
        assert_eq!(
            health_from_status("Up 1 hour (unhealthy)"),
            Health::Unhealthy
        );
        assert_eq!(
            health_from_status("Up 2 seconds (health: starting)"),
            Health::Starting
        );
        assert_eq!(health_from_status("Up 5 minutes"), Health::None);
        assert_eq!(health_from_status(""), Health::None);
        assert_eq!(exit_code_from_status("Exited (0) 5 seconds ago"), Some(0));
        assert_eq!(exit_code_from_status("Exited (137) 1 hour ago"), Some(137));
        assert_eq!(exit_code_from_status("Up 5 minutes"), None);
        assert_eq!(exit_code_from_status("Exited (x) now"), None);
    }
}
