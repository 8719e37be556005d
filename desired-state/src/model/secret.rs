use super::values::FileMode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A file from the state directory, mounted into services and hashed into them,
/// so a changed file recreates exactly the services that mount it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFileSpec {
    /// Path relative to the declaring file. Exactly one of `file` and `content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Mode of the file on the host; "0644" when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<FileMode>,
}

/// A named env file. Keys are generated from the OS CSPRNG or given as values.
/// The file lives in the secrets directory, never in git.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretSetSpec {
    /// The env file's name in the secrets directory, e.g. `.env.foundation`.
    pub file: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generate: Vec<GeneratedKey>,
    /// Non-generated settings written as they are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
}

impl SecretSetSpec {
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.generate
            .iter()
            .map(|g| g.key.as_str())
            .chain(self.values.keys().map(String::as_str))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeneratedKey {
    pub key: String,
    /// Random bytes before encoding.
    #[schemars(range(min = 8, max = 1024))]
    pub bytes: u32,
    #[serde(default)]
    pub encoding: Encoding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Base64,
    Base64url,
    Hex,
}
