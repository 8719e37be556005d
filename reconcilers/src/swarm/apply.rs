//! Carries a `SwarmPlan` out: networks, configs and secrets first, then the
//! services in dependency waves, each wave gated on the health of every
//! task of the waves before it (Swarm itself starts everything at once),
//! then old configs and secrets once nothing uses them. A revision Swarm
//! rolls back is labelled on the service and held.

use super::model::*;
use super::plan::{SwarmAction, SwarmPlan};
use crate::engine::{EngineError, SwarmApi};
use desired_state::model::Kind;
use desired_state::DesiredState;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SwarmApplyOptions {
    /// How long one wave may take to become healthy.
    pub timeout: Duration,
    /// How often task states are read while waiting.
    pub poll: Duration,
}

impl Default for SwarmApplyOptions {
    fn default() -> Self {
        SwarmApplyOptions {
            timeout: Duration::from_secs(300),
            poll: Duration::from_millis(250),
        }
    }
}

/// One object acted on or waited for.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmOutcome {
    pub kind: String,
    pub name: String,
    /// None: only waited for (nothing to change, but a later wave needs it ready).
    pub action: Option<SwarmAction>,
    pub result: Result<Duration, String>,
}

#[derive(Debug, Clone, Default)]
pub struct SwarmReport {
    pub outcomes: Vec<SwarmOutcome>,
    /// Services whose new revision Swarm rolled back: held from now on.
    pub held: Vec<String>,
}

impl SwarmReport {
    pub fn failures(&self) -> impl Iterator<Item = &SwarmOutcome> {
        self.outcomes.iter().filter(|o| o.result.is_err())
    }
}

/// Why a service did not become ready.
#[derive(Debug, Clone, PartialEq)]
enum NotReady {
    RolledBack(String),
    Failed(String),
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::RolledBack(m) => write!(f, "Swarm rolled the update back: {m}"),
            NotReady::Failed(m) => f.write_str(m),
        }
    }
}

/// Tasks of the current revision that failed before one is ready: then it
/// is not coming up (Swarm would restart it forever).
const FAILED_TASKS_LIMIT: usize = 3;

