//! A keep-alive transport over a unix socket. bollard's own unix transport
//! opens a connection per call; reusing connections saves about 100 µs per
//! call locally and a round trip per call through an SSH tunnel.

use bollard::{BollardRequest, ClientVersion, Docker};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The largest answer body an engine may announce; an image list of a busy
/// host is a few MB. Larger is refused before any of it is read.
const MAX_BODY_BYTES: u64 = 512 << 20;

/// Idle connections are dropped after this; the engine keeps them open longer.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A keep-alive connection pool to one unix socket, from which clients of any
/// API version are made: they share the pool, so the connection the version
/// probe opened serves the first real call.
pub(super) struct KeepAlive {
    make: Box<dyn Fn(&ClientVersion) -> Result<Docker, bollard::errors::Error> + Send + Sync>,
    announced: Arc<OnceLock<String>>,
}

impl KeepAlive {
    /// A client that speaks `version` over the shared pool.
    pub(super) fn docker(&self, version: &ClientVersion) -> Result<Docker, bollard::errors::Error> {
        (self.make)(version)
    }

    /// The newest API version the engine announced in an answer's `Api-Version`
    /// header (every answer carries it, `/_ping` included), once one arrived.
    pub(super) fn announced_version(&self) -> Option<ClientVersion> {
        parse_version(self.announced.get()?)
    }
}

pub(super) fn unix_keep_alive(socket: &Path, timeout_secs: u64) -> KeepAlive {
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(IDLE_TIMEOUT)
        .build(hyperlocal::UnixConnector);
    let announced = Arc::new(OnceLock::new());
    let seen = announced.clone();
    let transport = move |req: BollardRequest| {
        let client = client.clone();
        let seen = seen.clone();
        async move {
            let resp = client
                .request(req)
                .await
                .map_err(bollard::errors::Error::from)?;
            // The first header seen is kept; later answers are not read for it.
            if seen.get().is_none() {
                if let Some(v) = resp
                    .headers()
                    .get("api-version")
                    .and_then(|v| v.to_str().ok())
                {
                    let _ = seen.set(v.to_string());
                }
            }
            let announced = resp
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            if announced > MAX_BODY_BYTES {
                return Err(bollard::errors::Error::IOError {
                    err: std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("the engine announced a {announced}-byte answer, over the {MAX_BODY_BYTES}-byte limit"),
                    ),
                });
            }
            Ok(resp)
        }
    };
    // hyperlocal reads the socket path from the URI's host, hex-encoded.
    let host = format!("unix://{}", hex(socket.as_os_str().as_encoded_bytes()));
    KeepAlive {
        make: Box::new(move |version| {
            Docker::connect_with_custom_transport(
                transport.clone(),
                Some(host.clone()),
                timeout_secs,
                version,
            )
        }),
        announced,
    }
}

/// "1.41" as a version; anything else (a hostile or odd header) as none.
fn parse_version(text: &str) -> Option<ClientVersion> {
    let (major, minor) = text.trim().split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_announced_api_version_parses_and_anything_else_is_none() {
        let v = super::parse_version("1.41").unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        assert!(super::parse_version("1").is_none());
        assert!(super::parse_version("1.x").is_none());
        assert!(super::parse_version("").is_none());
    }

    #[test]
    fn socket_paths_hex_encode_like_hyperlocal() {
        assert_eq!(super::hex(b"/a.sock"), "2f612e736f636b");
    }
}
