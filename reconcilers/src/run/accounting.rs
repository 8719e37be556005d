//! What a pass's outcomes mean for people: drift repairs, policy
//! violations, lost volumes, crash loops, rolled-back and moved images, and
//! outages of the engine or git, turned into metrics and notifications.

use super::notify::Severity;
use super::{Controller, CRASH_LIMIT, CRASH_WINDOW};
use crate::exec::{describe, Outcome, Unhealthy};
use desired_state::model::{Kind, Spec};
use desired_state::DesiredState;
use std::collections::BTreeSet;
use std::time::Instant;

impl Controller<'_> {
    /// A moved tag rolled out: one notification naming both digests. A
    /// failed rollout of it is already reported as rollout-failed, with them.
    pub(super) fn report_moved_images(&mut self, rolled_out: bool) {
        for m in std::mem::take(&mut self.moved_images) {
            if !rolled_out {
                continue;
            }
            let from = m.from.as_deref().map_or("?", crate::plan::short_digest);
            self.notify(
                "image-updated",
                Severity::Info,
                Some(format!("Image/{}", m.chosen)),
                format!(
                    "{} moved from {from} to {}; rolled out",
                    m.chosen,
                    crate::plan::short_digest(&m.to)
                ),
            );
        }
    }

    /// Engine or git down for longer than the threshold, and recoveries.
    pub(super) fn report_outages(&mut self) {
        let engine_down = self
            .status
            .lock()
            .ok()
            .and_then(|s| s.disconnected_since.clone())
            .map(|since| format!("disconnected since {since}"));
        let git = self.source.fetch_error();
        let due = self
            .outages
            .observe(Instant::now(), engine_down.as_deref(), git.as_deref());
        for (event, severity, message) in due {
            if let (Some(n), Some(failing)) = (&self.notifier, recovered_from(event)) {
                n.forget(failing, None);
            }
            self.notify(event, severity, None, message);
        }
    }

    /// Drift repairs, policy violations, lost volumes and crash loops.
    pub(super) fn account(&mut self, state: &DesiredState, outcomes: &[(Kind, String, Outcome)]) {
        let isolated: BTreeSet<String> = state
            .of_kind(Kind::IsolationPolicy)
            .filter_map(|r| match &r.spec {
                Spec::IsolationPolicy(p) => {
                    Some(format!("{}{}", self.config.name_prefix, p.network))
                }
                _ => None,
            })
            .collect();
        let mut events: Vec<(&str, Severity, Option<String>, String)> = Vec::new();
        let mut repaired: Vec<String> = Vec::new();
        let Ok(mut s) = self.status.lock() else {
            return;
        };
        for (kind, name, o) in outcomes {
            // On the revision the loop already converged on, every change
            // repairs drift; during a rollout, or while another resource keeps
            // failing, only the changes whose reasons say so do.
            let drift = self.repairing_drift || self.pass_outside.contains(&(*kind, name.clone()));
            if self.first_pass_done && !o.is_failure() && drift {
                *s.metrics.drift_repairs.entry(kind.to_string()).or_default() += 1;
                repaired.push(format!("{kind}/{name} {}", describe(o)));
            }
            let resource = Some(format!("{kind}/{name}"));
            match o {
                Outcome::RolledBack(why) => {
                    let image = state
                        .resources
                        .iter()
                        .find(|r| r.kind() == *kind && r.name() == name)
                        .and_then(|r| r.spec.workload())
                        .map(|w| w.image.with_default_tag());
                    let moved = self
                        .moved_images
                        .iter()
                        .find(|m| Some(&m.declared) == image.as_ref())
                        .map(|m| {
                            format!(
                                " (image {} {} -> {})",
                                m.chosen,
                                m.from.as_deref().map_or("?", crate::plan::short_digest),
                                crate::plan::short_digest(&m.to)
                            )
                        })
                        .unwrap_or_default();
                    let message = format!("rollout failed and was rolled back{moved}: {why}; the previous container runs, and this spec is held");
                    events.push((
                        "rollout-failed",
                        Severity::Critical,
                        resource.clone(),
                        message,
                    ));
                }
                Outcome::Disconnected(n) if isolated.contains(n) => {
                    s.metrics.policy_violations += 1;
                    let message =
                        format!("{kind}/{name} was attached to isolated network {n}; disconnected");
                    tracing::error!("POLICY VIOLATION: {message}");
                    events.push((
                        "policy-violation",
                        Severity::Critical,
                        resource.clone(),
                        message,
                    ));
                }
                Outcome::Created
                    if *kind == Kind::Volume && self.known.contains(&(*kind, name.clone())) =>
                {
                    let message = format!("Volume/{name} was removed outside lucidctl and has been recreated EMPTY; its data is gone");
                    tracing::error!("DATA LOSS: {message}");
                    events.push(("volume-lost", Severity::Critical, resource.clone(), message));
                }
                Outcome::Restarted(why, Unhealthy(true)) => {
                    events.push((
                        "unhealthy-restarted",
                        Severity::Warning,
                        resource.clone(),
                        format!("restarted: {why}"),
                    ));
                }
                _ => {}
            }
            // Only a start after the container stopped or died, or a restart
            // for staying unhealthy, is a crash restart; a recreate for a
            // changed spec or a container removed by hand is not (counting
            // those held a service whose file was edited five times in ten minutes).
            let crash_restart =
                matches!(o, Outcome::Started | Outcome::Restarted(_, Unhealthy(true)));
            if crash_restart && *kind == Kind::Service {
                if let Some(hold) = self.crash_loops.record_restart(name, Instant::now()) {
                    let message = format!(
                        "Service/{name} is crash-looping ({CRASH_LIMIT} restarts in {}s); holding it for {}s",
                        CRASH_WINDOW.as_secs(),
                        hold.as_secs()
                    );
                    tracing::error!("{message}");
                    events.push((
                        "crash-looping",
                        Severity::Critical,
                        resource.clone(),
                        message,
                    ));
                }
            }
        }
        drop(s);
        self.remember_existing(state, outcomes);
        if !repaired.is_empty() {
            // One notification per pass, never de-duplicated: each batch is news.
            if let Some(n) = &self.notifier {
                n.forget("drift-repaired", None);
            }
            let mut message = format!(
                "repaired {} change(s) made outside lucidctl: ",
                repaired.len()
            );
            message.push_str(
                &repaired
                    .iter()
                    .take(20)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            if repaired.len() > 20 {
                message.push_str(", ...");
            }
            events.push(("drift-repaired", Severity::Info, None, message));
        }
        for (event, severity, resource, message) in events {
            self.notify(event, severity, resource, message);
        }
    }
}

impl Controller<'_> {
    /// Every declared resource that is there after this pass: it was not
    /// missing, or making it succeeded.
    fn remember_existing(&mut self, state: &DesiredState, outcomes: &[(Kind, String, Outcome)]) {
        let made: BTreeSet<(Kind, &str)> = outcomes
            .iter()
            .filter(|(_, _, o)| !o.is_failure() && *o != Outcome::Interrupted)
            .map(|(k, n, _)| (*k, n.as_str()))
            .collect();
        let declared: BTreeSet<(Kind, String)> = state
            .resources
            .iter()
            .map(|r| (r.kind(), r.name().to_string()))
            .collect();
        // A resource the files dropped and later declare again is new.
        self.known.retain(|k| declared.contains(k));
        for key in declared {
            if !self.pass_missing.contains(&key) || made.contains(&(key.0, key.1.as_str())) {
                self.known.insert(key);
            }
        }
    }
}

/// The failing event a recovery ends, so the next failure is sent at once.
pub(super) fn recovered_from(event: &str) -> Option<&'static str> {
    match event {
        "engine-recovered" => Some("engine-unreachable"),
        "git-recovered" => Some("git-failing"),
        _ => None,
    }
}
