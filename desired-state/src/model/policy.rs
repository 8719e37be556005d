use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Who may join a network, who may bridge it to others, and what must never
/// appear in given source paths (the Lucid build plan's TRON isolation rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IsolationPolicySpec {
    /// The isolated network.
    pub network: String,
    /// Services allowed on the network, and on no other.
    #[serde(default)]
    pub members: Vec<String>,
    /// Services allowed on the network and on others too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bridges: Vec<String>,
    /// Source-tree scans, relative to the declaring file's directory unless `--source` says otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forbidden: Vec<ForbiddenPatterns>,
    /// Source paths that must exist (e.g. the isolated payment system).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_paths: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForbiddenPatterns {
    /// Files or directories to scan, recursively.
    pub paths: Vec<String>,
    /// Case-sensitive substrings, as `grep -r` would find them.
    pub patterns: Vec<String>,
}
