//! What `lucidctl secrets seal`, `reseal` and `generate` do with sealed copies.

use super::keys::{self, BoxedRecipient};
use super::{write_sealed, SealedError, Sealing};
use desired_state::envfile::parse_env_file;
use desired_state::model::{Kind, Spec};
use desired_state::DesiredState;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("SecretSet/{name}: {0}", .source)]
    Sealed { name: String, source: SealedError },
    #[error(transparent)]
    Recipients(#[from] SealedError),
    #[error("SecretSet/{name}: {path} is missing, so there is nothing to seal\n  fix: run `lucidctl secrets generate` first")]
    NoPlaintext { name: String, path: PathBuf },
    #[error("SecretSet/{name}: cannot read {path}: {cause}")]
    Read {
        name: String,
        path: PathBuf,
        cause: String,
    },
}

/// The recipients to seal for: the given ones, else the recipients file's.
pub fn recipients(
    sealing: &Sealing,
    given: &[String],
) -> Result<(Vec<String>, Vec<BoxedRecipient>), SealedError> {
    let list = if given.is_empty() {
        keys::read_recipients_file(&sealing.dir)?.unwrap_or_default()
    } else {
        given.to_vec()
    };
    if list.is_empty() {
        return Err(SealedError::NoRecipients {
            dir: sealing.dir.clone(),
        });
    }
    let origin = if given.is_empty() {
        sealing
            .dir
            .join(keys::RECIPIENTS_FILE)
            .display()
            .to_string()
    } else {
        "--recipient".to_string()
    };
    let parsed = keys::parse_all(&list, &origin)?;
    Ok((list, parsed))
}

fn record_recipients(sealing: &Sealing, list: &[String]) -> Result<(), SealedError> {
    let path = sealing.dir.join(keys::RECIPIENTS_FILE);
    crate::hostfiles::write_local(&path, keys::recipients_file_text(list).as_bytes(), 0o644)?;
    Ok(())
}

fn plaintext(name: &str, path: &Path) -> Result<Option<String>, SealError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SealError::Read {
            name: name.into(),
            path: path.to_path_buf(),
            cause: e.to_string(),
        }),
    }
}

fn env_files(state: &DesiredState, secrets_dir: &Path) -> Vec<(String, PathBuf)> {
    state
        .of_kind(Kind::SecretSet)
        .filter_map(|r| match &r.spec {
            Spec::SecretSet(s) => Some((r.name().to_string(), secrets_dir.join(&s.file))),
            _ => None,
        })
        .collect()
}

/// Seals every SecretSet's env file (all must exist). Given recipients are
/// recorded in the recipients file. Returns the sealed files written.
pub fn seal_all(
    state: &DesiredState,
    secrets_dir: &Path,
    sealing: &Sealing,
    given: &[String],
) -> Result<Vec<PathBuf>, SealError> {
    let (list, parsed) = recipients(sealing, given)?;
    let mut texts = Vec::new();
    for (name, path) in env_files(state, secrets_dir) {
        let text = plaintext(&name, &path)?.ok_or_else(|| SealError::NoPlaintext {
            name: name.clone(),
            path: path.clone(),
        })?;
        texts.push((name, text));
    }
    write_all(sealing, &texts, &list, &parsed)
}

/// Seals again for a new set of recipients: from the env file where present,
/// else from the old sealed copy (which needs an identity).
pub fn reseal_all(
    state: &DesiredState,
    secrets_dir: &Path,
    sealing: &Sealing,
    given: &[String],
) -> Result<Vec<PathBuf>, SealError> {
    let (list, parsed) = recipients(sealing, given)?;
    let mut texts = Vec::new();
    let mut identities = None;
    for (name, path) in env_files(state, secrets_dir) {
        let text = match plaintext(&name, &path)? {
            Some(t) => Some(t),
            None => sealing
                .open(&name, &mut identities)
                .map_err(|source| SealError::Sealed {
                    name: name.clone(),
                    source,
                })?,
        };
        if let Some(text) = text {
            texts.push((name, text));
        }
    }
    write_all(sealing, &texts, &list, &parsed)
}

fn write_all(
    sealing: &Sealing,
    texts: &[(String, String)],
    list: &[String],
    parsed: &[BoxedRecipient],
) -> Result<Vec<PathBuf>, SealError> {
    let mut written = Vec::new();
    for (name, text) in texts {
        let path = sealing.path_of(name);
        write_sealed(&path, text, parsed).map_err(|source| SealError::Sealed {
            name: name.clone(),
            source,
        })?;
        written.push(path);
    }
    record_recipients(sealing, list)?;
    Ok(written)
}

/// Values of the sets whose env file is absent but sealed copy present,
/// opened in memory, so `generate` keeps them instead of making new ones.
pub fn recover(
    state: &DesiredState,
    secrets_dir: &Path,
    sealing: &Sealing,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, SealError> {
    let mut out = BTreeMap::new();
    let mut identities = None;
    for (name, path) in env_files(state, secrets_dir) {
        if path.exists() || !sealing.has(&name) {
            continue;
        }
        let text = sealing
            .open(&name, &mut identities)
            .map_err(|source| SealError::Sealed {
                name: name.clone(),
                source,
            })?;
        out.insert(name, parse_env_file(&text.unwrap_or_default()));
    }
    Ok(out)
}

/// After `generate`: seals again the env files whose values changed (or that
/// have no sealed copy yet), when the sealed directory has a recipients file.
/// Returns the sealed files written; nothing when sealing is not in use.
pub fn keep_in_step(
    state: &DesiredState,
    secrets_dir: &Path,
    sealing: &Sealing,
    changed: &[String],
    recovered: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<Vec<PathBuf>, SealError> {
    let Some(list) = keys::read_recipients_file(&sealing.dir)? else {
        return Ok(Vec::new());
    };
    let (list, parsed) = recipients(sealing, &list)?;
    let mut texts = Vec::new();
    for (name, path) in env_files(state, secrets_dir) {
        let Some(text) = plaintext(&name, &path)? else {
            continue;
        };
        // Opened from the sealed copy and written back unchanged: the copy is current.
        let same_as_sealed = recovered.get(&name) == Some(&parse_env_file(&text));
        let stale = changed.contains(&name) && !same_as_sealed;
        if stale || !sealing.has(&name) {
            texts.push((name, text));
        }
    }
    if texts.is_empty() {
        return Ok(Vec::new());
    }
    write_all(sealing, &texts, &list, &parsed)
}
