//! What the run loop reports: per resource, and as Prometheus metrics.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Readiness {
    Ready,
    Progressing,
    Degraded,
    CrashLooping,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceStatus {
    pub kind: String,
    pub name: String,
    pub state: Readiness,
    pub last_reconcile: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastGoodStatus {
    pub revision: String,
    pub since: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub applied_revision: Option<String>,
    pub last_reconcile: Option<String>,
    pub last_error: Option<String>,
    /// Set while the engine cannot be reached.
    pub disconnected_since: Option<String>,
    /// The state the loop converges on: the current input, or while that
    /// is broken, the last one that loaded and validated.
    pub last_good: Option<LastGoodStatus>,
    /// Why the current input cannot be used, with file:line:col.
    pub input_error: Option<String>,
    pub resources: Vec<ResourceStatus>,
    /// How long the last pass took, in seconds.
    pub last_duration_seconds: Option<f64>,
    /// Rollouts that failed, were rolled back and are not retried until the spec changes.
    pub held: Vec<crate::plan::Held>,
    /// Containers this project does not manage on a guarded network: never
    /// touched, reported until a person removes them.
    pub intruders: Vec<crate::plan::Intruder>,
    #[serde(skip)]
    pub metrics: Metrics,
    /// Recent events, served at GET /events and on the status page.
    #[serde(skip)]
    pub events: super::events::EventLog,
    /// The picture of the last good desired state, for the status page.
    #[serde(skip)]
    pub topology: Option<std::sync::Arc<crate::graph::Topology>>,
    /// What engine events concern this loop, from the last good state.
    #[serde(skip)]
    pub scope: Option<std::sync::Arc<super::triggers::Scope>>,
}

/// Reconcile duration buckets, in seconds.
pub const BUCKETS: [f64; 8] = [0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 120.0];

#[derive(Debug, Clone, Default)]
pub struct Metrics {
    pub reconciles: u64,
    pub errors: u64,
    /// Passes that left the engine matching the state they converged on:
    /// the last good one while the input is broken, which `errors` also
    /// counts (the input is an error; the engine is fine).
    pub converged: u64,
    pub duration_counts: [u64; BUCKETS.len()],
    pub duration_sum: f64,
    pub drift_repairs: BTreeMap<String, u64>,
    pub policy_violations: u64,
    /// POST /hooks/git requests by result: accepted, ignored, unauthorized.
    pub webhooks: BTreeMap<&'static str, u64>,
    /// When the last good desired state was loaded.
    pub last_good_since: Option<std::time::SystemTime>,
}

impl Metrics {
    pub fn observe_duration(&mut self, secs: f64) {
        self.duration_sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.duration_counts[i] += 1;
            }
        }
    }

    pub fn count_webhook(&mut self, result: &'static str) {
        *self.webhooks.entry(result).or_default() += 1;
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP lucidctl_reconciles_total Reconcile passes run.\n# TYPE lucidctl_reconciles_total counter\n");
        out.push_str(&format!("lucidctl_reconciles_total {}\n", self.reconciles));
        out.push_str("# HELP lucidctl_reconcile_errors_total Passes that ended in an error.\n# TYPE lucidctl_reconcile_errors_total counter\n");
        out.push_str(&format!(
            "lucidctl_reconcile_errors_total {}\n",
            self.errors
        ));
        out.push_str("# HELP lucidctl_converged_passes_total Passes that left the engine matching the desired state, or the last good one while the input is broken.\n# TYPE lucidctl_converged_passes_total counter\n");
        out.push_str(&format!(
            "lucidctl_converged_passes_total {}\n",
            self.converged
        ));
        out.push_str("# HELP lucidctl_reconcile_duration_seconds Duration of reconcile passes.\n# TYPE lucidctl_reconcile_duration_seconds histogram\n");
        for (i, b) in BUCKETS.iter().enumerate() {
            out.push_str(&format!(
                "lucidctl_reconcile_duration_seconds_bucket{{le=\"{b}\"}} {}\n",
                self.duration_counts[i]
            ));
        }
        out.push_str(&format!(
            "lucidctl_reconcile_duration_seconds_bucket{{le=\"+Inf\"}} {}\n",
            self.reconciles
        ));
        out.push_str(&format!(
            "lucidctl_reconcile_duration_seconds_sum {}\n",
            self.duration_sum
        ));
        out.push_str(&format!(
            "lucidctl_reconcile_duration_seconds_count {}\n",
            self.reconciles
        ));
        out.push_str("# HELP lucidctl_drift_repairs_total Changes made to repair drift, by kind.\n# TYPE lucidctl_drift_repairs_total counter\n");
        for (kind, n) in &self.drift_repairs {
            out.push_str(&format!(
                "lucidctl_drift_repairs_total{{kind=\"{kind}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP lucidctl_policy_violations_total Isolation-policy violations found and repaired.\n# TYPE lucidctl_policy_violations_total counter\n");
        out.push_str(&format!(
            "lucidctl_policy_violations_total {}\n",
            self.policy_violations
        ));
        out.push_str("# HELP lucidctl_webhook_requests_total POST /hooks/git requests, by result (accepted, ignored, unauthorized).\n# TYPE lucidctl_webhook_requests_total counter\n");
        for result in ["accepted", "ignored", "unauthorized"] {
            out.push_str(&format!(
                "lucidctl_webhook_requests_total{{result=\"{result}\"}} {}\n",
                self.webhooks.get(result).copied().unwrap_or(0)
            ));
        }
        if let Some(since) = self.last_good_since {
            let age = since.elapsed().map(|d| d.as_secs_f64()).unwrap_or(0.0);
            out.push_str("# HELP lucidctl_last_good_age_seconds Age of the desired state the loop converges on.\n# TYPE lucidctl_last_good_age_seconds gauge\n");
            out.push_str(&format!("lucidctl_last_good_age_seconds {age:.1}\n"));
        }
        out
    }
}

pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a calendar date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_histograms() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_417), (2025, 11, 25));
        let mut m = Metrics::default();
        m.reconciles = 2;
        m.converged = 1;
        m.observe_duration(0.07);
        m.observe_duration(3.0);
        let text = m.render();
        assert!(
            text.contains("lucidctl_reconcile_duration_seconds_bucket{le=\"0.1\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("lucidctl_reconcile_duration_seconds_bucket{le=\"5\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("lucidctl_converged_passes_total 1\n"),
            "{text}"
        );
    }
}
