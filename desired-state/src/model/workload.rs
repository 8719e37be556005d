//! Services and Jobs share one spec: a Job is a container that runs to
//! completion once per spec hash instead of staying up.

use super::runtime::{Device, Logging, PidMode, Tmpfs, Ulimit};
use super::values::{ByteSize, DurationSpec, ImageRef};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Image reference. If an Image resource has this `ref`, it is built or pulled first.
    pub image: ImageRef,
    /// Replaces the image's CMD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Replaces the image's ENTRYPOINT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// SecretSets whose keys become environment variables. Values are never printed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFrom>,
    /// SecretSets given as files instead of env: each key becomes a file
    /// (mode 0400, owned by `user` when it is numeric) in a host directory
    /// bind-mounted read-only at `target`, so values stay out of `docker inspect`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_files: Vec<SecretFiles>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkAttachment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Dependency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Run an init process as PID 1 that forwards signals and reaps zombies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// How long a stop waits before SIGKILL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<DurationSpec>,
    /// How a Service is replaced when its spec changes. `auto` (the default)
    /// starts the new container beside the old one whenever it can (no
    /// published host port, no static IP), else stops the old one first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// Jobs run (to completion) before this Service is recreated, e.g. a
    /// backup of a store; if one fails, the recreate does not happen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before_recreate: Vec<String>,
    /// When the image is fetched again (default: only when missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull: Option<super::PullSpec>,
    /// Log driver and options; the daemon's default when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// Resource limits by name (`nofile`, `nproc`, `memlock`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    /// Size of `/dev/shm` (Docker's default is 64Mi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<ByteSize>,
    /// The container's hostname (default: its short ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Extra `/etc/hosts` entries: host name to an IP address, or to
    /// `host-gateway` for the Docker host itself.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_hosts: BTreeMap<String, String>,
    /// DNS servers instead of the host's (not used for names on the container's networks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<IpAddr>,
    /// Memory-backed scratch directories, empty at every start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<Tmpfs>,
    /// Namespaced kernel parameters, e.g. `net.core.somaxconn: "1024"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// The signal a stop sends first (default: the image's STOPSIGNAL, else SIGTERM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// `host` shares the host's process namespace (validate warns: it weakens isolation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<PidMode>,
    /// Host devices given to the container (serial ports, GPUs, GPIO).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
    /// Instead of `networks`: `host` (the host's network stack), `none` (no
    /// network) or `service:NAME` (NAME's network stack; list NAME in
    /// `dependsOn`; when NAME is recreated, this one is recreated to rejoin it).
    /// Published ports, and for `service:` hostname, dns and extraHosts, do
    /// not apply. Replacing such a container is always stop-first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// With `--target swarm`: how many tasks of a Service run (default 1).
    /// The local engine runs one container and ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub replicas: Option<u32>,
    /// With `--target swarm`: which nodes may run the tasks. Needed for a
    /// Service that mounts a named volume or binds a host path, since those
    /// stay on one node. The local engine ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
}

/// Swarm placement (compose's `deploy.placement`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Placement {
    /// Swarm constraint expressions, e.g. `node.labels.storage == ssd` or
    /// `node.hostname == pi-1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    /// `os/arch` pairs the image runs on, e.g. `linux/arm64`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
    /// At most this many tasks of the Service on one node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas_per_node: Option<u64>,
}

impl Placement {
    /// Pins the tasks to a node: by hostname, node ID or a node label.
    pub fn pins_a_node(&self) -> bool {
        self.constraints.iter().any(|c| {
            let c = c.replace(' ', "");
            ["node.hostname==", "node.id==", "node.labels."]
                .iter()
                .any(|p| c.starts_with(p) && (!p.ends_with('.') || c.contains("==")))
        })
    }
}

/// The parsed `networkMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode<'a> {
    Host,
    None,
    Service(&'a str),
}

