//! Runtime settings to and from bollard's create body and inspect response.

use crate::runtime_options::RuntimeOptions;
use bollard::models::{
    ContainerConfig, DeviceMapping, HostConfig, HostConfigLogConfig, ResourcesUlimits,
};
use std::collections::HashMap;

/// Fills the create body's host config with the declared settings; unset
/// ones stay None so the daemon's defaults apply.
pub(super) fn fill_host_config(h: &mut HostConfig, r: &RuntimeOptions) {
    h.log_config = r.log_driver.as_ref().map(|d| HostConfigLogConfig {
        typ: Some(d.clone()),
        config: Some(r.log_options.clone().into_iter().collect()),
    });
    h.ulimits = (!r.ulimits.is_empty()).then(|| {
        r.ulimits
            .iter()
            .map(|(name, (soft, hard))| ResourcesUlimits {
                name: Some(name.clone()),
                soft: Some(*soft),
                hard: Some(*hard),
            })
            .collect()
    });
    h.shm_size = r.shm_size;
    h.extra_hosts = (!r.extra_hosts.is_empty()).then(|| r.extra_hosts.clone());
    h.dns = (!r.dns.is_empty()).then(|| r.dns.clone());
    h.tmpfs = (!r.tmpfs.is_empty()).then(|| r.tmpfs.clone().into_iter().collect());
    h.sysctls = (!r.sysctls.is_empty()).then(|| r.sysctls.clone().into_iter().collect());
    h.pid_mode = r.pid_mode.clone();
    if let Some(mode) = &r.network_mode {
        h.network_mode = Some(mode.clone());
    }
    h.devices = (!r.devices.is_empty()).then(|| {
        r.devices
            .iter()
            .map(|(host, container, perms)| DeviceMapping {
                path_on_host: Some(host.clone()),
                path_in_container: Some(container.clone()),
                cgroup_permissions: Some(perms.clone()),
            })
            .collect()
    });
}

fn sorted(m: Option<HashMap<String, String>>) -> std::collections::BTreeMap<String, String> {
    m.unwrap_or_default().into_iter().collect()
}

pub(super) fn observe(config: &ContainerConfig, host: &HostConfig) -> RuntimeOptions {
    let log = host.log_config.clone().unwrap_or_default();
    RuntimeOptions {
        log_driver: log.typ.filter(|t| !t.is_empty()),
        log_options: sorted(log.config),
        ulimits: host
            .ulimits
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|u| Some((u.name?, (u.soft.unwrap_or(0), u.hard.unwrap_or(0)))))
            .collect(),
        shm_size: host.shm_size.filter(|s| *s > 0),
        hostname: config.hostname.clone().filter(|h| !h.is_empty()),
        extra_hosts: host.extra_hosts.clone().unwrap_or_default(),
        dns: host.dns.clone().unwrap_or_default(),
        tmpfs: sorted(host.tmpfs.clone()),
        sysctls: sorted(host.sysctls.clone()),
        stop_signal: config.stop_signal.clone().filter(|s| !s.is_empty()),
        pid_mode: host.pid_mode.clone().filter(|p| !p.is_empty()),
        network_mode: host.network_mode.clone().filter(|m| !m.is_empty()),
        network_peer_id: None,
        devices: host
            .devices
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|d| {
                let on_host = d.path_on_host.unwrap_or_default();
                let inside = d.path_in_container.unwrap_or_else(|| on_host.clone());
                (on_host, inside, d.cgroup_permissions.unwrap_or_default())
            })
            .collect(),
    }
}
