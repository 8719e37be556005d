//! A keep-alive transport over a unix socket. bollard's own unix transport
//! opens a connection per call; reusing connections saves about 100 µs per
//! call locally and a round trip per call through an SSH tunnel.

use bollard::{BollardRequest, Docker};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::path::Path;
use std::time::Duration;

/// Idle connections are dropped after this; the engine keeps them open longer.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) fn unix_keep_alive(
    socket: &Path,
    timeout_secs: u64,
) -> Result<Docker, bollard::errors::Error> {
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(IDLE_TIMEOUT)
        .build(hyperlocal::UnixConnector);
    let transport = move |req: BollardRequest| {
        let client = client.clone();
        async move {
            client
                .request(req)
                .await
                .map_err(bollard::errors::Error::from)
        }
    };
    // hyperlocal reads the socket path from the URI's host, hex-encoded.
    let host = hex(socket.as_os_str().as_encoded_bytes());
    Docker::connect_with_custom_transport(
        transport,
        Some(format!("unix://{host}")),
        timeout_secs,
        bollard::API_DEFAULT_VERSION,
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn socket_paths_hex_encode_like_hyperlocal() {
        assert_eq!(super::hex(b"/a.sock"), "2f612e736f636b");
    }
}