pub async fn apply(
    api: &dyn SwarmApi,
    state: &DesiredState,
    desired: &SwarmDesired,
    plan: &SwarmPlan,
    options: &SwarmApplyOptions,
    on_line: &(dyn Fn(&str) + Sync),
) -> SwarmReport {
    let mut report = SwarmReport::default();
    let record = |report: &mut SwarmReport,
                  kind: &str,
                  name: &str,
                  action,
                  started: Instant,
                  r: Result<(), String>| {
        let result = r.map(|_| started.elapsed());
        match &result {
            Ok(d) => on_line(&format!(
                "✔ {kind}/{name} {} {:.1}s",
                action_word(action),
                d.as_secs_f64()
            )),
            Err(e) => on_line(&format!("✘ {kind}/{name} {}: {e}", action_word(action))),
        }
        report.outcomes.push(SwarmOutcome {
            kind: kind.to_string(),
            name: name.to_string(),
            action,
            result,
        });
    };
    // 1. What services mount or join: networks, configs, secrets.
    for c in plan
        .changes
        .iter()
        .filter(|c| c.action == SwarmAction::Create)
    {
        let started = Instant::now();
        let r = if c.kind == "Network" {
            let Some(n) = desired.networks.iter().find(|n| n.name == c.name) else {
                continue;
            };
            api.create_overlay(n).await
        } else if c.kind == "config" || c.kind == "secret" {
            let Some(d) = desired.data.iter().find(|d| d.name == c.name) else {
                continue;
            };
            api.create_data(d).await
        } else {
            continue;
        };
        record(
            &mut report,
            &c.kind,
            &c.name,
            Some(c.action),
            started,
            r.map_err(|e| e.to_string()),
        );
    }
    if report.failures().next().is_some() {
        return report;
    }
    // 2. Services and Jobs, wave by wave.
    let names: BTreeSet<String> = desired
        .services
        .iter()
        .map(|s| s.resource.clone())
        .collect();
    let waves = crate::plan::dependency_waves(state, &names);
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    for wave in waves {
        let mut started_here = Vec::new();
        for resource in &wave {
            let Some(s) = desired.services.iter().find(|s| &s.resource == resource) else {
                continue;
            };
            let deps = state
                .resources
                .iter()
                .find(|r| r.name() == resource)
                .and_then(|r| r.spec.workload())
                .map(|w| {
                    w.depends_on
                        .iter()
                        .map(|d| d.name.clone())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            if let Some(dep) = deps.iter().find(|d| failed.contains_key(*d)) {
                let change = plan.change(&s.name).map(|c| c.action);
                let why = format!("dependency {dep} failed: {}", failed[dep]);
                failed.insert(resource.clone(), why.clone());
                record(
                    &mut report,
                    s.kind.as_str(),
                    &s.name,
                    change,
                    Instant::now(),
                    Err(why),
                );
                continue;
            }
            let action = plan.change(&s.name).map(|c| c.action);
            let started = Instant::now();
            let sent = match action {
                Some(SwarmAction::Create) => api.create_service(s).await,
                Some(SwarmAction::Update) => api.update_service(s, false).await,
                Some(SwarmAction::Run) => api.update_service(s, true).await,
                Some(SwarmAction::Held) => {
                    report.held.push(s.name.clone());
                    on_line(&format!("! {}/{} held: its revision was rolled back before (apply --retry-failed to try again)", s.kind.as_str(), s.name));
                    continue;
                }
                _ => Ok(()),
            };
            match sent {
                Ok(()) => started_here.push((s, action, started)),
                Err(e) => {
                    failed.insert(resource.clone(), e.to_string());
                    record(
                        &mut report,
                        s.kind.as_str(),
                        &s.name,
                        action,
                        started,
                        Err(e.to_string()),
                    );
                }
            }
        }
        let waits = started_here
            .iter()
            .map(|(s, _, _)| wait_ready(api, s, options));
        let results = futures_util::future::join_all(waits).await;
        for ((s, action, started), r) in started_here.into_iter().zip(results) {
            let r = match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(NotReady::RolledBack(m))) => {
                    let project = s
                        .labels
                        .get(crate::labels::PROJECT)
                        .cloned()
                        .unwrap_or_default();
                    let marker = super::plan::failed_marker(&project, &s.name, &s.hash, &m);
                    if let Err(e) = api.create_data(&marker).await {
                        on_line(&format!(
                            "warning: could not record the failed revision of {}: {e}",
                            s.name
                        ));
                    }
                    report.held.push(s.name.clone());
                    Err(NotReady::RolledBack(m).to_string())
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = &r {
                failed.insert(s.resource.clone(), e.clone());
            }
            if action.is_some() || r.is_err() {
                record(&mut report, s.kind.as_str(), &s.name, action, started, r);
            }
        }
    }
    // 3. Removals: services first, then what they no longer use.
    let order = |kind: &str| match kind {
        "config" | "secret" => 1,
        "Network" => 2,
        _ => 0,
    };
    let mut removals: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.action == SwarmAction::Remove)
        .collect();
    removals.sort_by_key(|c| order(&c.kind));
    for c in removals {
        let started = Instant::now();
        let r = match c.kind.as_str() {
            "config" => api.remove_data(FileKind::Config, &c.name).await,
            "secret" => api.remove_data(FileKind::Secret, &c.name).await,
            "Network" => remove_network_when_free(api, &c.name).await,
            _ => remove_service_and_wait(api, &c.name, options).await,
        };
        record(
            &mut report,
            &c.kind,
            &c.name,
            Some(c.action),
            started,
            r.map_err(|e| e.to_string()),
        );
    }
    report
}

fn action_word(a: Option<SwarmAction>) -> &'static str {
    a.map_or("ready", SwarmAction::as_str)
}

/// A removed service's tasks leave its networks a moment later.
async fn remove_service_and_wait(
    api: &dyn SwarmApi,
    name: &str,
    options: &SwarmApplyOptions,
) -> Result<(), EngineError> {
    api.remove_service(name).await?;
    let deadline = Instant::now() + options.timeout;
    while Instant::now() < deadline {
        if api.service(name).await?.is_none() {
            return Ok(());
        }
        tokio::time::sleep(options.poll).await;
    }
    Ok(())
}

