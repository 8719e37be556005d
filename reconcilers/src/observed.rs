//! What the engine has, in lucidctl's own types. The engine module fills these;
//! nothing else sees bollard's.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Which containers are worth an inspect: every managed one, plus any with a
/// desired name (to detect unmanaged conflicts).
#[derive(Debug, Clone, Default)]
pub struct ObserveScope {
    pub container_names: BTreeSet<String>,
    /// Only this project's managed containers (the engine filters the list by
    /// its label); None: every managed container.
    pub project: Option<String>,
    /// Networks whose attached containers are read (one inspect each; a
    /// list leaves them out): those an IsolationPolicy guards, so that a
    /// container this project does not manage on one is seen and reported.
    pub member_networks: BTreeSet<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub containers: Vec<ObservedContainer>,
    pub networks: Vec<ObservedNetwork>,
    pub volumes: Vec<ObservedVolume>,
    /// Image tags present on the engine, by the reference as written (with tag).
    pub images: BTreeMap<String, ObservedImage>,
}

impl Observed {
    pub fn container(&self, name: &str) -> Option<&ObservedContainer> {
        self.containers.iter().find(|c| c.name == name)
    }

    pub fn network(&self, name: &str) -> Option<&ObservedNetwork> {
        self.networks.iter().find(|n| n.name == name)
    }

    pub fn volume(&self, name: &str) -> Option<&ObservedVolume> {
        self.volumes.iter().find(|v| v.name == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Dead,
    Removing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    None,
    Starting,
    Healthy,
    Unhealthy,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObservedContainer {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Image ID the container runs (sha256:...).
    pub image_id: String,
    /// The reference it was created from.
    pub image_ref: String,
    pub state: Option<RunState>,
    pub health: Option<Health>,
    /// Consecutive failed health checks, as Docker counts them.
    pub failing_streak: Option<i64>,
    pub exit_code: Option<i64>,
    /// Why the engine's last start of it failed (`State.Error`), if it did.
    pub start_error: Option<String>,
    pub config: ObservedConfig,
    /// Read from the container list, not inspected: labels, state, health,
    /// exit code, network names and mount targets are known; env, command,
    /// ports, aliases, resources and runtime options are not (see `crate::observe`).
    pub summary_only: bool,
}

/// The parts of `docker inspect` that a declared field can be compared with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObservedConfig {
    pub env: BTreeMap<String, String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub healthcheck_test: Option<Vec<String>>,
    pub healthcheck_interval: Option<Duration>,
    pub ports: Vec<ObservedPort>,
    /// Attached networks by name, with their aliases and static IPv4.
    pub networks: BTreeMap<String, ObservedAttachment>,
    /// Mount target to source (volume name or host path).
    pub mounts: BTreeMap<String, ObservedMount>,
    pub restart: Option<String>,
    pub memory: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub read_only_rootfs: Option<bool>,
    pub cap_drop: Vec<String>,
    pub cap_add: Vec<String>,
    pub init: Option<bool>,
    pub privileged: Option<bool>,
    pub runtime: crate::runtime_options::RuntimeOptions,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObservedPort {
    pub container_port: u16,
    pub protocol: String,
    pub host_ip: Option<String>,
    pub host_port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObservedAttachment {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    /// The ID of the network it joined (inspect only): a network removed
    /// and made again under the same name has another.
    pub network_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedMount {
    pub source: String,
    pub read_only: bool,
    /// Docker's mode string, e.g. `ro,Z`; empty for most mounts.
    pub mode: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObservedNetwork {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub driver: String,
    pub subnets: Vec<String>,
    pub internal: bool,
    /// Names of the containers attached; read only for the scope's
    /// `member_networks` (empty for the others, as Docker's list shows them).
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObservedVolume {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub driver: String,
    /// The options it was created with (`docker volume create -o`).
    pub driver_opts: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObservedImage {
    pub id: String,
    pub labels: BTreeMap<String, String>,
    pub architecture: String,
    /// `repository@sha256:...` for each registry manifest this image came
    /// from or was pushed as.
    pub repo_digests: Vec<String>,
}

impl ObservedContainer {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    pub fn is_managed(&self) -> bool {
        self.label(crate::labels::MANAGED_BY) == Some(crate::labels::MANAGED_BY_VALUE)
    }

    /// Stopped, and its last start failed because the runtime still holds a
    /// task of this container's ID (`task <id>: already exists`): left over
    /// from a daemon restart, it fails every start until the container is
    /// made anew (moby/moby#36145; found by the chaos soak).
    pub fn has_stale_task(&self) -> bool {
        let stopped = !matches!(self.state, Some(RunState::Running | RunState::Restarting));
        let short_id = self.id.get(..12).unwrap_or(&self.id);
        // Also `failed to start shim: mkdir .../moby/<id>: file exists`.
        stopped
            && !short_id.is_empty()
            && self.start_error.as_deref().is_some_and(|e| {
                e.contains(short_id) && (e.contains("already exists") || e.contains("file exists"))
            })
    }
}

pub fn is_managed(labels: &BTreeMap<String, String>) -> bool {
    labels.get(crate::labels::MANAGED_BY).map(String::as_str)
        == Some(crate::labels::MANAGED_BY_VALUE)
}
