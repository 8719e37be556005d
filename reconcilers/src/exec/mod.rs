//! The one executor: runs a plan's operations against any `EngineApi`.
//!
//! Guarantees: an operation starts only after every operation it comes
//! `after` succeeded; a failed operation blocks its dependents, which fail
//! with the chain ("dependency X failed: ..."); rollback operations run only
//! when an operation they watch failed. At most `concurrency` engine calls
//! are in flight; waits take no slot.
//! Idempotency: none of its own. Every operation is one call, and the next
//! plan, read from the engine, finishes whatever a stop left half done.

mod outcome;
mod wait;

pub use outcome::{describe, outcomes, Outcome, Unhealthy};
pub use wait::{judge, until, Verdict};

use crate::engine::{EngineApi, EngineError};
use crate::plan::{Change, Op, OpId, Operation};
use desired_state::model::Kind;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeMap;
use std::time::Duration;
use tracing::Instrument;

/// Builds an Image resource's image on the engine. Supplied by the caller so
/// the build pipeline (context hashing, BuildKit) stays out of the executor.
pub trait Builder: Send + Sync {
    fn build<'a>(
        &'a self,
        engine: &'a dyn EngineApi,
        image: &'a str,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// For commands that never build (delete).
pub struct NoBuilds;

impl Builder for NoBuilds {
    fn build<'a>(
        &'a self,
        _: &'a dyn EngineApi,
        image: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { Err(format!("this command does not build {image}")) })
    }
}

/// Live progress, for the terminal or a log.
pub trait Progress: Send + Sync {
    /// A resource moved to a new state: "waiting for db (healthy)", "starting".
    fn step(&self, kind: Kind, name: &str, status: &str);

    /// A transient detail of the current step, such as bytes pulled; too
    /// frequent for a log, so ignored unless a display overrides it.
    fn detail(&self, kind: Kind, name: &str, detail: &str) {
        let _ = (kind, name, detail);
    }

    /// The resource's change is over for this pass, with its outcome.
    fn done(&self, kind: Kind, name: &str, outcome: &str) {
        self.step(kind, name, outcome)
    }
}

/// Progress nobody reads.
pub struct Silent;

impl Progress for Silent {
    fn step(&self, _: Kind, _: &str, _: &str) {}
}

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpStatus {
    Succeeded,
    Failed(String),
    /// Not run because something it needed failed; the message is the chain.
    Blocked(String),
    /// A rollback step whose watched operations all succeeded.
    NotNeeded,
    /// The executor was stopped before it got there.
    NotRun,
}

pub struct ExecContext<'a> {
    pub engine: &'a dyn EngineApi,
    pub builder: &'a dyn Builder,
    pub progress: &'a dyn Progress,
    /// How long one wait (health, completion, dependency) may take.
    pub timeout: Duration,
    /// Engine calls in flight at once.
    pub concurrency: usize,
    /// Start no operation after this many have started: what a kill at that
    /// boundary leaves, for crash tests.
    pub stop_after: Option<usize>,
}

/// Runs `ops` (a subset of `changes`' operations) and returns each one's status.
pub async fn execute(
    ctx: &ExecContext<'_>,
    changes: &[Change],
    ops: &[&Operation],
) -> BTreeMap<OpId, OpStatus> {
    let by_id: BTreeMap<OpId, &Operation> = ops.iter().map(|o| (o.id, *o)).collect();
    let mut status: BTreeMap<OpId, OpStatus> = BTreeMap::new();
    let mut running = FuturesUnordered::new();
    let mut calls_in_flight = 0usize;
    let mut started = 0usize;
    let mut shown = Shown::new(&by_id);
    loop {
        settle_blocked(&by_id, changes, &mut status);
        shown.report(ctx.progress, changes, &by_id, &status);
        let stopping = ctx.stop_after.is_some_and(|k| started >= k);
        if !stopping {
            for op in ready(&by_id, &status) {
                let is_call = !op.op.is_wait();
                if is_call && calls_in_flight >= ctx.concurrency.max(1) {
                    continue;
                }
                if ctx.stop_after.is_some_and(|k| started >= k) {
                    break;
                }
                started += 1;
                calls_in_flight += usize::from(is_call);
                status.insert(op.id, OpStatus::NotRun);
                let change = &changes[op.change];
                ctx.progress
                    .step(change.kind, &change.name, &running_text(&op.op));
                let span = tracing::debug_span!("operation", id = %op.id, op = op.op.verb());
                let why = first_failure(op, &status);
                running.push(
                    async move { (op, run(ctx, change, &op.op, why).await) }.instrument(span),
                );
            }
        }
        let Some((op, result)) = running.next().await else {
            break;
        };
        calls_in_flight -= usize::from(!op.op.is_wait());
        let change = &changes[op.change];
        let s = match result {
            Ok(()) => {
                if let Some(reached) = reached_text(&op.op) {
                    ctx.progress.step(change.kind, &change.name, &reached);
                }
                OpStatus::Succeeded
            }
            Err(why) => {
                tracing::debug!(op = %op.op, %why, "operation failed");
                if op.rollback_of.is_none() {
                    ctx.progress.step(
                        change.kind,
                        &change.name,
                        &format!("{} failed: {why}", op.op),
                    );
                }
                OpStatus::Failed(why)
            }
        };
        status.insert(op.id, s);
    }
    // Everything the loop never reached: stopped early.
    for id in by_id.keys() {
        status.entry(*id).or_insert(OpStatus::NotRun);
    }
    shown.finish(ctx.progress, changes, &by_id, &status);
    status
}