/// Task containers leave an overlay a few seconds after their service is
/// removed; until then the network is "in use".
async fn remove_network_when_free(api: &dyn SwarmApi, name: &str) -> Result<(), EngineError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match api.remove_network(name).await {
            Ok(()) if !api.network_exists(name).await? => return Ok(()),
            Ok(()) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() < deadline => {
                tracing::debug!("network {name} not removable yet: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Until every task of the current revision runs (for a healthchecked
/// image Swarm reports `running` only once healthy) and no task of another
/// revision is meant to, or a Job's task completed.
async fn wait_ready(
    api: &dyn SwarmApi,
    s: &SwarmService,
    options: &SwarmApplyOptions,
) -> Result<Result<(), NotReady>, EngineError> {
    let deadline = Instant::now() + options.timeout;
    loop {
        let Some(have) = api.service(&s.name).await? else {
            return Ok(Err(NotReady::Failed("the service disappeared".into())));
        };
        if let Some(verdict) = readiness(s, &have) {
            return Ok(verdict);
        }
        if Instant::now() >= deadline {
            return Ok(Err(NotReady::Failed(format!(
                "not ready within {}s: {}",
                options.timeout.as_secs(),
                describe_tasks(s, &have)
            ))));
        }
        tokio::time::sleep(options.poll).await;
    }
}

/// Some(verdict) once the service is ready or cannot become so.
fn readiness(s: &SwarmService, have: &ObservedService) -> Option<Result<(), NotReady>> {
    let rolled_back = matches!(
        have.update_state.as_deref(),
        Some("rollback_started" | "rollback_completed" | "rollback_paused" | "paused")
    );
    if rolled_back && have.label(crate::labels::SPEC_HASH) != Some(s.hash.as_str()) {
        // Wait for the rollback to finish: the old tasks serve again.
        if have.update_state.as_deref() == Some("rollback_started") {
            return None;
        }
        return Some(Err(NotReady::RolledBack(
            have.update_message.clone().unwrap_or_default(),
        )));
    }
    let current: Vec<&ObservedTask> = have.current_tasks(&s.hash).collect();
    let failures: Vec<&&ObservedTask> = current
        .iter()
        .filter(|t| matches!(t.state.as_str(), "failed" | "rejected"))
        .collect();
    if s.kind == Kind::Job {
        if current.iter().any(|t| t.state == "complete") {
            return Some(Ok(()));
        }
        if let Some(t) = failures.first() {
            return Some(Err(NotReady::Failed(format!(
                "the job failed{}: {}",
                t.exit_code
                    .map_or(String::new(), |c| format!(" with exit code {c}")),
                t.error.clone().unwrap_or_else(|| t.message.clone())
            ))));
        }
        return None;
    }
    let running = current
        .iter()
        .filter(|t| t.desired_state == "running" && t.state == "running")
        .count();
    let others = have
        .tasks
        .iter()
        .filter(|t| t.hash.as_deref() != Some(s.hash.as_str()) && t.desired_state == "running")
        .count();
    // Tasks on their way out (scaled down, replaced) still serve: converged
    // means they are gone, so what `docker service ls` shows is what was asked.
    let leaving = have
        .tasks
        .iter()
        .filter(|t| {
            t.desired_state != "running" && matches!(t.state.as_str(), "running" | "starting")
        })
        .count();
    if running as u32 == s.replicas && others == 0 && leaving == 0 {
        return Some(Ok(()));
    }
    if failures.len() >= FAILED_TASKS_LIMIT && running == 0 && !rolled_back {
        // A first create has nothing to roll back to: Swarm retries forever.
        let t = failures.last()?;
        return Some(Err(NotReady::Failed(format!(
            "{} tasks failed: {}",
            failures.len(),
            t.error.clone().unwrap_or_else(|| t.message.clone())
        ))));
    }
    None
}

fn describe_tasks(s: &SwarmService, have: &ObservedService) -> String {
    let states: Vec<String> = have
        .current_tasks(&s.hash)
        .map(|t| {
            let mut d = t.state.clone();
            if let Some(e) = &t.error {
                d.push_str(&format!(" ({e})"));
            }
            d
        })
        .collect();
    format!(
        "{} of {} tasks running; tasks: {}",
        states.iter().filter(|s| *s == "running").count(),
        s.replicas,
        states.join(", ")
    )
}

#[cfg(test)]
mod tests;
