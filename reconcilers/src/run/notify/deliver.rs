//! Getting one notification to one receiver: the URL as it is now (a
//! SecretSet key may have been rotated), a bounded POST with retries, and a
//! rate limit per receiver so a flapping system cannot flood a phone.

use super::format::{endpoint, render, Endpoint};
use super::{redact, Notification, Severity};
use crate::run::secret_ref::{SecretSource, SharedSecret};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

const ATTEMPTS: u32 = 4;
/// At most this many deliveries per receiver per RATE_WINDOW; the rest are
/// counted and reported in one summary when there is room again.
pub const RATE_LIMIT: usize = 10;
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Where one receiver is.
#[derive(Clone)]
pub enum Target {
    Fixed(Endpoint),
    /// Read at each delivery: `secret:ops/NTFY_URL` follows the SecretSet.
    Secret(SecretSource, SharedSecret),
}

impl Target {
    /// For logs: never the path or query, which may hold a token.
    pub fn describe(&self) -> String {
        match self {
            Target::Fixed(e) => redact(&e.url),
            Target::Secret(source, _) => source.to_string(),
        }
    }

    pub fn current(&self) -> Result<Endpoint, String> {
        match self {
            Target::Fixed(e) => Ok(e.clone()),
            Target::Secret(source, shared) => {
                let value = shared
                    .read()
                    .ok()
                    .and_then(|v| v.as_ref().map(|v| v.expose().to_string()))
                    .ok_or_else(|| format!("{source}: not available (yet)"))?;
                endpoint(&value).map_err(|_| format!("{source}: not a webhook URL"))
            }
        }
    }
}

/// Sliding-window rate limit with a count of what it held back.
#[derive(Debug, Default)]
pub struct Window {
    sent: VecDeque<Instant>,
    pub suppressed: u64,
}

impl Window {
    fn prune(&mut self, now: Instant) {
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW)
        {
            self.sent.pop_front();
        }
    }

    /// Whether a delivery may go out now; counts it either way.
    pub fn admit(&mut self, now: Instant) -> bool {
        self.prune(now);
        if self.sent.len() < RATE_LIMIT {
            self.sent.push_back(now);
            true
        } else {
            self.suppressed += 1;
            false
        }
    }

    /// How many were held back, once there is room to say so.
    pub fn take_suppressed(&mut self, now: Instant) -> Option<u64> {
        self.prune(now);
        if self.suppressed == 0 || self.sent.len() >= RATE_LIMIT {
            return None;
        }
        self.sent.push_back(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// The summary sent after a burst was held back.
pub fn suppressed_summary(count: u64, time: String) -> Notification {
    Notification {
        event: "rate-limited".into(),
        severity: Severity::Warning,
        resource: None,
        message: format!(
            "{count} notification(s) were not sent: more than {RATE_LIMIT} in {}s; see `lucidctl status` and the log",
            RATE_WINDOW.as_secs()
        ),
        revision: None,
        time,
    }
}

/// Delivers with retries (1 s, 2 s, 4 s); logs a final failure.
pub async fn deliver(target: &Target, n: &Notification) {
    let mut pause = Duration::from_secs(1);
    for attempt in 1..=ATTEMPTS {
        match deliver_once(target, n).await {
            Ok(()) => return,
            Err(why) if attempt == ATTEMPTS => {
                tracing::warn!(
                    "notify {}: {} not delivered: {why}",
                    target.describe(),
                    n.event
                );
            }
            Err(_) => {}
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
}

/// One attempt, for `lucidctl notify test` and the retries above.
pub async fn deliver_once(target: &Target, n: &Notification) -> Result<(), String> {
    let endpoint = target.current()?;
    let rendered = render(endpoint.format, n);
    tokio::task::spawn_blocking(move || post(&endpoint.url, &rendered))
        .await
        .map_err(|e| e.to_string())?
}

fn post(url: &str, r: &super::format::Rendered) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(true)
        .build()
        .into();
    let mut request = agent.post(url).header("Content-Type", r.content_type);
    for (k, v) in &r.headers {
        request = request.header(*k, v.as_str());
    }
    request.send(r.body.as_str()).map(|_| ()).map_err(|e| {
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
    use super::*;

    #[test]
    fn a_burst_beyond_the_limit_is_held_back_and_summed_up_once_there_is_room() {
        let mut w = Window::default();
        let t0 = Instant::now();
        let admitted = (0..25).filter(|_| w.admit(t0)).count();
        assert_eq!(admitted, RATE_LIMIT);
        assert_eq!(w.suppressed, 15);
        assert_eq!(w.take_suppressed(t0), None, "no room yet");
        let later = t0 + RATE_WINDOW;
        assert_eq!(w.take_suppressed(later), Some(15));
        assert_eq!(w.take_suppressed(later), None, "said once");
        assert!(w.admit(later));
    }
}
