//! Values the run loop needs that must stay out of git and argv: a webhook
//! URL with a token in it, the git webhook's shared secret. Given as
//! `secret:SECRETSET/KEY` (resolved from the SecretSet each time the desired
//! state loads, so a rotation takes effect on the next pass), `file:PATH`
//! (a regular file, read once) or `env:VAR`.

use crate::render::SecretValue;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};

/// Bound on a secret read from a file: these are tokens and URLs.
const FILE_LIMIT: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    SecretSet { set: String, key: String },
    File(PathBuf),
    Env(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretRefError {
    #[error("{given:?}: expected secret:SECRETSET/KEY, file:PATH or env:VAR")]
    Syntax { given: String },
    #[error("{source_text}: {why}")]
    Unreadable { source_text: String, why: String },
}

impl SecretSource {
    /// Whether `text` names a secret rather than being a value itself.
    pub fn is_reference(text: &str) -> bool {
        ["secret:", "file:", "env:"]
            .iter()
            .any(|p| text.starts_with(p))
    }

    /// The value now, for file: and env:; None for secret:, which needs the desired state.
    pub fn read_now(&self) -> Result<Option<SecretValue>, SecretRefError> {
        let unreadable = |why: String| SecretRefError::Unreadable {
            source_text: self.to_string(),
            why,
        };
        match self {
            SecretSource::SecretSet { .. } => Ok(None),
            SecretSource::Env(var) => std::env::var(var)
                .map(|v| Some(SecretValue::new(v.trim_end().to_string())))
                .map_err(|_| unreadable("not set".into())),
            SecretSource::File(path) => {
                let bytes = desired_state::load::read_regular(path).map_err(unreadable)?;
                if bytes.len() as u64 > FILE_LIMIT {
                    return Err(unreadable(format!("larger than {FILE_LIMIT} bytes")));
                }
                let text = String::from_utf8(bytes).map_err(|_| unreadable("not UTF-8".into()))?;
                Ok(Some(SecretValue::new(text.trim_end().to_string())))
            }
        }
    }
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::SecretSet { set, key } => write!(f, "secret:{set}/{key}"),
            SecretSource::File(p) => write!(f, "file:{}", p.display()),
            SecretSource::Env(v) => write!(f, "env:{v}"),
        }
    }
}

impl FromStr for SecretSource {
    type Err = SecretRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SecretRefError::Syntax {
            given: s.chars().take(80).collect(),
        };
        let word = |w: &str| {
            !w.is_empty()
                && w.len() <= 253
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        if let Some(rest) = s.strip_prefix("secret:") {
            let (set, key) = rest.split_once('/').ok_or_else(bad)?;
            if !word(set) || !word(key) {
                return Err(bad());
            }
            return Ok(SecretSource::SecretSet {
                set: set.into(),
                key: key.into(),
            });
        }
        if let Some(path) = s.strip_prefix("file:").filter(|p| !p.is_empty()) {
            return Ok(SecretSource::File(path.into()));
        }
        if let Some(var) = s.strip_prefix("env:").filter(|v| word(v)) {
            return Ok(SecretSource::Env(var.into()));
        }
        Err(bad())
    }
}

/// One value, filled in when it becomes known.
pub type SharedSecret = Arc<RwLock<Option<SecretValue>>>;

/// The SecretSet keys the loop's helpers wait for; the loop fills them from
/// every desired state that loads.
#[derive(Clone, Default)]
pub struct SecretWatch(Arc<Mutex<Vec<(String, String, SharedSecret)>>>);

impl SecretWatch {
    /// A handle for `source`: filled now for file: and env:, on each load for secret:.
    pub fn watch(&self, source: &SecretSource) -> Result<SharedSecret, SecretRefError> {
        let shared: SharedSecret = Arc::new(RwLock::new(source.read_now()?));
        if let SecretSource::SecretSet { set, key } = source {
            if let Ok(mut list) = self.0.lock() {
                list.push((set.clone(), key.clone(), shared.clone()));
            }
        }
        Ok(shared)
    }

    /// Fills every watched key from `secrets` (a missing key empties it, with a warning).
    pub fn update(&self, secrets: &BTreeMap<String, BTreeMap<String, SecretValue>>) {
        let Ok(list) = self.0.lock() else { return };
        for (set, key, shared) in list.iter() {
            let value = secrets.get(set).and_then(|s| s.get(key)).cloned();
            if value.is_none() {
                tracing::warn!("secret:{set}/{key}: the desired state has no such SecretSet key");
            }
            if let Ok(mut slot) = shared.write() {
                *slot = value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_spellings_parse_and_anything_else_is_refused() {
        assert_eq!(
            "secret:lucid-ops/NTFY_URL".parse::<SecretSource>(),
            Ok(SecretSource::SecretSet {
                set: "lucid-ops".into(),
                key: "NTFY_URL".into()
            })
        );
        assert_eq!(
            "file:/etc/lucid/hook".parse::<SecretSource>(),
            Ok(SecretSource::File("/etc/lucid/hook".into()))
        );
        assert_eq!(
            "env:HOOK".parse::<SecretSource>(),
            Ok(SecretSource::Env("HOOK".into()))
        );
        for bad in [
            "secret:",
            "secret:a",
            "secret:a/",
            "secret:a b/c",
            "file:",
            "env:A=B",
            "https://x",
        ] {
            assert!(bad.parse::<SecretSource>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_watched_secretset_key_follows_each_load() {
        let watch = SecretWatch::default();
        let shared = watch.watch(&"secret:ops/URL".parse().unwrap()).unwrap();
        assert!(
            shared.read().unwrap().is_none(),
            "unknown until the state loads"
        );
        let mut secrets = BTreeMap::new();
        secrets.insert(
            "ops".to_string(),
            BTreeMap::from([("URL".to_string(), SecretValue::new("https://h/1"))]),
        );
        watch.update(&secrets);
        assert_eq!(
            shared.read().unwrap().as_ref().unwrap().expose(),
            "https://h/1"
        );
        watch.update(&BTreeMap::new());
        assert!(
            shared.read().unwrap().is_none(),
            "a removed key is forgotten"
        );
    }

    #[test]
    fn a_file_secret_is_read_trimmed_and_only_from_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hook");
        std::fs::write(&path, "s3cret\n").unwrap();
        let v = SecretSource::File(path).read_now().unwrap().unwrap();
        assert_eq!(v.expose(), "s3cret");
        let err = SecretSource::File(dir.path().to_path_buf())
            .read_now()
            .unwrap_err();
        assert!(err.to_string().starts_with("file:"), "{err}");
    }
}