impl WorkloadSpec {
    /// `networkMode` parsed; None when left out or not one of the forms (a validation error).
    pub fn network_mode(&self) -> Option<NetworkMode<'_>> {
        match self.network_mode.as_deref()? {
            "host" => Some(NetworkMode::Host),
            "none" => Some(NetworkMode::None),
            other => other
                .strip_prefix("service:")
                .filter(|n| !n.is_empty())
                .map(NetworkMode::Service),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Rollout {
    /// Start-first when the topology allows it, else stop-first.
    #[default]
    Auto,
    /// Start the new container beside the old one under a temporary name,
    /// with the service's name as a network alias; replace the old one only
    /// once the new one is ready. Impossible with host ports or static IPs.
    StartFirst,
    /// Stop the old container, keep it parked as `<name>.prev` until the new
    /// one is ready, and put it back otherwise.
    StopFirst,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvFrom {
    pub secret_set: String,
}

/// `uid` or `uid:gid` as numbers; a missing gid is 0, as Docker does for a
/// uid the image does not know.
pub fn numeric_user(user: &str) -> Option<(u32, u32)> {
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid = uid.parse().ok()?;
    let gid = match gid {
        Some(g) => g.parse().ok()?,
        None => 0,
    };
    Some((uid, gid))
}

/// One SecretSet mounted as a directory of files, one per key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretFiles {
    pub secret_set: String,
    /// Absolute directory in the container, e.g. `/run/secrets`; the file
    /// `<target>/<KEY>` holds the key's value.
    pub target: String,
    /// Only these keys become files (least privilege: a service reads the
    /// secrets it needs, not the whole set); every key when left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
}

impl SecretFiles {
    /// Whether the key `key` of the set becomes a file.
    pub fn takes(&self, key: &str) -> bool {
        self.keys.is_empty() || self.keys.iter().any(|k| k == key)
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Port {
    #[schemars(range(min = 1))]
    pub container_port: u16,
    /// Publish on the host. Leave out to keep the port internal to the
    /// networks; `0` publishes on a free port Docker picks at each start
    /// (`docker port` shows it), as compose does for a bare container port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    /// Host address to bind; all addresses when left out.
    #[serde(default, rename = "hostIP", skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<IpAddr>,
    #[serde(default)]
    pub protocol: Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkAttachment {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<Ipv4Addr>,
}

/// Exactly one of `volume`, `configFile`, `bind` or `anonymous` names the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_file: Option<String>,
    /// An absolute path on the Docker host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    pub target: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// A fresh unnamed volume (compose's `- /path`). A recreated container
    /// gets a new, empty one; the old one is kept (lucidctl never removes a
    /// volume unasked) for `docker volume prune`. Declare a Volume for data
    /// worth keeping.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
    /// SELinux relabeling of a `bind` source (compose's `:z` and `:Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux: Option<SelinuxLabel>,
}

/// How Docker relabels a bind source for SELinux (a no-op where SELinux is off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SelinuxLabel {
    /// `:z`: every container may use the content.
    Shared,
    /// `:Z`: only this container may use it.
    Private,
}

impl SelinuxLabel {
    /// The bind option Docker reads: `z` or `Z`.
    pub fn option(self) -> &'static str {
        match self {
            SelinuxLabel::Shared => "z",
            SelinuxLabel::Private => "Z",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountSource<'a> {
    Volume(&'a str),
    ConfigFile(&'a str),
    Bind(&'a str),
    Anonymous,
}

impl Mount {
    /// The declared source, or None when not exactly one is set (a validation error).
    pub fn source(&self) -> Option<MountSource<'_>> {
        match (&self.volume, &self.config_file, &self.bind, self.anonymous) {
            (Some(v), None, None, false) => Some(MountSource::Volume(v)),
            (None, Some(c), None, false) => Some(MountSource::ConfigFile(c)),
            (None, None, Some(b), false) => Some(MountSource::Bind(b)),
            (None, None, None, true) => Some(MountSource::Anonymous),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Healthcheck {
    /// `["CMD", exe, args...]`, `["CMD-SHELL", "command"]` or `["NONE"]`.
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<DurationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<DurationSpec>,
    /// How often Docker checks during the start period (engine API 1.44 and
    /// newer; older engines ignore it). lucidctl probes faster by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<DurationSpec>,
    /// `lucidctl run` restarts a Service that has stayed unhealthy this long
    /// (Docker never restarts an unhealthy container), through the same
    /// crash-loop backoff as any restart. Left out: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_after: Option<DurationSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    /// The container is running.
    #[default]
    Started,
    /// Docker reports the container healthy.
    Healthy,
    /// The Job exited 0.
    Completed,
}

impl Condition {
    /// As written in the files: `started`, `healthy`, `completed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "started",
            Condition::Healthy => "healthy",
            Condition::Completed => "completed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dependency {
    /// A Service or Job.
    pub name: String,
    #[serde(default)]
    pub condition: Condition,
    /// Restart this workload once the dependency was recreated and is ready
    /// again (compose's `depends_on.restart`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restart: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    No,
    Always,
    UnlessStopped,
    OnFailure,
}

impl RestartPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
            RestartPolicy::OnFailure => "on-failure",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Security {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only_root_filesystem: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_new_privileges: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
}