/// What the progress display has been told per change: what it waits for
/// before its first operation starts, and its outcome as soon as every one
/// of its operations is settled (not at the end of the stage).
struct Shown<'a> {
    /// Each change's operations, grouped once.
    of_change: BTreeMap<usize, Vec<&'a Operation>>,
    waiting: BTreeMap<usize, String>,
    done: std::collections::BTreeSet<usize>,
}

impl<'a> Shown<'a> {
    fn new(by_id: &BTreeMap<OpId, &'a Operation>) -> Self {
        let mut of_change: BTreeMap<usize, Vec<&Operation>> = BTreeMap::new();
        for o in by_id.values() {
            of_change.entry(o.change).or_default().push(o);
        }
        Shown {
            of_change,
            waiting: BTreeMap::new(),
            done: Default::default(),
        }
    }

    fn report(
        &mut self,
        progress: &dyn Progress,
        changes: &[Change],
        by_id: &BTreeMap<OpId, &Operation>,
        status: &BTreeMap<OpId, OpStatus>,
    ) {
        for (&i, ops) in &self.of_change {
            if self.done.contains(&i) {
                continue;
            }
            let change = &changes[i];
            let settled = ops
                .iter()
                .all(|o| status.get(&o.id).is_some_and(|s| s != &OpStatus::NotRun));
            if settled {
                self.done.insert(i);
                for (kind, name, o) in outcomes(changes, ops, status) {
                    progress.done(kind, &name, &describe(&o));
                }
                continue;
            }
            if ops.iter().any(|o| status.contains_key(&o.id)) {
                continue; // under way: its operations report themselves
            }
            let mut on: Vec<&str> = ops
                .iter()
                .flat_map(|o| &o.after)
                .filter_map(|d| by_id.get(d))
                .filter(|d| d.change != i && status.get(&d.id) != Some(&OpStatus::Succeeded))
                .map(|d| changes[d.change].name.as_str())
                .collect();
            on.sort_unstable();
            on.dedup();
            if on.is_empty() {
                continue;
            }
            let text = format!("waiting for {}", on.join(", "));
            if self.waiting.get(&i) != Some(&text) {
                progress.step(change.kind, &change.name, &text);
                self.waiting.insert(i, text);
            }
        }
    }

    /// After the loop: every change not yet reported (stopped early).
    fn finish(
        &mut self,
        progress: &dyn Progress,
        changes: &[Change],
        by_id: &BTreeMap<OpId, &Operation>,
        status: &BTreeMap<OpId, OpStatus>,
    ) {
        let rest: Vec<&Operation> = by_id
            .values()
            .filter(|o| !self.done.contains(&o.change))
            .copied()
            .collect();
        for (kind, name, o) in outcomes(changes, &rest, status) {
            progress.done(kind, &name, &describe(&o));
        }
    }
}

/// Operations that may start now. One in flight is already in `status`, as NotRun.
fn ready<'a>(
    by_id: &BTreeMap<OpId, &'a Operation>,
    status: &BTreeMap<OpId, OpStatus>,
) -> Vec<&'a Operation> {
    by_id
        .values()
        .filter(|o| !status.contains_key(&o.id))
        .filter(|o| {
            o.after
                .iter()
                .all(|d| !by_id.contains_key(d) || status.get(d) == Some(&OpStatus::Succeeded))
        })
        .filter(|o| match &o.rollback_of {
            None => true,
            Some(watched) => {
                let settled = watched.iter().all(|w| {
                    !by_id.contains_key(w) || status.get(w).is_some_and(|s| s != &OpStatus::NotRun)
                });
                settled
                    && watched
                        .iter()
                        .any(|w| matches!(status.get(w), Some(OpStatus::Failed(_))))
            }
        })
        .copied()
        .collect()
}

/// Marks, until nothing changes, what can no longer run: dependents of a
/// failure (with the chain), and rollbacks nobody needs.
fn settle_blocked(
    by_id: &BTreeMap<OpId, &Operation>,
    changes: &[Change],
    status: &mut BTreeMap<OpId, OpStatus>,
) {
    loop {
        let mut decided = Vec::new();
        for o in by_id.values().filter(|o| !status.contains_key(&o.id)) {
            if let Some(watched) = &o.rollback_of {
                let all_done = watched.iter().all(|w| {
                    !by_id.contains_key(w) || status.get(w).is_some_and(|s| s != &OpStatus::NotRun)
                });
                let any_failed = watched
                    .iter()
                    .any(|w| matches!(status.get(w), Some(OpStatus::Failed(_))));
                if all_done && !any_failed {
                    decided.push((o.id, OpStatus::NotNeeded));
                    continue;
                }
            }
            for d in &o.after {
                let why = match status.get(d) {
                    Some(OpStatus::Failed(w)) | Some(OpStatus::Blocked(w)) => w.clone(),
                    Some(OpStatus::NotNeeded) => {
                        decided.push((o.id, OpStatus::NotNeeded));
                        break;
                    }
                    _ => continue,
                };
                let from = by_id[d];
                let why = if from.change != o.change {
                    let dep = &changes[from.change];
                    format!("dependency {} failed: {why}", dep.name)
                } else {
                    why
                };
                decided.push((o.id, OpStatus::Blocked(why)));
                break;
            }
        }
        if decided.is_empty() {
            return;
        }
        status.extend(decided);
    }
}

