//! The API version is agreed from a `/_ping`: every engine answer carries an
//! `Api-Version` header, while `/version` makes the engine run `runc --version`
//! and ask containerd (10 ms on the bench host, more than the rest of a no-op
//! dry run). `/version` stays the fallback for an answer without the header
//! (a socket proxy may drop it) or with one that does not parse.
//! A scripted engine on a unix socket records what it was asked.

use reconcilers::engine::Engine;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Serves keep-alive connections: `/_ping` with `ping_header` (if any) and
/// `/version` announcing 1.43. Every request path is recorded.
fn scripted_engine(socket: &Path, ping_header: Option<&'static str>) -> Arc<Mutex<Vec<String>>> {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let listener = UnixListener::bind(socket).expect("bind");
    let log = asked.clone();
    std::thread::spawn(move || {
        for sock in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(sock);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    // Headers end at a blank line; these requests have no body.
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 {
                            return;
                        }
                        if header.trim().is_empty() {
                            break;
                        }
                    }
                    log.lock().unwrap().push(path.clone());
                    let (body, header) = if path.ends_with("/_ping") {
                        (
                            "OK".to_string(),
                            ping_header.map(|v| format!("Api-Version: {v}\r\n")),
                        )
                    } else if path.ends_with("/version") {
                        (
                            r#"{"ApiVersion":"1.43","MinAPIVersion":"1.12","Version":"24.0.7","Os":"linux","Arch":"arm64"}"#.to_string(),
                            None,
                        )
                    } else {
                        ("[]".to_string(), None)
                    };
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{}Content-Length: {}\r\n\r\n{body}",
                        header.unwrap_or_default(),
                        body.len()
                    );
                    if reader.get_mut().write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    asked
}

async fn agreed(ping_header: Option<&'static str>) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("engine.sock");
    let asked = scripted_engine(&socket, ping_header);
    let host = format!("unix://{}", socket.display());
    let engine = Engine::connect(Some(&host)).await.expect("connects");
    let paths = asked.lock().unwrap().clone();
    (engine.api_version().to_string(), paths)
}

fn asked_version(paths: &[String]) -> bool {
    paths.iter().any(|p| p.ends_with("/version"))
}

#[tokio::test]
async fn the_version_a_ping_announces_is_used_without_asking_for_version() {
    let (version, paths) = agreed(Some("1.44")).await;
    assert_eq!(version, "1.44");
    assert!(!asked_version(&paths), "no /version call: {paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("/_ping")), "{paths:?}");
}

#[tokio::test]
async fn an_engine_newer_than_lucidctl_is_spoken_to_in_lucidctls_newest_version() {
    let (version, paths) = agreed(Some("1.99")).await;
    let newest = bollard::API_DEFAULT_VERSION;
    assert_eq!(
        version,
        format!("{}.{}", newest.major_version, newest.minor_version)
    );
    assert!(!asked_version(&paths), "{paths:?}");
}

#[tokio::test]
async fn a_ping_without_the_header_falls_back_to_the_version_call() {
    let (version, paths) = agreed(None).await;
    assert_eq!(version, "1.43", "from /version: {paths:?}");
    assert!(asked_version(&paths), "{paths:?}");
}

#[tokio::test]
async fn a_header_that_is_no_version_falls_back_to_the_version_call() {
    let (version, paths) = agreed(Some("latest; rm -rf /")).await;
    assert_eq!(version, "1.43", "from /version: {paths:?}");
    assert!(asked_version(&paths), "{paths:?}");
}
