//! `converge`: observe, plan, execute, and again, until the plan is empty.
//!
//! Guarantees: bad input never reaches here (the caller validated it); only
//! managed objects of the project are touched; volumes are removed only with
//! `prune_volumes`; a recreate keeps the old container until the new one is
//! ready, and restores it otherwise.
//! Idempotency: a converged engine gives an empty first plan and no writes.
//! Errors: a failed resource fails its dependents, names the chain, and ends
//! the apply after the pass; the next apply picks up from what Docker shows.

mod execute;
pub mod files;
pub mod lock;
mod recover;
mod wait;

pub use execute::{describe, Builder};

/// Runs a plan once without replanning: for `delete`, whose plan only removes.
pub async fn execute_once(ctx: &ApplyContext<'_>, p: &Plan) -> Vec<(Kind, String, Outcome)> {
    execute::execute(ctx, p).await
}

use crate::engine::{Engine, EngineError, ObserveScope};
use crate::plan::{plan, Plan, PlanOptions};
use crate::render::Inputs;
use desired_state::model::Kind;
use desired_state::DesiredState;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub plan: PlanOptions,
    /// How long one wait (health, completion, dependency) may take.
    pub timeout: Duration,
    pub max_passes: u32,
    /// Mutating engine calls in flight at once.
    pub concurrency: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            plan: PlanOptions::default(),
            timeout: Duration::from_secs(300),
            max_passes: 4,
            concurrency: 8,
        }
    }
}

/// What happened to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Recreated,
    /// The new container never became ready; the previous one runs again.
    RolledBack(String),
    Started,
    Connected(String),
    Disconnected(String),
    Removed,
    Built,
    Pulled,
    Failed(String),
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_) | Outcome::RolledBack(_))
    }
}

/// Live progress, for the terminal or a log.
pub trait Progress: Send + Sync {
    fn step(&self, kind: Kind, name: &str, status: &str);
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub outcomes: Vec<(Kind, String, Outcome)>,
    /// Phase name and how long it took.
    pub phases: Vec<(String, Duration)>,
    pub passes: u32,
    pub config_files_written: Vec<String>,
    /// The engine as last observed, when that observation found nothing to do.
    pub converged: Option<crate::observed::Observed>,
}

impl Report {
    pub fn failures(&self) -> impl Iterator<Item = &(Kind, String, Outcome)> {
        self.outcomes.iter().filter(|(_, _, o)| o.is_failure())
    }

    pub fn changed(&self) -> usize {
        self.outcomes.len()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the plan has conflicts or errors; nothing was changed:\n{0}")]
    Blocked(String),
    #[error("still not converged after {passes} passes; last plan has {remaining} change(s)")]
    NotConverged { passes: u32, remaining: usize },
    #[error(transparent)]
    Files(#[from] files::FilesError),
}

pub struct ApplyContext<'a> {
    pub engine: &'a Engine,
    pub desired: &'a DesiredState,
    pub inputs: &'a Inputs,
    /// What the host should hold: config files, env files, the compose copy.
    pub host_files: &'a [files::HostFile],
    pub files: &'a dyn files::HostFiles,
    pub builder: &'a dyn Builder,
    pub progress: &'a dyn Progress,
    pub options: ApplyOptions,
}

impl ApplyContext<'_> {
    fn scope(&self) -> ObserveScope {
        crate::render::observe_scope(self.desired, self.inputs)
    }

    pub async fn plan_now(&self) -> Result<Plan, EngineError> {
        let observed = self.engine.observe(&self.scope()).await?;
        Ok(plan(
            self.desired,
            &observed,
            self.inputs,
            &self.options.plan,
        ))
    }
}

fn blocked(p: &Plan) -> Option<String> {
    let mut lines: Vec<String> = p
        .conflicts
        .iter()
        .map(|c| format!("  {}/{}: {}", c.kind, c.name, c.message))
        .collect();
    lines.extend(p.errors.iter().map(|e| format!("  {e}")));
    (!lines.is_empty()).then(|| lines.join("\n"))
}

pub async fn converge(ctx: &ApplyContext<'_>) -> Result<Report, ApplyError> {
    let mut report = Report::default();
    let started = Instant::now();
    report.config_files_written = ctx.files.sync(ctx.host_files).await?;
    report.phases.push(("host files".into(), started.elapsed()));
    for pass in 1..=ctx.options.max_passes {
        let t = Instant::now();
        let mut observed = ctx.engine.observe(&ctx.scope()).await?;
        if recover::finish_interrupted(ctx, &observed).await? {
            observed = ctx.engine.observe(&ctx.scope()).await?;
        }
        let p = plan(ctx.desired, &observed, ctx.inputs, &ctx.options.plan);
        report
            .phases
            .push((format!("pass {pass}: observe and plan"), t.elapsed()));
        if let Some(why) = blocked(&p) {
            return Err(ApplyError::Blocked(why));
        }
        report.passes = pass;
        if p.is_empty() {
            report.converged = Some(observed);
            return Ok(report);
        }
        // New image IDs change every container hash that uses them: build and
        // pull alone first, then plan the containers against the new IDs.
        let is_image = |c: &crate::plan::Change| {
            matches!(
                c.action,
                crate::plan::Action::Build | crate::plan::Action::Pull
            )
        };
        let p = if p.changes.iter().any(is_image) {
            Plan {
                changes: p.changes.into_iter().filter(is_image).collect(),
                ..Plan::default()
            }
        } else {
            p
        };
        let t = Instant::now();
        let outcomes = execute::execute(ctx, &p).await;
        report.phases.push((
            format!("pass {pass}: execute {} change(s)", p.changes.len()),
            t.elapsed(),
        ));
        let failed = outcomes.iter().any(|(_, _, o)| o.is_failure());
        report.outcomes.extend(outcomes);
        if failed {
            return Ok(report);
        }
    }
    let remaining = ctx.plan_now().await?.changes.len();
    if remaining == 0 {
        return Ok(report);
    }
    Err(ApplyError::NotConverged {
        passes: ctx.options.max_passes,
        remaining,
    })
}
