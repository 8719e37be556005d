//! The one seam to the Docker Engine API. bollard types stay inside this
//! module; everything else speaks `observed` and `render` types. Engine
//! failures become `EngineError`s that name the object concerned.

mod act;
mod api;
mod build;
mod convert;
mod docker;
mod events;
mod hint;
mod host;
mod images;
mod logs;
mod observe;
mod runtime;
pub mod swarm;
mod transport;
mod watch;

pub use crate::observed::ObserveScope;
pub use crate::render::VolumePlanSpec;
pub use api::{BuildProgress, EngineApi, PullProgress};
pub use build::{BuildEvent, BuildFailure, BuildRequest};
pub use events::{EngineEvent, EventObject, DRIFT_ACTIONS};
pub use host::{HostInfo, ImageSource};
pub use images::{split_tag, Credentials};
pub use logs::{LogChunk, LogOptions, LogStream};
pub use swarm::SwarmApi;

use crate::remote::{SshLink, SshOptions, SshTarget};
use bollard::Docker;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Seconds bollard waits for one call's headers; long enough for a slow stop or pull start.
const CALL_TIMEOUT_SECS: u64 = 120;
/// The whole of one call, body included (bollard's timeout covers the headers only).
pub const CALL_DEADLINE: Duration = Duration::from_secs(150);

/// The oldest API version lucidctl speaks; the version probe asks in it so
/// that every supported engine answers it.
const OLDEST_API: bollard::ClientVersion = bollard::ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// How calls reach the engine, before the API version is agreed.
enum Pool {
    KeepAlive(transport::KeepAlive),
    Http(Docker),
}

impl Pool {
    /// A client at the newest API version both sides speak. Over a unix socket
    /// (local or the SSH tunnel) a `/_ping` finds it: every engine answer
    /// announces its version in a header, and `/version`, which bollard's
    /// negotiation asks, makes the engine run `runc --version` and ask
    /// containerd (about 10 ms, more than the rest of a no-op dry run).
    /// `/version` remains the fallback when the ping fails or has no header.
    async fn negotiate(self) -> Result<Docker, bollard::errors::Error> {
        match self {
            Pool::Http(docker) => docker.negotiate_version().await,
            Pool::KeepAlive(pool) => {
                let probe = pool.docker(&OLDEST_API)?;
                if probe.ping().await.is_ok() {
                    if let Some(announced) = pool.announced_version() {
                        let newest = *bollard::API_DEFAULT_VERSION;
                        let agreed = if announced < newest {
                            announced
                        } else {
                            newest
                        };
                        return pool.docker(&agreed);
                    }
                }
                pool.docker(bollard::API_DEFAULT_VERSION)?
                    .negotiate_version()
                    .await
            }
        }
    }
}
/// Pulls and pushes move images: long, but not forever.
pub const TRANSFER_DEADLINE: Duration = Duration::from_secs(1800);
/// At most this much of an engine's error message is kept.
const MAX_MESSAGE_CHARS: usize = 300;

fn bounded(message: &str) -> String {
    let mut out: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    if message.chars().count() > MAX_MESSAGE_CHARS {
        out.push_str("...");
    }
    out
}
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
/// Inspects in flight at once while observing.
pub const PARALLEL_INSPECTS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker engine at {host}: {cause}")]
    Unreachable {
        host: String,
        /// The innermost cause, the one a person can act on.
        cause: String,
        /// Every error of the chain, outermost first, for `--verbose`.
        chain: Vec<String>,
    },
    #[error("unsupported engine host {host:?}: {why}")]
    BadHost { host: String, why: String },
    #[error("{what}: not found")]
    NotFound { what: String },
    #[error("{what}: conflict: {message}")]
    Conflict { what: String, message: String },
    #[error("{what}: engine error {status}: {message}")]
    Api {
        what: String,
        status: u16,
        message: String,
    },
    /// The engine stopped answering mid-call: a dropped SSH link, a restarted daemon.
    #[error("{what}: connection to the engine lost: {cause}")]
    ConnectionLost { what: String, cause: String },
    #[error(transparent)]
    Ssh(#[from] crate::remote::SshError),
    #[error("{what}: {message}")]
    Other { what: String, message: String },
}

impl EngineError {
    pub(crate) fn from_bollard(what: impl Into<String>, e: bollard::errors::Error) -> Self {
        use bollard::errors::Error as B;
        let what = what.into();
        // An engine's answer is input like any other: bounded before it is printed.
        let e = match e {
            B::DockerResponseServerError {
                status_code,
                message,
            } => B::DockerResponseServerError {
                status_code,
                message: bounded(&message),
            },
            other => other,
        };
        match e {
            B::DockerResponseServerError {
                status_code: 404,
                message,
            } => EngineError::NotFound {
                what: format!("{what} ({message})"),
            },
            B::DockerResponseServerError {
                status_code: 409,
                message,
            } => EngineError::Conflict { what, message },
            B::DockerResponseServerError {
                status_code,
                message,
            } => EngineError::Api {
                what,
                status: status_code,
                message,
            },
            e @ (B::HyperLegacyError { .. }
            | B::IOError { .. }
            | B::RequestTimeoutError
            | B::SocketNotFoundError(_)) => EngineError::ConnectionLost {
                what,
                cause: e.to_string(),
            },
            other => EngineError::Other {
                what,
                message: other.to_string(),
            },
        }
    }

