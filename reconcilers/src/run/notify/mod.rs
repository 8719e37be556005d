//! Notifications: what a person must hear about from a headless Pi. Each
//! `--notify` target is a webhook URL (generic JSON
//! `{"event", "severity", "resource", "message", "revision", "time"}`, ntfy,
//! Slack or Discord: see `format`) or a reference to one
//! (`secret:SECRETSET/KEY`, `file:PATH`, `env:VAR`) so tokens stay out of git
//! and argv.
//!
//! Guarantees: sending never blocks or fails a pass (a bounded queue and a
//! delivery task per target); each delivery retries with backoff (1 s, 2 s,
//! 4 s) and a 5 s timeout; the same event for the same resource is sent at
//! most once per ten minutes; each target gets at most 10 per minute, the
//! rest summed up in one `rate-limited` notification; messages carry no
//! secret values (they are built from outcomes and diagnostics, which never
//! hold them), and URLs, which may hold tokens, are never logged whole.

mod deliver;
pub mod format;

pub use deliver::{deliver_once, Target};

use super::secret_ref::{SecretSource, SecretWatch};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const QUEUE: usize = 256;
const QUIET_FOR: Duration = Duration::from_secs(600);

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
    /// `policy-violation`, `volume-lost`, `drift-repaired`, `input-broken`,
    /// `input-recovered`, `engine-unreachable`, `engine-recovered`,
    /// `git-failing`, `git-recovered`, `rate-limited`, `test`.
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
    /// One queue and delivery task per target: a receiver that is down delays only itself.
    queues: Vec<mpsc::Sender<Notification>>,
    recent: Mutex<HashMap<(String, Option<String>), Instant>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--notify {0}: expected an http:// or https:// webhook URL (optionally prefixed ntfy+, slack+, discord+ or json+), or secret:SECRETSET/KEY, file:PATH or env:VAR")]
pub struct BadUrl(String);

/// Reads one `--notify` value; references are watched in `watch`.
pub fn target(spec: &str, watch: &SecretWatch) -> Result<Target, BadUrl> {
    if SecretSource::is_reference(spec) {
        let source: SecretSource = spec.parse().map_err(|_| BadUrl(redact(spec)))?;
        let shared = watch.watch(&source).map_err(|e| BadUrl(e.to_string()))?;
        return Ok(Target::Secret(source, shared));
    }
    format::endpoint(spec).map(Target::Fixed)
}

/// The scheme and host of a URL, for logs: the path and query may hold a token.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    format!("{scheme}://{host}/...")
}

impl Notifier {
    /// Starts one delivery task per target (inside a tokio runtime).
    pub fn spawn(specs: &[String], watch: &SecretWatch) -> Result<Notifier, BadUrl> {
        let targets = specs
            .iter()
            .map(|s| target(s, watch))
            .collect::<Result<Vec<_>, _>>()?;
        let queues = targets
            .into_iter()
            .map(|t| {
                let (tx, rx) = mpsc::channel::<Notification>(QUEUE);
                tokio::spawn(run_target(t, rx));
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

/// One target's delivery task: rate-limited, with a summary of what was held back.
async fn run_target(target: Target, mut rx: mpsc::Receiver<Notification>) {
    let mut window = deliver::Window::default();
    loop {
        let next = if window.suppressed > 0 {
            match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
                Ok(None) => return,
                Ok(Some(n)) => Some(n),
                Err(_) => None,
            }
        } else {
            match rx.recv().await {
                None => return,
                some => some,
            }
        };
        let now = Instant::now();
        if let Some(count) = window.take_suppressed(now) {
            let summary = deliver::suppressed_summary(count, super::status::now_rfc3339());
            deliver::deliver(&target, &summary).await;
        }
        if let Some(n) = next {
            if window.admit(now) {
                deliver::deliver(&target, &n).await;
            } else {
                tracing::warn!(
                    "notify {}: rate limit reached; {} held back",
                    target.describe(),
                    n.event
                );
            }
        }
    }
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
