//! Engine hosts reached over SSH: one multiplexed OpenSSH connection carries
//! the forwarded engine socket, SFTP for host files and the few commands
//! `doctor` runs. Nothing is installed on the host.

mod link;
mod nodelay;
mod private_dir;

pub use link::SshLink;

use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_REMOTE_SOCKET: &str = "/var/run/docker.sock";

/// `ssh://[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl SshTarget {
    pub fn parse(url: &str) -> Result<SshTarget, String> {
        let rest = url
            .strip_prefix("ssh://")
            .ok_or_else(|| format!("{url:?} does not start with ssh://"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(format!(
                "{url:?} has a path; give the remote socket with --remote-socket instead"
            ));
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
            Some(_) => return Err(format!("{url:?} has an empty user name")),
            None => (None, rest),
        };
        let (host, port) = match hostport.strip_prefix('[') {
            Some(bracketed) => match bracketed.split_once(']') {
                Some((h, "")) => (h, None),
                Some((h, p)) => (h, Some(p.strip_prefix(':').unwrap_or(p))),
                None => return Err(format!("{url:?} has an unclosed [")),
            },
            None => match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            },
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| format!("{url:?} has an invalid port {p:?}"))
            })
            .transpose()?;
        if host.is_empty() {
            return Err(format!("{url:?} names no host"));
        }
        Ok(SshTarget {
            user,
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ssh://")?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct SshOptions {
    /// Like `ssh -F`; otherwise ~/.ssh/config applies.
    pub config_file: Option<PathBuf>,
    pub remote_socket: String,
    pub connect_timeout: Duration,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            config_file: None,
            remote_socket: DEFAULT_REMOTE_SOCKET.to_string(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("{target}: the host key is unknown or has changed, so the connection was refused ({cause}). Check the key's fingerprint with the host's owner, then add it: ssh-keyscan{port_flag} {host} >> ~/.ssh/known_hosts (or connect once with plain ssh)")]
    HostKey {
        target: String,
        host: String,
        port_flag: String,
        cause: String,
    },
    #[error("{target}: login refused ({cause}); check the user name, and that your key is in the agent or named by IdentityFile in ~/.ssh/config")]
    Auth { target: String, cause: String },
    #[error("{target}: cannot connect: {cause}")]
    Unreachable { target: String, cause: String },
    #[error("{target}: cannot forward the engine socket {socket}: {cause}")]
    Forward {
        target: String,
        socket: String,
        cause: String,
    },
    #[error("{target}: connection lost: {cause}")]
    Lost { target: String, cause: String },
    #[error("{target}: {cause}")]
    Setup { target: String, cause: String },
    #[error("{target}: sftp: {cause}")]
    Sftp { target: String, cause: String },
}

impl SshError {
    /// Host key and login failures are permanent: retrying cannot fix them.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SshError::HostKey { .. } | SshError::Auth { .. })
    }

    fn classify(target: &SshTarget, e: &openssh::Error) -> SshError {
        let cause = error_chain(e);
        let t = target.to_string();
        if cause.contains("Host key verification failed")
            || cause.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || cause.contains("host key is known")
        {
            SshError::HostKey {
                target: t,
                host: target.host.clone(),
                port_flag: target.port.map(|p| format!(" -p {p}")).unwrap_or_default(),
                cause: first_line_with(&cause, "host key"),
            }
        } else if cause.contains("Permission denied") {
            SshError::Auth { target: t, cause }
        } else {
            SshError::Unreachable { target: t, cause }
        }
    }
}

fn first_line_with(text: &str, needle: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| l.to_lowercase().contains(needle))
        .unwrap_or(text.trim())
        .to_string()
}

/// openssh puts the useful part (ssh's own stderr) in the source chain.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ").replace('\r', "").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_urls_parse() {
        let t = SshTarget::parse("ssh://pickme@192.168.0.75").unwrap();
        assert_eq!(t.user.as_deref(), Some("pickme"));
        assert_eq!(t.host, "192.168.0.75");
        assert_eq!(t.port, None);
        let t = SshTarget::parse("ssh://root@127.0.0.1:2222").unwrap();
        assert_eq!(t.port, Some(2222));
        assert_eq!(t.to_string(), "ssh://root@127.0.0.1:2222");
        let t = SshTarget::parse("ssh://pi").unwrap();
        assert_eq!((t.user, t.host.as_str()), (None, "pi"));
        let t = SshTarget::parse("ssh://u@[::1]:22").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", Some(22)));
    }

    #[test]
    fn bad_ssh_urls_say_why() {
        assert!(SshTarget::parse("ssh://h:99999")
            .unwrap_err()
            .contains("invalid port"));
        assert!(SshTarget::parse("ssh://h/var/run/docker.sock")
            .unwrap_err()
            .contains("--remote-socket"));
        assert!(SshTarget::parse("ssh://@h")
            .unwrap_err()
            .contains("empty user"));
        assert!(SshTarget::parse("ssh://").unwrap_err().contains("no host"));
    }

    #[test]
    fn host_key_failures_are_permanent_and_say_how_to_fix() {
        let target = SshTarget::parse("ssh://root@127.0.0.1:2222").unwrap();
        let e = openssh::Error::Connect(std::io::Error::other(
            "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\r\nHost key verification failed.",
        ));
        let err = SshError::classify(&target, &e);
        assert!(err.is_permanent());
        let msg = err.to_string();
        assert!(msg.contains("ssh-keyscan -p 2222 127.0.0.1"), "{msg}");
        let e = openssh::Error::Connect(std::io::Error::other(
            "root@127.0.0.1: Permission denied (publickey).",
        ));
        assert!(matches!(
            SshError::classify(&target, &e),
            SshError::Auth { .. }
        ));
        let e = openssh::Error::Connect(std::io::Error::other(
            "connect to host 127.0.0.1 port 2222: Connection refused",
        ));
        assert!(!SshError::classify(&target, &e).is_permanent());
    }
}
