//! age recipients (who a sealed file is for) and identities (what opens it).

use super::SealedError;
use std::path::Path;

/// The file in the sealed directory that lists its recipients.
pub const RECIPIENTS_FILE: &str = ".lucid-recipients";

pub type BoxedRecipient = Box<dyn age::Recipient + Send>;
pub type BoxedIdentity = Box<dyn age::Identity + Send + Sync>;

/// One recipient: an X25519 key (`age1...`) or an SSH public key
/// (`ssh-ed25519 AAAA... [comment]`, as in authorized_keys).
pub fn parse_recipient(text: &str) -> Result<BoxedRecipient, String> {
    let text = text.trim();
    if text.starts_with("age1") {
        return text
            .parse::<age::x25519::Recipient>()
            .map(|r| Box::new(r) as BoxedRecipient)
            .map_err(|e| format!("not an age X25519 recipient: {e}"));
    }
    if text.starts_with("ssh-") {
        return text
            .parse::<age::ssh::Recipient>()
            .map(|r| Box::new(r) as BoxedRecipient)
            .map_err(|e| format!("not a usable SSH public key: {e:?}"));
    }
    Err(
        "a recipient is an age public key (age1...) or an SSH public key (ssh-ed25519 AAAA...)"
            .into(),
    )
}

/// The recipient lines of a `.lucid-recipients` text: one per line, `#`
/// starts a comment, blank lines are skipped. Each bad line is an error
/// naming `origin:line`.
pub fn recipient_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split('#').next().unwrap_or("").trim().to_string()))
        .filter(|(_, l)| !l.is_empty())
        .collect()
}

/// The declared recipients of a sealed directory; None when it has no recipients file.
pub fn read_recipients_file(dir: &Path) -> Result<Option<Vec<String>>, SealedError> {
    let path = dir.join(RECIPIENTS_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = desired_state::load::read_regular(&path).map_err(|cause| SealedError::Read {
        path: path.clone(),
        cause,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Vec::new();
    for (line, r) in recipient_lines(&text) {
        if let Err(cause) = parse_recipient(&r) {
            return Err(SealedError::BadRecipient {
                origin: format!("{}:{line}", path.display()),
                cause,
            });
        }
        out.push(r);
    }
    Ok(Some(out))
}

/// The recipients file's text for these recipients.
pub fn recipients_file_text(recipients: &[String]) -> String {
    let mut text = String::from(
        "# age recipients of the sealed SecretSets beside this file, one per line:\n\
         # age1... (age-keygen) or ssh-ed25519 AAAA... Public keys only; change with\n\
         # `lucidctl secrets reseal --recipient ...`.\n",
    );
    for r in recipients {
        text.push_str(r.trim());
        text.push('\n');
    }
    text
}

pub fn parse_all(recipients: &[String], origin: &str) -> Result<Vec<BoxedRecipient>, SealedError> {
    recipients
        .iter()
        .map(|r| {
            parse_recipient(r).map_err(|cause| SealedError::BadRecipient {
                origin: origin.to_string(),
                cause,
            })
        })
        .collect()
}

/// The identities in an age identity file (`AGE-SECRET-KEY-1...` lines, as
/// age-keygen writes) or an unencrypted OpenSSH private key.
pub fn load_identities(path: &Path) -> Result<Vec<BoxedIdentity>, SealedError> {
    let unreadable = |cause: String| SealedError::Identity {
        path: path.to_path_buf(),
        cause,
    };
    let bytes = desired_state::load::read_regular(path).map_err(unreadable)?;
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----")
        || text.contains("-----BEGIN RSA PRIVATE KEY-----")
    {
        let id = age::ssh::Identity::from_buffer(&bytes[..], Some(path.display().to_string()))
            .map_err(|e| unreadable(format!("not a readable SSH private key: {e}")))?;
        return match id {
            age::ssh::Identity::Unencrypted(_) => Ok(vec![Box::new(id)]),
            age::ssh::Identity::Encrypted(_) => Err(unreadable(
                "the SSH key is passphrase-protected; lucidctl runs unattended and cannot ask for it \
                 (use an unencrypted key kept mode 0600, or an age key)"
                    .into(),
            )),
            age::ssh::Identity::Unsupported(_) => {
                Err(unreadable("this SSH key type is not supported by age; use ssh-ed25519".into()))
            }
        };
    }
    let ids = age::IdentityFile::from_buffer(&bytes[..])
        .map_err(|e| unreadable(format!("not an age identity file: {e}")))?
        .into_identities()
        .map_err(|e| unreadable(format!("not an age identity file: {e}")))?;
    if ids.is_empty() {
        return Err(unreadable(
            "holds no identity (expected AGE-SECRET-KEY-1... lines or an SSH private key)".into(),
        ));
    }
    Ok(ids)
}
