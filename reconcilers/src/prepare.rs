//! Reads what rendering needs from outside the desired state: config file
//! contents and secret values. This is file I/O, kept out of `plan`.

use crate::hash::short_hash;
use crate::render::SecretValue;
use crate::sealed::keys::BoxedIdentity;
use crate::sealed::Sealing;
use desired_state::model::{Kind, Spec};
use desired_state::DesiredState;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct ConfigContent {
    pub bytes: Vec<u8>,
    pub mode: u32,
    pub hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("ConfigFile/{name}: cannot read {path}: {cause}")]
    ConfigUnreadable {
        name: String,
        path: PathBuf,
        cause: String,
    },
    #[error("SecretSet/{name}: cannot read {path}: {cause}")]
    SecretsUnreadable {
        name: String,
        path: PathBuf,
        cause: String,
    },
    #[error("SecretSet/{name}: {0}", .source)]
    Sealed {
        name: String,
        source: crate::sealed::SealedError,
    },
    #[error("SecretSet/{name}: {plain} and its sealed copy {sealed} differ in {}\n  fix: run `lucidctl secrets seal` to seal the env file, or remove it to use the sealed copy", keys.join(", "))]
    SealedMismatch {
        name: String,
        plain: PathBuf,
        sealed: PathBuf,
        keys: Vec<String>,
    },
}

/// ConfigFile name to its content, mode and hash.
pub fn read_config_files(
    state: &DesiredState,
) -> Result<BTreeMap<String, ConfigContent>, PrepareError> {
    let mut out = BTreeMap::new();
    for r in state.of_kind(Kind::ConfigFile) {
        let Spec::ConfigFile(c) = &r.spec else {
            continue;
        };
        let bytes = match (&c.content, &c.file) {
            (Some(text), _) => text.clone().into_bytes(),
            (None, Some(file)) => {
                let path = r.origin.base_dir("/spec/file").join(file);
                std::fs::read(&path).map_err(|e| PrepareError::ConfigUnreadable {
                    name: r.name().into(),
                    path,
                    cause: e.to_string(),
                })?
            }
            (None, None) => Vec::new(),
        };
        let mode = c.mode.map(|m| m.0).unwrap_or(0o644);
        let hash = short_hash(&[bytes.as_slice(), &mode.to_be_bytes()].concat());
        out.insert(r.name().to_string(), ConfigContent { bytes, mode, hash });
    }
    Ok(out)
}

/// The default secrets directory: `environment/` beside the first state directory,
/// which for `-f configs/lucid` is `configs/environment/`, as the build plan had it.
pub fn default_secrets_dir(first_path: &Path) -> PathBuf {
    let dir = if first_path.is_dir() {
        first_path
    } else {
        first_path.parent().unwrap_or(Path::new("."))
    };
    dir.parent().unwrap_or(Path::new(".")).join("environment")
}

pub use desired_state::envfile::parse_env_file;

/// Secret values by SecretSet. A set whose generated keys are not all in its
/// env file is left out, so rendering reports it instead of guessing.
pub fn read_secrets(
    state: &DesiredState,
    secrets_dir: &Path,
    sealing: &Sealing,
) -> Result<BTreeMap<String, BTreeMap<String, SecretValue>>, PrepareError> {
    let mut out = BTreeMap::new();
    let mut identities = None;
    for r in state.of_kind(Kind::SecretSet) {
        let Spec::SecretSet(s) = &r.spec else {
            continue;
        };
        let path = secrets_dir.join(&s.file);
        let from_file = set_values(r.name(), &path, sealing, &mut identities)?;
        if s.generate
            .iter()
            .any(|g| from_file.get(&g.key).is_none_or(|v| v.is_empty()))
        {
            continue;
        }
        let mut values: BTreeMap<String, SecretValue> = from_file
            .iter()
            .filter(|(k, _)| s.generate.iter().any(|g| &g.key == *k))
            .map(|(k, v)| (k.clone(), SecretValue::new(v.clone())))
            .collect();
        for (k, v) in &s.values {
            values.insert(k.clone(), SecretValue::new(v.clone()));
        }
        out.insert(r.name().to_string(), values);
    }
    Ok(out)
}

/// One SecretSet's env file values: the plaintext file when present, else its
/// sealed copy opened in memory. With both present and an identity given, they
/// must agree. Nothing found is an empty map.
pub fn set_values(
    name: &str,
    path: &Path,
    sealing: &Sealing,
    identities: &mut Option<Vec<BoxedIdentity>>,
) -> Result<BTreeMap<String, String>, PrepareError> {
    let plain = match std::fs::read_to_string(path) {
        Ok(text) => Some(parse_env_file(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(PrepareError::SecretsUnreadable {
                name: name.into(),
                path: path.to_path_buf(),
                cause: e.to_string(),
            })
        }
    };
    // Without an identity a present plaintext file is used as is; the sealed
    // copy is checked wherever an identity is given (`secrets check`).
    if plain.is_some() && sealing.identity.is_none() {
        return Ok(plain.unwrap_or_default());
    }
    let sealed = sealing
        .open(name, identities)
        .map_err(|source| PrepareError::Sealed {
            name: name.into(),
            source,
        })?
        .map(|text| parse_env_file(&text));
    match (plain, sealed) {
        (Some(p), Some(s)) => {
            let keys = crate::sealed::differing_keys(&p, &s);
            if keys.is_empty() {
                Ok(p)
            } else {
                Err(PrepareError::SealedMismatch {
                    name: name.into(),
                    plain: path.to_path_buf(),
                    sealed: sealing.path_of(name),
                    keys,
                })
            }
        }
        (Some(v), None) | (None, Some(v)) => Ok(v),
        (None, None) => Ok(BTreeMap::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_dir_sits_beside_the_state() {
        assert_eq!(
            default_secrets_dir(Path::new("/nonexistent/configs/lucid.yaml")),
            PathBuf::from("/nonexistent/environment")
        );
    }
}
