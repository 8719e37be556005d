//! Runtime settings (logging, ulimits, shm, hostname, hosts, DNS, tmpfs,
//! sysctls, stop signal) in the engine's shape. The same struct is rendered
//! from the spec and read back from `docker inspect`, so a diff compares like
//! with like.

use desired_state::model::WorkloadSpec;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeOptions {
    pub log_driver: Option<String>,
    pub log_options: BTreeMap<String, String>,
    /// Name to (soft, hard).
    pub ulimits: BTreeMap<String, (i64, i64)>,
    pub shm_size: Option<i64>,
    pub hostname: Option<String>,
    /// `host:address`, as Docker stores them.
    pub extra_hosts: Vec<String>,
    pub dns: Vec<String>,
    /// Target to mount options (`size=...,mode=...`).
    pub tmpfs: BTreeMap<String, String>,
    pub sysctls: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    /// `host`, or None for the container's own namespace.
    pub pid_mode: Option<String>,
    /// (host path, container path, cgroup permissions).
    pub devices: Vec<(String, String, String)>,
    /// `host`, `none` or `container:<name>`; None for the declared networks.
    /// Rendered by `render`, which knows the name prefix.
    pub network_mode: Option<String>,
    /// For `container:<name>`: that container's ID when rendered. Docker
    /// stores the ID, so a different one means the peer was recreated and
    /// this container must be recreated to join the new one.
    pub network_peer_id: Option<String>,
}

pub fn render(w: &WorkloadSpec) -> RuntimeOptions {
    let tmpfs = w
        .tmpfs
        .iter()
        .map(|t| {
            let mut opts = Vec::new();
            if let Some(s) = t.size {
                opts.push(format!("size={}", s.0));
            }
            if let Some(m) = t.mode {
                opts.push(format!("mode={:o}", m.0));
            }
            (t.target.clone(), opts.join(","))
        })
        .collect();
    RuntimeOptions {
        log_driver: w.logging.as_ref().map(|l| l.driver.clone()),
        log_options: w
            .logging
            .as_ref()
            .map(|l| l.options.clone())
            .unwrap_or_default(),
        ulimits: w
            .ulimits
            .iter()
            .map(|(k, u)| (k.clone(), (u.soft, u.hard)))
            .collect(),
        shm_size: w.shm_size.map(|s| s.0 as i64),
        hostname: w.hostname.clone(),
        extra_hosts: w
            .extra_hosts
            .iter()
            .map(|(h, a)| format!("{h}:{a}"))
            .collect(),
        dns: w.dns.iter().map(|ip| ip.to_string()).collect(),
        tmpfs,
        sysctls: w.sysctls.clone(),
        stop_signal: w.stop_signal.clone(),
        pid_mode: w.pid.map(|p| p.as_str().to_string()),
        devices: w
            .devices
            .iter()
            .map(|d| {
                let (c, p) = (d.container_path(), d.permissions());
                (d.host_path.clone(), c.to_string(), p.to_string())
            })
            .collect(),
        network_mode: None,
        network_peer_id: None,
    }
}
