//! `lucidctl notify test` against a receiver on loopback: each format
//! arrives as its receiver expects it, a dead target fails the command, and
//! a token in a URL is never printed.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// Requests as (request line and headers, body), answered 200.
fn receiver() -> (u16, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(mut sock) = sock else { continue };
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = sock.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        keep.lock()
                            .unwrap()
                            .push((head.to_string(), body.to_string()));
                        let _ = sock.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                        break;
                    }
                }
            }
        }
    });
    (port, got)
}

fn notify_test(targets: &[String]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lucidctl"));
    cmd.args(["notify", "test"]);
    for t in targets {
        cmd.args(["--notify", t]);
    }
    cmd.output().unwrap()
}

#[test]
fn each_format_arrives_as_its_receiver_expects_it() {
    let (port, got) = receiver();
    let targets = [
        format!("http://127.0.0.1:{port}/generic"),
        format!("ntfy+http://127.0.0.1:{port}/lucid-topic"),
        format!("slack+http://127.0.0.1:{port}/services/T/B/tok3n"),
        format!("discord+http://127.0.0.1:{port}/api/webhooks/1/tok3n"),
    ];
    let out = notify_test(&targets);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        4,
        "{stdout}"
    );
    assert!(
        !stdout.contains("tok3n"),
        "a token in a URL was printed:\n{stdout}"
    );
    let got = got.lock().unwrap().clone();
    let find = |path: &str| {
        got.iter()
            .find(|(h, _)| h.contains(path))
            .cloned()
            .unwrap_or_else(|| panic!("nothing at {path}: {got:?}"))
    };
    let (_, generic) = find("/generic");
    let v: serde_json::Value = serde_json::from_str(&generic).unwrap();
    assert_eq!(v["event"], "test");
    assert_eq!(v["severity"], "info");
    let (head, body) = find("/lucid-topic");
    assert!(
        head.to_ascii_lowercase().contains("title: lucidctl: test"),
        "{head}"
    );
    assert!(body.starts_with("[INFO] test: "), "{body}");
    let (_, slack) = find("/services/T/B");
    assert!(serde_json::from_str::<serde_json::Value>(&slack).unwrap()["text"].is_string());
    let (_, discord) = find("/api/webhooks");
    assert!(serde_json::from_str::<serde_json::Value>(&discord).unwrap()["content"].is_string());
}

#[test]
fn a_dead_target_fails_the_command_and_names_only_its_host() {
    let (port, _) = receiver();
    let out = notify_test(&[
        format!("http://127.0.0.1:{port}/ok"),
        "http://127.0.0.1:9/hooks/s3cr3t-token".into(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAILED  http://127.0.0.1:9/..."),
        "{stdout}"
    );
    assert!(!stdout.contains("s3cr3t"), "{stdout}");
}

#[test]
fn a_target_from_a_file_is_read_and_a_bad_one_is_refused_before_sending() {
    let (port, got) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("url");
    std::fs::write(&file, format!("http://127.0.0.1:{port}/from-file\n")).unwrap();
    let out = notify_test(&[format!("file:{}", file.display())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(got
        .lock()
        .unwrap()
        .iter()
        .any(|(h, _)| h.contains("/from-file")));

    let out = notify_test(&["ftp://example.org/x".into()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("--notify ftp://example.org/...")
            && stderr.contains("secret:SECRETSET/KEY"),
        "{stderr}"
    );
}
