//! Sealed secrets: each SecretSet's env file encrypted with age into
//! `<sealed dir>/<set>.env.age` (ASCII-armored, so it diffs as text in git),
//! for the recipients listed in `<sealed dir>/.lucid-recipients`. Opening
//! happens in memory only: decrypted values are never written to disk here.

pub mod keys;
pub mod ops;

use keys::{BoxedIdentity, BoxedRecipient};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SealedError {
    #[error("cannot read {path}: {cause}")]
    Read { path: PathBuf, cause: String },
    #[error("{origin}: bad recipient: {cause}")]
    BadRecipient { origin: String, cause: String },
    #[error("no recipients for {dir}\n  fix: pass --recipient age1... (or ssh-ed25519 ...), or list them in {dir}/{}", keys::RECIPIENTS_FILE)]
    NoRecipients { dir: PathBuf },
    #[error("age identity {path}: {cause}\n  fix: pass --age-identity (or LUCID_AGE_IDENTITY) an age-keygen key file or an unencrypted SSH ed25519 key")]
    Identity { path: PathBuf, cause: String },
    #[error("cannot decrypt the sealed file {path} with the identity {identity}: {cause}\n  fix: use an identity whose public key is in {}, or reseal for yours", .path.with_file_name(keys::RECIPIENTS_FILE).display())]
    Decrypt {
        path: PathBuf,
        identity: PathBuf,
        cause: String,
    },
    #[error("only the sealed copy {path} is there, and no identity was given to open it\n  fix: pass --age-identity FILE (or set LUCID_AGE_IDENTITY), or write the env file with `lucidctl secrets generate --age-identity FILE`")]
    NeedsIdentity { path: PathBuf },
    #[error("cannot encrypt for {path}: {cause}")]
    Encrypt { path: PathBuf, cause: String },
    #[error(transparent)]
    Write(#[from] crate::hostfiles::FilesError),
}

/// Where sealed copies live and what may open them.
#[derive(Debug, Clone, Default)]
pub struct Sealing {
    pub dir: PathBuf,
    /// `--age-identity`: None means sealed copies cannot be opened.
    pub identity: Option<PathBuf>,
}

/// The default sealed directory: `sealed/` beside the first state
/// directory, i.e. `configs/sealed/` for `-f configs/lucid`. Committed.
pub fn default_sealed_dir(first_path: &Path) -> PathBuf {
    let dir = if first_path.is_dir() {
        first_path
    } else {
        first_path.parent().unwrap_or(Path::new("."))
    };
    dir.parent().unwrap_or(Path::new(".")).join("sealed")
}

/// A SecretSet's sealed file. By set name, not env file name: `.env.*` is
/// git-ignored, and the name says which resource it belongs to.
pub fn sealed_path(dir: &Path, set: &str) -> PathBuf {
    dir.join(format!("{set}.env.age"))
}

/// Sealed files are at most this large (an env file is a few KiB).
const MAX_SEALED_BYTES: u64 = 1 << 20;

impl Sealing {
    pub fn path_of(&self, set: &str) -> PathBuf {
        sealed_path(&self.dir, set)
    }

    pub fn has(&self, set: &str) -> bool {
        self.path_of(set).is_file()
    }

    /// The sealed env file text of `set`, decrypted in memory; None when there is no
    /// sealed copy. An identity is needed only when there is one.
    pub fn open(
        &self,
        set: &str,
        identities: &mut Option<Vec<BoxedIdentity>>,
    ) -> Result<Option<String>, SealedError> {
        let path = self.path_of(set);
        if !path.exists() {
            return Ok(None);
        }
        let Some(identity) = &self.identity else {
            return Err(SealedError::NeedsIdentity { path });
        };
        if identities.is_none() {
            *identities = Some(keys::load_identities(identity)?);
        }
        let ids = identities.as_deref().unwrap_or_default();
        open_bytes(&read_sealed(&path)?, ids)
            .map(Some)
            .map_err(|cause| SealedError::Decrypt {
                path,
                identity: identity.clone(),
                cause,
            })
    }
}

fn read_sealed(path: &Path) -> Result<Vec<u8>, SealedError> {
    let bytes = desired_state::load::read_regular(path).map_err(|cause| SealedError::Read {
        path: path.to_path_buf(),
        cause,
    })?;
    if bytes.len() as u64 > MAX_SEALED_BYTES {
        return Err(SealedError::Read {
            path: path.to_path_buf(),
            cause: format!("more than {} KiB", MAX_SEALED_BYTES >> 10),
        });
    }
    Ok(bytes)
}

/// Decrypts an (armored or binary) age file. The error never holds plaintext.
pub fn open_bytes(sealed: &[u8], identities: &[BoxedIdentity]) -> Result<String, String> {
    let reader = age::armor::ArmoredReader::new(sealed);
    let decryptor = age::Decryptor::new(reader).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| e.to_string())?
        .take(MAX_SEALED_BYTES)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|_| "the decrypted file is not UTF-8 text".to_string())
}

/// Encrypts `text` for `recipients`, ASCII-armored.
pub fn seal_bytes(text: &str, recipients: &[BoxedRecipient]) -> Result<Vec<u8>, String> {
    let encryptor = age::Encryptor::with_recipients(
        recipients.iter().map(|r| r.as_ref() as &dyn age::Recipient),
    )
    .map_err(|e| e.to_string())?;
    let armor = age::armor::ArmoredWriter::wrap_output(Vec::new(), age::armor::Format::AsciiArmor)
        .map_err(|e| e.to_string())?;
    let mut w = encryptor.wrap_output(armor).map_err(|e| e.to_string())?;
    w.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    w.finish()
        .and_then(|a| a.finish())
        .map_err(|e| e.to_string())
}

/// Writes `text` sealed for `recipients` to `path` (mode 0644: it is ciphertext, meant for git).
pub fn write_sealed(
    path: &Path,
    text: &str,
    recipients: &[BoxedRecipient],
) -> Result<(), SealedError> {
    let bytes = seal_bytes(text, recipients).map_err(|cause| SealedError::Encrypt {
        path: path.to_path_buf(),
        cause,
    })?;
    crate::hostfiles::write_local(path, &bytes, 0o644)?;
    Ok(())
}

/// The keys whose values differ between two env files (present in one only, or
/// different values), never the values.
pub fn differing_keys(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let mut keys: Vec<String> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .chain(b.keys().filter(|k| !a.contains_key(*k)).cloned())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests;
