//! A small HTTP endpoint for /status, /healthz and /metrics. GET only; one
//! request per connection keeps it tiny.

use super::status::Status;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub async fn serve(listener: TcpListener, status: Arc<Mutex<Status>>) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let status = status.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let n =
                match tokio::time::timeout(std::time::Duration::from_secs(5), sock.read(&mut buf))
                    .await
                {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let (code, content_type, body) = respond(path, &status);
            let head = format!("HTTP/1.1 {code}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body.as_bytes()).await;
        });
    }
}

fn respond(path: &str, status: &Mutex<Status>) -> (&'static str, &'static str, String) {
    let Ok(s) = status.lock() else {
        return (
            "500 Internal Server Error",
            "text/plain",
            "status unavailable\n".into(),
        );
    };
    match path.split('?').next().unwrap_or("/") {
        "/status" => (
            "200 OK",
            "application/json",
            serde_json::to_string_pretty(&*s).unwrap_or_default(),
        ),
        "/healthz" if s.disconnected_since.is_none() => ("200 OK", "text/plain", "ok\n".into()),
        "/healthz" => (
            "503 Service Unavailable",
            "text/plain",
            format!(
                "engine disconnected since {}\n",
                s.disconnected_since.clone().unwrap_or_default()
            ),
        ),
        "/metrics" => ("200 OK", "text/plain; version=0.0.4", s.metrics.render()),
        _ => (
            "404 Not Found",
            "text/plain",
            "try /status, /healthz or /metrics\n".into(),
        ),
    }
}
