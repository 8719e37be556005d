//! `converge`: observe, plan, execute, and again, until the plan is empty.
//!
//! Guarantees: bad input never reaches here (the caller validated it); only
//! managed objects of the project are touched; volumes are removed only with
//! `prune_volumes`; a recreate keeps the old container until the new one is
//! ready, and restores it otherwise.
//! Idempotency: a converged engine gives an empty first plan and no writes.
//! Errors: a failed resource fails its dependents, names the chain, and ends
//! the apply after the pass; the next apply picks up from what Docker shows.

pub mod lock;

pub use crate::exec::{describe, Builder, Outcome, Progress};

use crate::engine::{EngineApi, EngineError};
use crate::exec::{execute, outcomes, ExecContext};
use crate::observed::Observed;
use crate::plan::{plan, Plan, PlanOptions, Stage};
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
    /// Start no operation after this many: what a kill at that point leaves (tests).
    pub stop_after: Option<usize>,
    /// How much of the engine each pass reads (`crate::observe`).
    pub observe: crate::observe::Depth,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            plan: PlanOptions::default(),
            timeout: Duration::from_secs(300),
            max_passes: 4,
            concurrency: 8,
            stop_after: None,
            observe: crate::observe::Depth::Full,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub outcomes: Vec<(Kind, String, Outcome)>,
    /// Phase name and how long it took.
    pub phases: Vec<(String, Duration)>,
    pub passes: u32,
    pub config_files_written: Vec<String>,
    /// The engine as last observed, when that observation found nothing to do.
    pub converged: Option<Observed>,
    /// Recreates not made because that spec's rollout failed before.
    pub held: Vec<crate::plan::Held>,
    /// Unmanaged containers on a guarded network, as the last plan found them.
    pub intruders: Vec<crate::plan::Intruder>,
    /// Look again after this long even without a trigger (see `Plan::requeue_after`).
    pub requeue_after: Option<Duration>,
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
    Files(#[from] crate::hostfiles::FilesError),
    #[error("refusing to prune: the desired set is empty (that would remove everything)")]
    EmptyPrune,
}

pub struct ApplyContext<'a> {
    pub engine: &'a dyn EngineApi,
    pub desired: &'a DesiredState,
    pub inputs: &'a Inputs,
    /// What the host should hold: config files, env files, the compose copy.
    pub host_files: &'a [crate::hostfiles::HostFile],
    pub files: &'a dyn crate::hostfiles::HostFiles,
    pub builder: &'a dyn Builder,
    pub progress: &'a dyn Progress,
    pub options: ApplyOptions,
}

impl ApplyContext<'_> {
    async fn observe(&self) -> Result<Observed, EngineError> {
        crate::observe::observe(self.engine, self.desired, self.inputs, self.options.observe).await
    }

    pub async fn plan_now(&self) -> Result<Plan, EngineError> {
        Ok(self.plan_observed().await?.0)
    }

    /// The plan, and the engine as it was observed for it.
    pub async fn plan_observed(&self) -> Result<(Plan, Observed), EngineError> {
        let observed = self.observe().await?;
        let p = plan(self.desired, &observed, self.inputs, &self.options.plan);
        Ok((p, observed))
    }

    /// Whether there is nothing at all to do: an empty plan with nothing held
    /// or blocked, no engine lock of the project, and every host file already
    /// as it should be. Then the
    /// report of a converged apply, made without the engine lock, without a
    /// write and with one observation: a no-op costs what `diff` costs. Else
    /// None, and the caller takes the lock and converges.
    pub async fn nothing_to_do(
        &self,
        p: &Plan,
        observed: Observed,
        took: Duration,
    ) -> Result<Option<Report>, ApplyError> {
        if !p.is_empty() || p.is_blocked() || !p.held.is_empty() {
            return Ok(None);
        }
        // A lock on the engine: another apply is at work (wait for it, as
        // before), or a killed one left it (the lock path breaks and removes it).
        if observed
            .volume(&lock::lock_name(&self.inputs.project))
            .is_some()
        {
            return Ok(None);
        }
        if !self.files.stale(self.host_files).await?.is_empty() {
            return Ok(None);
        }
        Ok(Some(Report {
            phases: vec![("pass 1: observe and plan".into(), took)],
            passes: 1,
            converged: Some(observed),
            requeue_after: p.requeue_after,
            intruders: p.intruders.clone(),
            ..Report::default()
        }))
    }

    fn exec(&self) -> ExecContext<'_> {
        ExecContext {
            engine: self.engine,
            builder: self.builder,
            progress: self.progress,
            timeout: self.options.timeout,
            concurrency: self.options.concurrency,
            stop_after: self.options.stop_after,
        }
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

/// Runs the operations of `p`'s first stage; returns each change's outcome.
pub async fn execute_stage(ctx: &ApplyContext<'_>, p: &Plan) -> Vec<(Kind, String, Outcome)> {
    let Some(stage) = p.first_stage() else {
        return Vec::new();
    };
    run_ops(ctx, p, |s| s == stage).await
}

/// Runs every operation of a plan without replanning: for `delete`, whose plan only removes.
pub async fn execute_once(ctx: &ApplyContext<'_>, p: &Plan) -> Vec<(Kind, String, Outcome)> {
    run_ops(ctx, p, |_| true).await
}

async fn run_ops(
    ctx: &ApplyContext<'_>,
    p: &Plan,
    take: impl Fn(Stage) -> bool,
) -> Vec<(Kind, String, Outcome)> {
    let ops: Vec<_> = p.operations.iter().filter(|o| take(o.stage)).collect();
    let status = execute(&ctx.exec(), &p.changes, &ops).await;
    // The executor has shown each outcome as it came.
    outcomes(&p.changes, &ops, &status)
}

/// Observe, plan, run the first stage, and again, until the plan is empty.
pub async fn converge(ctx: &ApplyContext<'_>) -> Result<Report, ApplyError> {
    if ctx.options.plan.prune && ctx.desired.resources.is_empty() {
        return Err(ApplyError::EmptyPrune);
    }
    let mut report = Report::default();
    let started = Instant::now();
    report.config_files_written = ctx.files.sync(ctx.host_files).await?;
    report.phases.push(("host files".into(), started.elapsed()));
    for pass in 1..=ctx.options.max_passes {
        let t = Instant::now();
        let (p, observed) = ctx.plan_observed().await?;
        report
            .phases
            .push((format!("pass {pass}: observe and plan"), t.elapsed()));
        if let Some(why) = blocked(&p) {
            return Err(ApplyError::Blocked(why));
        }
        report.passes = pass;
        if p.is_empty() {
            report.converged = Some(observed);
            report.held = p.held;
            report.intruders = p.intruders;
            report.requeue_after = p.requeue_after;
            return Ok(report);
        }
        let t = Instant::now();
        let stage = p.first_stage();
        let outcomes = execute_stage(ctx, &p).await;
        report.phases.push((
            format!(
                "pass {pass}: {} operation(s) of stage {}",
                p.operations
                    .iter()
                    .filter(|o| Some(o.stage) == stage)
                    .count(),
                stage
                    .map(|s| format!("{s:?}").to_lowercase())
                    .unwrap_or_default()
            ),
            t.elapsed(),
        ));
        let stop = outcomes
            .iter()
            .any(|(_, _, o)| o.is_failure() || *o == Outcome::Interrupted);
        report.outcomes.extend(outcomes);
        if stop {
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

#[cfg(test)]
mod tests;
