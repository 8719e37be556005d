//! Notifications: what a person must hear about from a headless Pi, as a
//! generic JSON webhook (`{"event", "severity", "resource", "message",
//! "revision", "time"}`, POSTed to each `--notify` URL).
//!
//! Guarantees: sending never blocks or fails a pass (a bounded queue and a
//! delivery task per URL); each delivery retries with backoff (1 s, 2 s, 4 s) and a
//! 5 s timeout; the same event for the same resource is sent at most once
//! per ten minutes; messages carry no secret values (they are built from
//! outcomes and diagnostics, which never hold them), and URLs, which may
//! hold tokens, are never logged whole.

use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const QUEUE: usize = 256;
const QUIET_FOR: Duration = Duration::from_secs(600);
const ATTEMPTS: u32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// `rollout-failed`, `rollout-held`, `crash-looping`, `unhealthy-restarted`,
    /// `policy-violation`, `volume-lost`, `input-broken`, `input-recovered`, `test`.
    pub event: String,
    pub severity: Severity,
    /// `Kind/name`, when the event concerns one resource.
    pub resource: Option<String>,
    pub message: String,
    pub revision: Option<String>,
    pub time: String,
}

/// Where notifications go; cheap to call from the loop.
pub struct Notifier {
    /// One queue and delivery task per URL: a receiver that is down delays only itself.
    queues: Vec<mpsc::Sender<Notification>>,
    recent: Mutex<HashMap<(String, Option<String>), Instant>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--notify {0}: only http:// and https:// webhook URLs are supported")]
pub struct BadUrl(String);

/// The scheme and host of a URL, for logs: the path and query may hold a token.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    format!("{scheme}://{host}/...")
}

impl Notifier {
    /// Starts the delivery task (inside a tokio runtime).
    pub fn spawn(urls: Vec<String>) -> Result<Notifier, BadUrl> {
        for u in &urls {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(BadUrl(redact(u)));
            }
        }
        let queues = urls
            .into_iter()
            .map(|url| {
                let (tx, mut rx) = mpsc::channel::<Notification>(QUEUE);
                tokio::spawn(async move {
                    while let Some(n) = rx.recv().await {
                        deliver(&url, &n).await;
                    }
                });
                tx
            })
            .collect();
        Ok(Notifier {
            queues,
            recent: Mutex::new(HashMap::new()),
        })
    }

    /// Queues `n` unless the same event for the same resource went out in
    /// the last ten minutes; a full queue drops it with a warning.
    pub fn send(&self, n: Notification) {
        let key = (n.event.clone(), n.resource.clone());
        if let Ok(mut recent) = self.recent.lock() {
            let now = Instant::now();
            recent.retain(|_, at| now.duration_since(*at) < QUIET_FOR);
            if recent.contains_key(&key) {
                return;
            }
            recent.insert(key, now);
        }
        for q in &self.queues {
            if q.try_send(n.clone()).is_err() {
                tracing::warn!("notification queue full; a notification was dropped");
            }
        }
    }

    /// Lets the same event be sent again at once (after its recovery).
    pub fn forget(&self, event: &str, resource: Option<&str>) {
        if let Ok(mut recent) = self.recent.lock() {
            recent.remove(&(event.to_string(), resource.map(str::to_string)));
        }
    }
}

async fn deliver(url: &str, n: &Notification) {
    let body = serde_json::to_string(n).unwrap_or_default();
    let mut pause = Duration::from_secs(1);
    for attempt in 1..=ATTEMPTS {
        let (u, b) = (url.to_string(), body.clone());
        let sent = tokio::task::spawn_blocking(move || post(&u, &b)).await;
        match sent {
            Ok(Ok(())) => return,
            Ok(Err(why)) if attempt == ATTEMPTS => {
                tracing::warn!("notify {}: {} not delivered: {why}", redact(url), n.event);
            }
            Err(why) if attempt == ATTEMPTS => {
                tracing::warn!("notify {}: {} not delivered: {why}", redact(url), n.event);
            }
            _ => {}
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
}

fn post(url: &str, body: &str) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(true)
        .build()
        .into();
    agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .map(|_| ())
        .map_err(|e| {
            // ureq's errors can repeat the URL; keep only the kind of failure.
            let text = e.to_string();
            if text.contains(url) {
                "request failed".to_string()
            } else {
                text.chars().take(200).collect()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn logs_show_the_host_never_the_token() {
        assert_eq!(
            redact("https://user:tok@hooks.example.org/services/T0/B1/SECRET?x=1"),
            "https://hooks.example.org/..."
        );
        assert_eq!(redact("http://127.0.0.1:9/x"), "http://127.0.0.1:9/...");
    }
}
