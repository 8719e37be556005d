//! Container runtime settings that compose users expect one to one:
//! logging, kernel limits, name resolution and scratch filesystems.

use super::values::{ByteSize, FileMode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the container's stdout and stderr go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Logging {
    /// A Docker log driver, e.g. `json-file`, `local`, `journald`, `none`.
    pub driver: String,
    /// Driver options; for `json-file` and `local`, `max-size` (e.g. `10m`)
    /// and `max-file` rotate the log so it cannot fill the disk.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// A resource limit (`ulimit -n` and friends); -1 is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ulimit {
    pub soft: i64,
    pub hard: i64,
}

/// The ulimit names Docker accepts.
pub const ULIMIT_NAMES: [&str; 15] = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// A host device made available in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Device {
    /// The device on the Docker host, e.g. `/dev/ttyUSB0`.
    pub host_path: String,
    /// Where it appears in the container (default: the same path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_path: Option<String>,
    /// cgroup access: any of `r` (read), `w` (write), `m` (mknod); default `rwm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
}

impl Device {
    pub fn container_path(&self) -> &str {
        self.container_path.as_deref().unwrap_or(&self.host_path)
    }

    pub fn permissions(&self) -> &str {
        self.permissions.as_deref().unwrap_or("rwm")
    }
}

/// Which process namespace the container uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PidMode {
    /// The host's: the container sees, and as root can signal, every host process.
    Host,
}

impl PidMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PidMode::Host => "host",
        }
    }
}

/// A memory-backed filesystem at `target`, empty at every start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tmpfs {
    /// Absolute path in the container.
    pub target: String,
    /// Largest size; the kernel's default (half the memory) when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<ByteSize>,
    /// Mode of the mount point, e.g. `"1777"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<FileMode>,
}
