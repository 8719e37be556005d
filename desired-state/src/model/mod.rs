//! The resource types. Field names are part of the file format: tooling and
//! users rely on them, so renames are breaking changes.

mod image;
mod network;
mod policy;
mod pull;
mod runtime;
mod secret;
mod values;
mod workload;

pub use image::{BuildSpec, ImageSpec};
pub use network::{NetworkSpec, VolumeSpec};
pub use policy::{ForbiddenPatterns, IsolationPolicySpec};
pub use pull::{is_digest, PullPolicy, PullSpec};
pub use runtime::{Device, Logging, PidMode, Tmpfs, Ulimit, ULIMIT_NAMES};
pub use secret::{ConfigFileSpec, Encoding, GeneratedKey, SecretSetSpec};
pub use values::{
    registry_host, split_tag, ByteSize, Cidr, DurationSpec, FileMode, ImageRef, Platform,
    DEFAULT_REGISTRY,
};
pub use workload::{
    numeric_user, Condition, Dependency, EnvFrom, Healthcheck, Mount, MountSource,
    NetworkAttachment, NetworkMode, Placement, Port, Protocol, Resources, RestartPolicy, Rollout,
    SecretFiles, Security, SelinuxLabel, WorkloadSpec,
};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const API_VERSION: &str = "lucid/v1alpha1";

/// Every kind lucidctl knows, in the order resources are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    Network,
    Volume,
    ConfigFile,
    SecretSet,
    Image,
    IsolationPolicy,
    Job,
    Service,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Network,
        Kind::Volume,
        Kind::ConfigFile,
        Kind::SecretSet,
        Kind::Image,
        Kind::IsolationPolicy,
        Kind::Job,
        Kind::Service,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Network => "Network",
            Kind::Volume => "Volume",
            Kind::ConfigFile => "ConfigFile",
            Kind::SecretSet => "SecretSet",
            Kind::Image => "Image",
            Kind::IsolationPolicy => "IsolationPolicy",
            Kind::Job => "Job",
            Kind::Service => "Service",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// DNS-label style: lowercase letters, digits and '-', at most 63 characters.
    /// Services, Networks and Volumes get exactly this name in Docker.
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// The spec of one resource, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    Network(NetworkSpec),
    Volume(VolumeSpec),
    ConfigFile(ConfigFileSpec),
    SecretSet(SecretSetSpec),
    Image(ImageSpec),
    IsolationPolicy(IsolationPolicySpec),
    Job(WorkloadSpec),
    Service(WorkloadSpec),
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Network(_) => Kind::Network,
            Spec::Volume(_) => Kind::Volume,
            Spec::ConfigFile(_) => Kind::ConfigFile,
            Spec::SecretSet(_) => Kind::SecretSet,
            Spec::Image(_) => Kind::Image,
            Spec::IsolationPolicy(_) => Kind::IsolationPolicy,
            Spec::Job(_) => Kind::Job,
            Spec::Service(_) => Kind::Service,
        }
    }

    pub fn workload(&self) -> Option<&WorkloadSpec> {
        match self {
            Spec::Job(w) | Spec::Service(w) => Some(w),
            _ => None,
        }
    }
}

impl Spec {
    /// The spec as the user would write it, for rules that walk every value.
    pub fn to_json(&self) -> serde_json::Value {
        let v = match self {
            Spec::Network(s) => serde_json::to_value(s),
            Spec::Volume(s) => serde_json::to_value(s),
            Spec::ConfigFile(s) => serde_json::to_value(s),
            Spec::SecretSet(s) => serde_json::to_value(s),
            Spec::Image(s) => serde_json::to_value(s),
            Spec::IsolationPolicy(s) => serde_json::to_value(s),
            Spec::Job(s) | Spec::Service(s) => serde_json::to_value(s),
        };
        v.unwrap_or(serde_json::Value::Null)
    }
}
