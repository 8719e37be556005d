//! Issue 18, defect 3: an engine that trickles a body kept `diff` running
//! forever (bollard's timeout covers the headers only), a 10 GiB
//! Content-Length was read into memory, and an engine's error text was
//! printed whole. A hostile engine on a unix socket, as the real one is.

use reconcilers::engine::{Engine, EngineApi};
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

fn serve(listener: UnixListener) {
    for mut sock in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            let n = sock.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let reply = |status: &str, body: &str| {
                format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
            };
            if path.ends_with("/_ping") {
                let _ = sock.write_all(reply("200 OK", "OK").as_bytes());
            } else if path.ends_with("/version") {
                let _ = sock.write_all(
                    reply("200 OK", r#"{"ApiVersion":"1.41","MinAPIVersion":"1.12","Version":"20.10.24","Os":"linux","Arch":"amd64"}"#).as_bytes(),
                );
            } else if path.contains("/containers/bad/json") {
                let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(20_000));
                let _ = sock.write_all(reply("500 Internal Server Error", &long).as_bytes());
            } else if !path.contains("/containers/slow/json") {
                // Lists: a body announced at 10 GiB.
                let _ = sock.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n[",
                );
                std::thread::sleep(Duration::from_secs(5));
            } else {
                // A body promised large and trickled one byte a second.
                let _ = sock.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n[",
                );
                for _ in 0..60 {
                    std::thread::sleep(Duration::from_secs(1));
                    if sock.write_all(b" ").is_err() {
                        return;
                    }
                }
            }
        });
    }
}

#[tokio::test]
async fn a_trickled_body_ends_at_the_deadline_and_long_errors_are_cut() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("engine.sock");
    let listener = UnixListener::bind(&socket).expect("bind");
    std::thread::spawn(move || serve(listener));
    let engine = Engine::connect(Some(&format!("unix://{}", socket.display())))
        .await
        .expect("the fake engine answers ping and version")
        .with_deadline(Duration::from_secs(2));
    let started = Instant::now();
    let err = engine
        .inspect_container("slow")
        .await
        .expect_err("never completes");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        err.to_string().contains("no complete answer within"),
        "{err}"
    );
    let err = engine
        .observe(&Default::default())
        .await
        .expect_err("too large");
    assert!(err.to_string().contains("over the"), "{err}");
    let err = engine.inspect_container("bad").await.expect_err("a 500");
    assert!(
        err.to_string().len() < 600,
        "{} bytes",
        err.to_string().len()
    );
}
