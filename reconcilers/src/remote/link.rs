//! One multiplexed OpenSSH connection to the engine host, carrying a forward
//! of the engine socket to a local unix socket in a private directory. On a
//! drop, the link is rebuilt onto the same local path, so clients of the
//! socket never need to know.

use super::{private_dir, SshError, SshOptions, SshTarget};
use openssh::{ForwardType, KnownHosts, Session, SessionBuilder, Socket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, RwLock};

/// Unix socket paths are limited to 107 bytes.
const MAX_SOCKET_PATH: usize = 107;

pub struct SshLink {
    target: SshTarget,
    options: SshOptions,
    dir: PathBuf,
    local_socket: PathBuf,
    session: RwLock<Option<Arc<Session>>>,
    rebuilding: Mutex<()>,
}

impl std::fmt::Debug for SshLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SshLink({})", self.target)
    }
}

impl SshLink {
    /// Connects and forwards the engine socket. Fails if the host key is
    /// unknown or changed, if login fails, or if the host cannot be reached.
    pub async fn open(target: SshTarget, options: SshOptions) -> Result<Arc<SshLink>, SshError> {
        let dir = private_dir::for_this_process().map_err(|cause| SshError::Setup {
            target: target.to_string(),
            cause,
        })?;
        let local_socket = dir.join("docker.sock");
        // The control socket lands in `<dir>/.ssh-connectionXXXXXX/master`.
        if dir.as_os_str().len() + 32 > MAX_SOCKET_PATH {
            return Err(SshError::Setup {
                target: target.to_string(),
                cause: format!(
                    "the runtime directory {} is too long for unix sockets; set XDG_RUNTIME_DIR to a shorter path",
                    dir.display()
                ),
            });
        }
        let link = Arc::new(SshLink {
            target,
            options,
            dir,
            local_socket,
            session: RwLock::new(None),
            rebuilding: Mutex::new(()),
        });
        link.rebuild().await?;
        Ok(link)
    }

    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// Where the forwarded engine socket listens on this machine.
    pub fn local_socket(&self) -> &Path {
        &self.local_socket
    }

    /// The live session, for SFTP and remote commands.
    pub async fn session(&self) -> Result<Arc<Session>, SshError> {
        self.session
            .read()
            .await
            .clone()
            .ok_or_else(|| SshError::Lost {
                target: self.target.to_string(),
                cause: "reconnecting".into(),
            })
    }

    /// Drops the old connection and builds a new one onto the same local socket.
    pub async fn rebuild(&self) -> Result<(), SshError> {
        let _one_at_a_time = self.rebuilding.lock().await;
        if let Some(old) = self.session.write().await.take() {
            // Other holders (an SFTP channel in flight) keep it until they finish.
            if let Ok(old) = Arc::try_unwrap(old) {
                let _ = tokio::time::timeout(Duration::from_secs(2), old.close()).await;
            }
        }
        // ssh refuses to forward onto an existing path, and close() leaves it behind.
        let _ = std::fs::remove_file(&self.local_socket);
        let session = self.connect().await?;
        session
            .request_port_forward(
                ForwardType::Local,
                Socket::UnixSocket {
                    path: self.local_socket.as_path().into(),
                },
                Socket::UnixSocket {
                    path: Path::new(&self.options.remote_socket).into(),
                },
            )
            .await
            .map_err(|e| SshError::Forward {
                target: self.target.to_string(),
                socket: self.options.remote_socket.clone(),
                cause: super::error_chain(&e),
            })?;
        // Beside the first calls, not before them: they work either way.
        let control = session.control_socket().to_path_buf();
        let target = self.target.to_string();
        tokio::spawn(async move {
            if let Err(why) = super::nodelay::turn_nagle_off(&control).await {
                tracing::debug!("ssh {target}: Nagle stays on for the tunnel: {why}");
            }
        });
        *self.session.write().await = Some(Arc::new(session));
        Ok(())
    }

    async fn connect(&self) -> Result<Session, SshError> {
        let mut b = SessionBuilder::default();
        b.known_hosts_check(KnownHosts::Strict)
            .connect_timeout(self.options.connect_timeout)
            .server_alive_interval(Duration::from_secs(5))
            .control_directory(&self.dir);
        if let Some(user) = &self.target.user {
            b.user(user.clone());
        }
        if let Some(port) = self.target.port {
            b.port(port);
        }
        if let Some(config) = &self.options.config_file {
            b.config_file(config);
        }
        b.connect_mux(&self.target.host)
            .await
            .map_err(|e| SshError::classify(&self.target, &e))
    }
}

impl Drop for SshLink {
    fn drop(&mut self) {
        // The session's own Drop asks the master to exit; the directory holds only sockets.
        if let Some(s) = self.session.get_mut().take() {
            drop(s);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
