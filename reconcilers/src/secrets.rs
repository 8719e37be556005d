//! SecretSet env files: generated from the OS CSPRNG, kept when present,
//! written atomically with mode 0600. Values never reach output.

use crate::hostfiles::{write_local, FilesError};
use crate::prepare::parse_env_file;
use crate::sealed::Sealing;
use base64::Engine as _;
use desired_state::model::{Encoding, Kind, Spec};
use desired_state::DesiredState;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("cannot read {path}: {cause}")]
    Read { path: PathBuf, cause: String },
    #[error(transparent)]
    Write(#[from] FilesError),
    #[error("--rotate {0}: no SecretSet generates this key")]
    UnknownKey(String),
    #[error("secrets directory {path} is group- or world-writable (mode {mode:04o}); others could replace the env files\n  fix: chmod 700 {path}")]
    UnsafeDir { path: PathBuf, mode: u32 },
    #[error(
        "secrets directory {path} is not a directory\n  fix: point --secrets-dir at a directory"
    )]
    NotADir { path: PathBuf },
    #[error("cannot create secrets directory {path}: {cause}")]
    CreateDir { path: PathBuf, cause: String },
}

/// Makes sure the secrets directory exists and only its owner can change it:
/// created 0700 whatever the umask; an existing group- or world-writable one is
/// refused. Returns a warning when the directory is reached through a symlink,
/// since the link decides where secrets land.
pub fn prepare_dir(dir: &Path) -> Result<Option<String>, SecretsError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let create_err = |e: std::io::Error| SecretsError::CreateDir {
        path: dir.to_path_buf(),
        cause: e.to_string(),
    };
    let link = match std::fs::symlink_metadata(dir) {
        Ok(m) => m.file_type().is_symlink(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(create_err)?;
            // The umask may have taken bits away; set exactly 0700.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(create_err)?;
            return Ok(None);
        }
        Err(e) => return Err(create_err(e)),
    };
    let meta = std::fs::metadata(dir).map_err(create_err)?;
    if !meta.is_dir() {
        return Err(SecretsError::NotADir {
            path: dir.to_path_buf(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(SecretsError::UnsafeDir {
            path: dir.to_path_buf(),
            mode,
        });
    }
    Ok(link.then(|| {
        format!(
            "secrets directory {} is a symlink; secrets are written where it points",
            dir.display()
        )
    }))
}

/// What one env file got.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileReport {
    pub set: String,
    pub path: PathBuf,
    pub generated: Vec<String>,
    pub rotated: Vec<String>,
    pub kept: Vec<String>,
    pub written: bool,
}

pub fn encode(bytes: &[u8], encoding: Encoding) -> String {
    match encoding {
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        Encoding::Base64url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        Encoding::Hex => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

fn random(n: usize) -> Result<Vec<u8>, SecretsError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| SecretsError::Random(e.to_string()))?;
    Ok(buf)
}

/// Writes every SecretSet's env file: existing values are kept, missing
/// generated keys are generated, `rotate` keys are replaced, given values are
/// written as declared.
/// `recovered` holds the values of sets whose env file is absent but whose
/// sealed copy was opened: they are kept, not generated anew.
pub fn generate(
    state: &DesiredState,
    dir: &Path,
    rotate: &[String],
    recovered: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<Vec<FileReport>, SecretsError> {
    for key in rotate {
        let known = state.of_kind(Kind::SecretSet).any(
            |r| matches!(&r.spec, Spec::SecretSet(s) if s.generate.iter().any(|g| &g.key == key)),
        );
        if !known {
            return Err(SecretsError::UnknownKey(key.clone()));
        }
    }
    if state.of_kind(Kind::SecretSet).next().is_some() {
        // Callers print the symlink warning (see prepare_dir); here it is only enforced.
        prepare_dir(dir)?;
    }
    let mut reports = Vec::new();
    for r in state.of_kind(Kind::SecretSet) {
        let Spec::SecretSet(s) = &r.spec else {
            continue;
        };
        let path = dir.join(&s.file);
        let existing = match std::fs::read_to_string(&path) {
            Ok(t) => parse_env_file(&t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                recovered.get(r.name()).cloned().unwrap_or_default()
            }
            Err(e) => {
                return Err(SecretsError::Read {
                    path,
                    cause: e.to_string(),
                })
            }
        };
        let mut report = FileReport {
            set: r.name().to_string(),
            path: path.clone(),
            ..Default::default()
        };
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        for g in &s.generate {
            // An empty or placeholder value (a template copied by hand) is no secret:
            // it is generated like a missing one, so none remains after writing.
            let keep = existing
                .get(&g.key)
                .filter(|v| !unusable(v) && !rotate.contains(&g.key));
            let value = match keep {
                Some(v) => {
                    report.kept.push(g.key.clone());
                    v.clone()
                }
                None => {
                    if existing.contains_key(&g.key) && rotate.contains(&g.key) {
                        report.rotated.push(g.key.clone())
                    } else {
                        report.generated.push(g.key.clone())
                    }
                    encode(&random(g.bytes as usize)?, g.encoding)
                }
            };
            values.insert(g.key.clone(), value);
        }
        for (k, v) in &s.values {
            values.insert(k.clone(), v.clone());
        }
        let text = env_file_text(
            r.name(),
            values.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        report.written = write_local(&path, text.as_bytes(), 0o600)?;
        reports.push(report);
    }
    Ok(reports)
}

/// Empty, or a placeholder such as `${VAR}` or `<CHANGE_ME>`.
fn unusable(value: &str) -> bool {
    value.trim().is_empty() || is_placeholder(value)
}

fn is_placeholder(value: &str) -> bool {
    value.contains("${") || value.contains("CHANGE_ME")
}

/// An env file as compose reads it: one `KEY=value` per line.
pub fn env_file_text<'a>(set: &str, values: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut text =
        format!("# Written by lucidctl for SecretSet/{set}. Keep out of git; mode 0600.\n");
    for (k, v) in values {
        text.push_str(&format!("{k}={v}\n"));
    }
    text
}

/// Problems `secrets check` reports: missing files, empty or placeholder
/// values; with sealing in use, sealed copies that are missing, cannot be
/// opened or differ from the env file (by key, never value).
pub fn check(state: &DesiredState, dir: &Path, sealing: &Sealing) -> Vec<String> {
    let mut problems = Vec::new();
    let sealing_in_use = matches!(
        crate::sealed::keys::read_recipients_file(&sealing.dir),
        Ok(Some(_)) | Err(_)
    );
    let mut identities = None;
    for r in state.of_kind(Kind::SecretSet) {
        let Spec::SecretSet(s) = &r.spec else {
            continue;
        };
        let plain = dir.join(&s.file);
        let (plain_exists, sealed_exists) = (plain.exists(), sealing.has(r.name()));
        if !plain_exists && !sealed_exists {
            problems.push(format!(
                "SecretSet/{}: {} is missing; run `lucidctl secrets generate`",
                r.name(),
                plain.display()
            ));
            continue;
        }
        if plain_exists && !sealed_exists && sealing_in_use {
            problems.push(format!(
                "SecretSet/{}: {} has no sealed copy; run `lucidctl secrets seal`",
                r.name(),
                sealing.path_of(r.name()).display()
            ));
        }
        let values = match crate::prepare::set_values(r.name(), &plain, sealing, &mut identities) {
            Ok(v) => v,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        let path = if plain_exists {
            plain
        } else {
            sealing.path_of(r.name())
        };
        for key in s.keys() {
            match values.get(key) {
                None => problems.push(format!(
                    "SecretSet/{}: {} has no {key}",
                    r.name(),
                    path.display()
                )),
                Some(v) if v.trim().is_empty() => problems.push(format!(
                    "SecretSet/{}: {key} is empty in {}",
                    r.name(),
                    path.display()
                )),
                Some(v) if is_placeholder(v) => problems.push(format!(
                    "SecretSet/{}: {key} in {} is a placeholder",
                    r.name(),
                    path.display()
                )),
                Some(_) => {}
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_have_the_declared_length() {
        let bytes = [0xffu8; 32];
        assert_eq!(encode(&bytes, Encoding::Base64).len(), 44);
        assert_eq!(encode(&bytes, Encoding::Hex).len(), 64);
        assert_eq!(encode(&bytes, Encoding::Base64url).len(), 43);
        assert_eq!(encode(&[0x0f, 0xa0], Encoding::Hex), "0fa0");
    }
    #[test]
    fn secrets_dir_is_created_owner_only_and_unsafe_ones_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let t = tempfile::tempdir().unwrap();
        // Whatever the umask, a new directory is 0700.
        let fresh = t.path().join("a/secrets");
        assert_eq!(prepare_dir(&fresh).unwrap(), None);
        assert_eq!(mode(&fresh), 0o700);

        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare_dir(&open).unwrap_err().to_string();
        assert!(e.contains("world-writable (mode 0777)"), "{e}");
        assert!(
            e.contains(&format!("fix: chmod 700 {}", open.display())),
            "{e}"
        );
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o770)).unwrap();
        assert!(prepare_dir(&open).is_err(), "group-writable accepted");

        let link = t.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        let w = prepare_dir(&link)
            .unwrap()
            .expect("a warning for the symlink");
        assert!(w.contains("is a symlink"), "{w}");
    }
}
