//! What lucidctl asks a Swarm for and what it observes there, in its own
//! types: the engine module converts to and from bollard's.

use crate::render::{EnvValue, MountFrom};
use desired_state::model::{Healthcheck, Kind, Placement, RestartPolicy, Security};
use std::collections::BTreeMap;
use std::time::Duration;

/// Label on a failed-rollout marker (a small swarm config, `kind` label
/// `FailedRollout`): the spec hash Swarm rolled back, held from then on.
/// A marker, not a label on the service: updating a service's labels means
/// sending its whole spec back, and the engine client cannot read every
/// field of it (the healthcheck), so that would change the service.
pub const FAILED_HASH: &str = "io.lucidctl.failed-spec-hash";
pub const FAILED_KIND: &str = "FailedRollout";
/// Label on a task's container: the spec hash it runs, so readiness counts
/// only tasks of the current revision.
pub const TASK_HASH: &str = "io.lucidctl.swarm-spec-hash";
/// Label on a config or secret: the content hash in its name.
pub const CONTENT_HASH: &str = "io.lucidctl.content-hash";

/// A Service (replicated) or Job (replicated-job) as lucidctl creates it.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmService {
    pub kind: Kind,
    /// metadata.name
    pub resource: String,
    /// The swarm service name (prefixed).
    pub name: String,
    pub image: String,
    pub entrypoint: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    pub env: BTreeMap<String, EnvValue>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    /// Services: tasks to run (default 1). Jobs: always 1 completion.
    pub replicas: u32,
    pub placement: Placement,
    pub networks: Vec<SwarmAttachment>,
    pub ports: Vec<SwarmPort>,
    pub mounts: Vec<SwarmMount>,
    /// Swarm configs and secrets given as files.
    pub files: Vec<SwarmFile>,
    pub healthcheck: Option<Healthcheck>,
    pub restart: Option<RestartPolicy>,
    pub memory: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub pids_limit: Option<i64>,
    pub security: Security,
    pub init: Option<bool>,
    pub stop_grace_seconds: Option<i64>,
    pub stop_signal: Option<String>,
    pub hostname: Option<String>,
    pub logging: Option<desired_state::model::Logging>,
    pub update: UpdatePolicy,
    /// The service's labels: ownership, spec hash.
    pub labels: BTreeMap<String, String>,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SwarmAttachment {
    pub network: String,
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SwarmPort {
    pub target: u16,
    /// Published on every node (ingress); 0: a free port Swarm picks.
    pub published: u16,
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SwarmMount {
    pub target: String,
    pub from: MountFrom,
    pub read_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    Config,
    Secret,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Config => "config",
            FileKind::Secret => "secret",
        }
    }
}

/// A swarm config or secret mounted as a file in the task.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmFile {
    pub kind: FileKind,
    /// The swarm object's name, `<name>-<content hash>`.
    pub object: String,
    /// The ConfigFile or SecretSet it comes from.
    pub source: String,
    pub target: String,
    pub mode: u32,
    pub uid: String,
    pub gid: String,
}

/// `update_config` and `rollback_config`, from the Service's rollout settings.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePolicy {
    pub start_first: bool,
    /// How long Swarm watches a new task before counting the update a success:
    /// at least healthcheck interval x retries.
    pub monitor: Duration,
}

/// A swarm config or secret lucidctl creates: content-addressed by name.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmData {
    pub kind: FileKind,
    /// `<ConfigFile or SecretSet/KEY>` for messages.
    pub what: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Never printed: a secret's value.
    pub bytes: Vec<u8>,
}

/// An overlay network lucidctl creates.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmNetwork {
    pub resource: String,
    pub name: String,
    pub internal: bool,
    pub encrypted: bool,
    pub subnet: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub hash: String,
    /// Declared external: used as is, never created or removed.
    pub external: bool,
}

/// Everything the files ask of the swarm.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SwarmDesired {
    pub networks: Vec<SwarmNetwork>,
    pub data: Vec<SwarmData>,
    pub services: Vec<SwarmService>,
}

/// A swarm object by name, with its labels.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SwarmObject {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// One task of a service, as far as readiness needs it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObservedTask {
    /// `running`, `shutdown`, `complete` ...
    pub desired_state: String,
    /// `new` ... `starting`, `running`, `complete`, `failed`, `rejected` ...
    pub state: String,
    /// The spec hash its container carries.
    pub hash: Option<String>,
    pub message: String,
    pub error: Option<String>,
    pub exit_code: Option<i64>,
}

/// A swarm service as observed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObservedService {
    pub id: String,
    pub name: String,
    pub version: u64,
    pub labels: BTreeMap<String, String>,
    /// Its declared fields flattened (`swarm::view`), comparable with a desired one's.
    pub view: BTreeMap<String, String>,
    pub is_job: bool,
    /// Network names its tasks join.
    pub networks: Vec<String>,
    /// `updating`, `completed`, `paused`, `rollback_started`, `rollback_completed`, ...
    pub update_state: Option<String>,
    pub update_message: Option<String>,
    pub tasks: Vec<ObservedTask>,
}

impl ObservedService {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// Tasks meant to run the revision with `hash`.
    pub fn current_tasks<'a>(&'a self, hash: &'a str) -> impl Iterator<Item = &'a ObservedTask> {
        self.tasks
            .iter()
            .filter(move |t| t.hash.as_deref() == Some(hash))
    }
}

/// What the swarm has of interest to lucidctl.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedSwarm {
    pub services: Vec<ObservedService>,
    pub networks: Vec<crate::observed::ObservedNetwork>,
    pub configs: Vec<SwarmObject>,
    pub secrets: Vec<SwarmObject>,
    /// Image tags present on the manager, for the image IDs in the spec hash.
    pub images: BTreeMap<String, crate::observed::ObservedImage>,
}

impl ObservedSwarm {
    pub fn service(&self, name: &str) -> Option<&ObservedService> {
        self.services.iter().find(|s| s.name == name)
    }

    pub fn network(&self, name: &str) -> Option<&crate::observed::ObservedNetwork> {
        self.networks.iter().find(|n| n.name == name)
    }

    pub fn data(&self, kind: FileKind) -> &[SwarmObject] {
        match kind {
            FileKind::Config => &self.configs,
            FileKind::Secret => &self.secrets,
        }
    }
}

/// A swarm node, for `doctor --target swarm`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SwarmNode {
    pub id: String,
    pub hostname: String,
    pub role: String,
    pub state: String,
    pub availability: String,
    pub os: String,
    pub architecture: String,
    pub labels: BTreeMap<String, String>,
}
