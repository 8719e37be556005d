//! The spec hash: blake3 over a canonical, versioned view of everything that
//! changes a container at runtime. Bump `SCHEME` only on purpose: a new value
//! recreates every container of every user.

use serde::Serialize;
use std::collections::BTreeMap;

pub const SCHEME: &str = "lucid-spec-hash/v1";

/// What goes into a container's hash. `declared` is the workload spec as the
/// user wrote it, minus `dependsOn` (ordering, not runtime).
#[derive(Debug, Clone, Serialize)]
pub struct SpecHashInputs {
    pub declared: serde_json::Value,
    pub name_prefix: String,
    /// The image ID, not the tag: a rebuilt or re-pulled tag must recreate.
    pub image_id: String,
    /// ConfigFile name to content hash.
    pub config_files: BTreeMap<String, String>,
    /// SecretSet name to a hash of its values; the values themselves never leave memory.
    pub secret_sets: BTreeMap<String, String>,
}

pub fn short_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..16].to_string()
}

/// Returns the spec hash and the per-input hashes it was made from.
pub fn spec_hash(inputs: &SpecHashInputs) -> (String, BTreeMap<String, String>) {
    let mut parts = BTreeMap::new();
    let declared =
        serde_json::to_string(&(&inputs.declared, &inputs.name_prefix)).unwrap_or_default();
    parts.insert("spec".to_string(), short_hash(declared.as_bytes()));
    parts.insert("image".to_string(), short_hash(inputs.image_id.as_bytes()));
    for (name, h) in &inputs.config_files {
        parts.insert(format!("config/{name}"), h.clone());
    }
    for (name, h) in &inputs.secret_sets {
        parts.insert(format!("secret/{name}"), h.clone());
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(SCHEME.as_bytes());
    for (k, v) in &parts {
        hasher.update(k.as_bytes());
        hasher.update(b"=");
        hasher.update(v.as_bytes());
        hasher.update(b"\n");
    }
    (hasher.finalize().to_hex()[..32].to_string(), parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the scheme: if this fails, every deployed container would be recreated
    /// by the new version. Change SCHEME deliberately instead.
    #[test]
    fn golden_hash_is_stable() {
        let inputs = SpecHashInputs {
            declared: serde_json::json!({"image": "pickme/lucid-redis:latest-arm64", "env": {"REDIS_MAXMEMORY": "1gb"}}),
            name_prefix: String::new(),
            image_id: "sha256:0123".into(),
            config_files: BTreeMap::from([("redis-conf".into(), "aa".into())]),
            secret_sets: BTreeMap::from([("foundation".into(), "bb".into())]),
        };
        let (hash, parts) = spec_hash(&inputs);
        assert_eq!(hash, "6fe3e3181d9c16c976b81ab7fad36834");
        assert_eq!(
            parts.keys().collect::<Vec<_>>(),
            ["config/redis-conf", "image", "secret/foundation", "spec"]
        );
    }
}