    /// No complete answer within the call's deadline (a trickled or endless body).
    pub(crate) fn too_slow(what: &str, limit: Duration) -> Self {
        EngineError::ConnectionLost {
            what: what.to_string(),
            cause: format!("no complete answer within {limit:?}"),
        }
    }

    /// Worth reconnecting for, unlike an answer the engine gave.
    pub fn is_connection_lost(&self) -> bool {
        match self {
            EngineError::ConnectionLost { .. } | EngineError::Unreachable { .. } => true,
            EngineError::Ssh(e) => !e.is_permanent(),
            _ => false,
        }
    }
}

/// How to reach an `ssh://` engine.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Like `ssh -F`.
    pub ssh_config: Option<PathBuf>,
    /// The engine socket on the remote host.
    pub remote_socket: Option<String>,
}

/// The engine `connect_with` reaches for `host`: it, else `DOCKER_HOST`, else
/// the local socket.
pub fn resolve_host(host: Option<&str>) -> String {
    host.map(str::to_string)
        .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| DEFAULT_HOST.to_string())
}

/// A connected, version-negotiated engine.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) docker: Docker,
    host: String,
    api_version: String,
    /// Kept alive as long as any clone of the engine is.
    link: Option<Arc<SshLink>>,
    /// The deadline of one call, body included.
    pub(crate) deadline: Duration,
}

impl Engine {
    /// Connects to `host` (`unix://`, `tcp://`, `ssh://`), else `DOCKER_HOST`,
    /// else the local socket, and checks the engine answers.
    pub async fn connect(host: Option<&str>) -> Result<Engine, EngineError> {
        Engine::connect_with(host, &ConnectOptions::default()).await
    }

    pub async fn connect_with(
        host: Option<&str>,
        options: &ConnectOptions,
    ) -> Result<Engine, EngineError> {
        let host = resolve_host(host);
        let unreachable = |cause: String| EngineError::Unreachable {
            host: host.clone(),
            chain: vec![cause.clone()],
            cause,
        };
        let unreachable_by = |e: &bollard::errors::Error| {
            let chain = hint::chain(e);
            EngineError::Unreachable {
                host: host.clone(),
                cause: chain.last().cloned().unwrap_or_default(),
                chain,
            }
        };
        let mut link = None;
        let pool = if let Some(path) = host.strip_prefix("unix://") {
            if !std::path::Path::new(path).exists() {
                return Err(unreachable(format!("Socket not found: {path}")));
            }
            Pool::KeepAlive(transport::unix_keep_alive(
                std::path::Path::new(path),
                CALL_TIMEOUT_SECS,
            ))
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            Pool::Http(
                Docker::connect_with_http(&host, CALL_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                    .map_err(|e| unreachable(e.to_string()))?,
            )
        } else if host.starts_with("ssh://") {
            let target = SshTarget::parse(&host).map_err(|why| EngineError::BadHost {
                host: host.clone(),
                why,
            })?;
            let mut ssh = SshOptions {
                config_file: options.ssh_config.clone(),
                ..SshOptions::default()
            };
            if let Some(socket) = &options.remote_socket {
                ssh.remote_socket = socket.clone();
            }
            let l = SshLink::open(target, ssh).await?;
            let pool = transport::unix_keep_alive(l.local_socket(), CALL_TIMEOUT_SECS);
            link = Some(l);
            Pool::KeepAlive(pool)
        } else {
            return Err(EngineError::BadHost {
                host,
                why: "use unix:///path/to/docker.sock, tcp://host:port or ssh://user@host[:port]"
                    .into(),
            });
        };
        // A refused forward or an unreadable remote socket only shows on the first request.
        let docker = tokio::time::timeout(Duration::from_secs(10), pool.negotiate())
            .await
            .map_err(|_| unreachable("no answer within 10s".into()))?
            .map_err(|e| match &link {
                Some(_) => unreachable(format!(
                    "the SSH connection works, but the engine socket {} on the host does not answer ({e}); check that the daemon runs and that the SSH user may open the socket (is it in the docker group?)",
                    options.remote_socket.as_deref().unwrap_or(crate::remote::DEFAULT_REMOTE_SOCKET),
                )),
                None => unreachable_by(&e),
            })?;
        let version = docker.client_version();
        let api_version = format!("{}.{}", version.major_version, version.minor_version);
        if let Some(l) = &link {
            watch::spawn(docker.clone(), Arc::downgrade(l));
        }
        Ok(Engine {
            docker,
            host,
            api_version,
            link,
            deadline: CALL_DEADLINE,
        })
    }

    /// A shorter (or longer) deadline for each call, body included.
    pub fn with_deadline(mut self, deadline: Duration) -> Engine {
        self.deadline = deadline;
        self
    }

    /// The SSH connection, for an `ssh://` engine.
    pub fn ssh_link(&self) -> Option<&Arc<SshLink>> {
        self.link.as_ref()
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The API version agreed with the engine, e.g. "1.41".
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// Whether the agreed API version is at least `major.minor`.
    pub fn api_at_least(&self, major: u32, minor: u32) -> bool {
        let mut parts = self
            .api_version
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        have >= (major, minor)
    }

    pub async fn ping(&self) -> Result<(), EngineError> {
        self.docker.ping().await.map(|_| ()).map_err(|e| {
            let chain = hint::chain(&e);
            EngineError::Unreachable {
                host: self.host.clone(),
                cause: chain.last().cloned().unwrap_or_default(),
                chain,
            }
        })
    }
}