/// For a rollback step: the failure it rolls back.
fn first_failure(op: &Operation, status: &BTreeMap<OpId, OpStatus>) -> String {
    op.rollback_of
        .iter()
        .flatten()
        .find_map(|w| match status.get(w) {
            Some(OpStatus::Failed(why)) => Some(why.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// A label value from an error message: one line, no control characters, bounded.
fn label_text(why: &str) -> String {
    why.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(240)
        .collect()
}

/// What a resource is doing while `op` runs, in the words a person watching
/// expects: waiting for what, probing, pulling.
fn running_text(op: &Op) -> String {
    match op {
        Op::WaitDependency {
            dependency,
            condition,
            ..
        } => format!("waiting for {dependency} ({})", condition.as_str()),
        Op::WaitReady {
            probe: Some(_),
            condition,
            ..
        } => format!("probing until {}", condition.as_str()),
        Op::WaitReady { condition, .. } => format!("waiting until {}", condition.as_str()),
        Op::Build { .. } => "building".into(),
        Op::Pull { .. } => "pulling".into(),
        other => format!("{other}"),
    }
}

/// The state a finished wait reached, worth its own line: "healthy".
fn reached_text(op: &Op) -> Option<String> {
    match op {
        Op::WaitReady { condition, .. } => Some(condition.as_str().to_string()),
        _ => None,
    }
}

/// "12.3 MB of 45.6 MB".
fn bytes_text(done: u64, total: u64) -> String {
    let mb = |b: u64| b as f64 / 1_000_000.0;
    if total == 0 {
        format!("pulling {:.1} MB", mb(done))
    } else {
        format!("pulling {:.1} MB of {:.1} MB", mb(done), mb(total))
    }
}

fn text(r: Result<(), EngineError>) -> Result<(), String> {
    r.map_err(|e| e.to_string())
}

/// One operation: one engine call, or one wait. `why` is the failure a
/// rollback step answers.
async fn run(ctx: &ExecContext<'_>, change: &Change, op: &Op, why: String) -> Result<(), String> {
    let e = ctx.engine;
    match op {
        Op::WaitHook { hook, container } => wait::until(
            e,
            container,
            desired_state::model::Condition::Completed,
            None,
            ctx.timeout,
        )
        .await
        .map_err(|why| format!("beforeRecreate hook {hook} failed: {why}; not recreated")),
        Op::RecordFailedRollout { record } => {
            let mut record = record.clone();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            record
                .labels
                .insert(crate::labels::FAILURE_REASON.to_string(), label_text(&why));
            record
                .labels
                .insert(crate::labels::FAILED_AT.to_string(), now.to_string());
            text(e.create_volume(&record).await)
        }
        Op::Build { reference } => ctx.builder.build(e, reference).await,
        Op::Pull { reference } => {
            let report = |done, total| {
                ctx.progress
                    .detail(change.kind, &change.name, &bytes_text(done, total))
            };
            text(e.pull_image_reporting(reference, &report).await)
        }
        Op::CreateNetwork(n) => text(e.create_network(n).await),
        Op::RemoveNetwork { name } => text(e.remove_network(name).await),
        Op::CreateVolume(v) => text(e.create_volume(v).await),
        Op::RemoveVolume { name } => text(e.remove_volume(name).await),
        Op::CreateContainer { name, spec } => {
            text(e.create_container(spec, name).await.map(|_| ()))
        }
        Op::StartContainer { name } => text(e.start_container(name).await),
        Op::StopContainer {
            name,
            grace_seconds,
        } => text(e.stop_container(name, *grace_seconds).await),
        Op::RenameContainer { from, to } => text(e.rename_container(from, to).await),
        Op::RemoveContainer { name } => text(e.remove_container(name).await),
        Op::ConnectNetwork {
            container,
            attachment,
        } => text(e.connect_network(container, attachment).await),
        Op::DisconnectNetwork { container, network } => {
            text(e.disconnect_network(container, network).await)
        }
        Op::WaitReady {
            container,
            condition,
            probe,
        } => wait::until(e, container, *condition, probe.as_deref(), ctx.timeout).await,
        Op::WaitDependency {
            dependency,
            container,
            condition,
            probe,
        } => wait::until(e, container, *condition, probe.as_deref(), ctx.timeout)
            .await
            .map_err(|why| {
                format!(
                    "dependency {dependency} is not {}: {why}",
                    condition.as_str()
                )
            }),
    }
}
