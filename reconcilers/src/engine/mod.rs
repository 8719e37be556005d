//! The one seam to the Docker Engine API. bollard types stay inside this
//! module; everything else speaks `observed` and `render` types. Engine
//! failures become `EngineError`s that name the object concerned.

mod act;
mod build;
mod convert;
mod events;
mod images;
mod observe;

pub use build::{BuildEvent, BuildFailure, BuildRequest};
pub use events::{EngineEvent, EventObject};
pub use images::{split_tag, Credentials};
pub use observe::ObserveScope;

use bollard::Docker;
use std::time::Duration;

/// Seconds bollard waits for one call; long enough for a slow stop or pull start.
const CALL_TIMEOUT_SECS: u64 = 120;
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
/// Inspects in flight at once while observing.
pub const PARALLEL_INSPECTS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker engine at {host}: {cause}")]
    Unreachable { host: String, cause: String },
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
    #[error("{what}: {message}")]
    Other { what: String, message: String },
}

impl EngineError {
    pub(crate) fn from_bollard(what: impl Into<String>, e: bollard::errors::Error) -> Self {
        use bollard::errors::Error as B;
        let what = what.into();
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
            other => EngineError::Other {
                what,
                message: other.to_string(),
            },
        }
    }
}

/// A connected, version-negotiated engine.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) docker: Docker,
    host: String,
    api_version: String,
}

impl Engine {
    /// Connects to `host` (`unix://`, `tcp://`), else `DOCKER_HOST`, else the local socket,
    /// and checks the engine answers.
    pub async fn connect(host: Option<&str>) -> Result<Engine, EngineError> {
        let host = host
            .map(str::to_string)
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        let unreachable = |cause: String| EngineError::Unreachable {
            host: host.clone(),
            cause,
        };
        let docker = if let Some(path) = host.strip_prefix("unix://") {
            Docker::connect_with_unix(path, CALL_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            Docker::connect_with_http(&host, CALL_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        } else if host.starts_with("ssh://") {
            return Err(EngineError::BadHost { host, why: "ssh:// hosts are not supported yet; forward the socket with `ssh -L` and use unix://".into() });
        } else {
            return Err(EngineError::BadHost { host, why: "use unix:///path/to/docker.sock or tcp://host:port".into() });
        }
        .map_err(|e| unreachable(e.to_string()))?;
        let docker = tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version())
            .await
            .map_err(|_| unreachable("no answer within 10s".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        let version = docker.client_version();
        let api_version = format!("{}.{}", version.major_version, version.minor_version);
        Ok(Engine {
            docker,
            host,
            api_version,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The API version agreed with the engine, e.g. "1.41".
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    pub async fn ping(&self) -> Result<(), EngineError> {
        self.docker
            .ping()
            .await
            .map(|_| ())
            .map_err(|e| EngineError::Unreachable {
                host: self.host.clone(),
                cause: e.to_string(),
            })
    }
}
