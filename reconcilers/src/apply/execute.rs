//! Executes one plan: images, then networks and volumes, then workloads as
//! soon as their dependencies hold (bounded parallelism), then removals in
//! reverse order.

use super::recover::previous_name;
use super::wait;
use super::{ApplyContext, Outcome};
use crate::engine::Engine;
use crate::plan::{Action, Change, Plan, Target};
use crate::render::ContainerSpec;
use desired_state::model::{Condition, Kind};
use futures_util::future::{join_all, BoxFuture};
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::{watch, Semaphore};

/// Builds an Image resource's image on the engine. Supplied by the caller so
/// the build pipeline (context hashing, BuildKit) stays out of the executor.
pub trait Builder: Send + Sync {
    fn build<'a>(&'a self, engine: &'a Engine, image: &'a str)
        -> BoxFuture<'a, Result<(), String>>;
}

type Outcomes = Vec<(Kind, String, Outcome)>;

pub(super) async fn execute(ctx: &ApplyContext<'_>, plan: &Plan) -> Outcomes {
    let mut out = Vec::new();
    let is = |c: &&Change, kinds: &[Kind], actions: &[Action]| {
        kinds.contains(&c.kind) && actions.contains(&c.action)
    };
    for c in plan
        .changes
        .iter()
        .filter(|c| is(c, &[Kind::Image], &[Action::Build, Action::Pull]))
    {
        let Target::Image { reference } = &c.target else {
            continue;
        };
        ctx.progress.step(
            c.kind,
            &c.name,
            if c.action == Action::Build {
                "building"
            } else {
                "pulling"
            },
        );
        let result = match c.action {
            Action::Build => ctx
                .builder
                .build(ctx.engine, reference)
                .await
                .map(|_| Outcome::Built),
            _ => ctx
                .engine
                .pull(reference)
                .await
                .map(|_| Outcome::Pulled)
                .map_err(|e| e.to_string()),
        };
        out.push(record(ctx, c, result));
    }
    for c in plan.changes.iter().filter(|c| {
        is(
            c,
            &[Kind::Network, Kind::Volume],
            &[Action::Create, Action::Recreate],
        )
    }) {
        let result = match &c.target {
            Target::Network(n) => {
                ctx.progress.step(c.kind, &c.name, "creating");
                let removed = if c.action == Action::Recreate {
                    ctx.engine.remove_network(&n.name).await
                } else {
                    Ok(())
                };
                let created = match removed {
                    Ok(()) => ctx.engine.create_network(n).await,
                    Err(e) => Err(e),
                };
                created
                    .map(|_| {
                        if c.action == Action::Create {
                            Outcome::Created
                        } else {
                            Outcome::Recreated
                        }
                    })
                    .map_err(|e| e.to_string())
            }
            Target::Volume {
                name,
                labels,
                driver,
            } => {
                ctx.progress.step(c.kind, &c.name, "creating");
                ctx.engine
                    .create_volume(name, labels, driver.as_deref())
                    .await
                    .map(|_| Outcome::Created)
                    .map_err(|e| e.to_string())
            }
            _ => continue,
        };
        out.push(record(ctx, c, result));
    }
    out.extend(workloads(ctx, plan).await);
    let removals: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Remove)
        .collect();
    for kinds in [
        [Kind::Service, Kind::Job],
        [Kind::Network, Kind::Network],
        [Kind::Volume, Kind::Volume],
    ] {
        for c in removals.iter().rev().filter(|c| kinds.contains(&c.kind)) {
            let Target::Existing { name } = &c.target else {
                continue;
            };
            ctx.progress.step(c.kind, &c.name, "removing");
            let result = match c.kind {
                Kind::Network => ctx.engine.remove_network(name).await,
                Kind::Volume => ctx.engine.remove_volume(name).await,
                _ => ctx.engine.remove_container(name).await,
            };
            out.push(record(
                ctx,
                c,
                result.map(|_| Outcome::Removed).map_err(|e| e.to_string()),
            ));
        }
    }
    out
}

fn record(
    ctx: &ApplyContext<'_>,
    c: &Change,
    result: Result<Outcome, String>,
) -> (Kind, String, Outcome) {
    let outcome = result.unwrap_or_else(Outcome::Failed);
    ctx.progress.step(c.kind, &c.name, &describe(&outcome));
    (c.kind, c.name.clone(), outcome)
}

pub fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Created => "created".into(),
        Outcome::Recreated => "recreated".into(),
        Outcome::RolledBack(why) => format!("rolled back: {why}"),
        Outcome::Started => "started".into(),
        Outcome::Connected(n) => format!("connected to {n}"),
        Outcome::Disconnected(n) => format!("disconnected from {n}"),
        Outcome::Removed => "removed".into(),
        Outcome::Built => "built".into(),
        Outcome::Pulled => "pulled".into(),
        Outcome::Failed(why) => format!("failed: {why}"),
    }
}

/// Each changed workload runs in its own future, gated on its dependencies;
/// a watch channel per workload tells dependents when it is done, and how.
async fn workloads(ctx: &ApplyContext<'_>, plan: &Plan) -> Outcomes {
    let mut by_name: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
    for c in plan
        .changes
        .iter()
        .filter(|c| matches!(c.kind, Kind::Service | Kind::Job) && c.action != Action::Remove)
    {
        by_name.entry(c.name.as_str()).or_default().push(c);
    }
    let mut senders = BTreeMap::new();
    let mut receivers = BTreeMap::new();
    for name in by_name.keys() {
        let (tx, rx) = watch::channel(None::<Result<(), String>>);
        senders.insert(*name, tx);
        receivers.insert(*name, rx);
    }
    let permits = Semaphore::new(ctx.options.concurrency.max(1));
    let tasks = by_name.iter().map(|(name, changes)| {
        let tx = &senders[name];
        let receivers = &receivers;
        let permits = &permits;
        async move {
            let kind = changes[0].kind;
            let result = match wait_for_dependencies(ctx, name, receivers).await {
                Err(why) => Err(why),
                Ok(()) => run_changes(ctx, changes, permits).await,
            };
            let _ = tx.send(Some(result.as_ref().map(|_| ()).map_err(|e| e.clone())));
            let outcomes: Vec<Outcome> = match result {
                Ok(list) => list,
                Err(why) => vec![Outcome::Failed(why)],
            };
            outcomes
                .into_iter()
                .map(|o| {
                    ctx.progress.step(kind, name, &describe(&o));
                    (kind, name.to_string(), o)
                })
                .collect::<Outcomes>()
        }
    });
    join_all(tasks).await.into_iter().flatten().collect()
}

async fn wait_for_dependencies(
    ctx: &ApplyContext<'_>,
    name: &str,
    in_flight: &BTreeMap<&str, watch::Receiver<Option<Result<(), String>>>>,
) -> Result<(), String> {
    let Some(r) = ctx
        .desired
        .get(Kind::Service, name)
        .or_else(|| ctx.desired.get(Kind::Job, name))
    else {
        return Ok(());
    };
    let Some(w) = r.spec.workload() else {
        return Ok(());
    };
    let mut announced = BTreeSet::new();
    for dep in &w.depends_on {
        if let Some(rx) = in_flight.get(dep.name.as_str()) {
            if announced.insert(dep.name.as_str()) {
                ctx.progress
                    .step(r.kind(), name, &format!("waiting for {}", dep.name));
            }
            let mut rx = rx.clone();
            let settled = rx
                .wait_for(Option::is_some)
                .await
                .map(|v| v.clone())
                .ok()
                .flatten();
            if let Some(Err(why)) = settled {
                return Err(format!("dependency {} failed: {why}", dep.name));
            }
        }
        let object = ctx.inputs.object_name(&dep.name);
        wait::until(ctx.engine, &object, dep.condition, ctx.options.timeout)
            .await
            .map_err(|why| {
                format!(
                    "dependency {} is not {}: {why}",
                    dep.name,
                    condition_name(dep.condition)
                )
            })?;
    }
    Ok(())
}

fn condition_name(c: Condition) -> &'static str {
    match c {
        Condition::Started => "started",
        Condition::Healthy => "healthy",
        Condition::Completed => "completed",
    }
}

async fn run_changes(
    ctx: &ApplyContext<'_>,
    changes: &[&Change],
    permits: &Semaphore,
) -> Result<Vec<Outcome>, String> {
    let mut outcomes = Vec::new();
    for c in changes {
        let Target::Container(spec) = &c.target else {
            continue;
        };
        let outcome = {
            let _permit = permits.acquire().await.map_err(|e| e.to_string())?;
            ctx.progress.step(c.kind, &c.name, c.action.as_str());
            act(ctx, c, spec).await?
        };
        let ready_needed = matches!(
            outcome,
            Outcome::Created | Outcome::Started | Outcome::Recreated
        );
        if ready_needed {
            ready(ctx, spec).await?;
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// The condition that means "this worked": healthy (or running, without a
/// healthcheck) for a Service, exited 0 for a Job.
async fn ready(ctx: &ApplyContext<'_>, spec: &ContainerSpec) -> Result<(), String> {
    let condition = if spec.kind == Kind::Job {
        Condition::Completed
    } else {
        Condition::Healthy
    };
    wait::until(ctx.engine, &spec.name, condition, ctx.options.timeout).await
}

async fn act(ctx: &ApplyContext<'_>, c: &Change, spec: &ContainerSpec) -> Result<Outcome, String> {
    let e = ctx.engine;
    let s = |r: Result<(), crate::engine::EngineError>| r.map_err(|e| e.to_string());
    match c.action {
        Action::Create => {
            s(e.create_container(spec, &spec.name).await.map(|_| ()))?;
            s(e.start(&spec.name).await)?;
            Ok(Outcome::Created)
        }
        Action::Start => {
            s(e.start(&spec.name).await)?;
            Ok(Outcome::Started)
        }
        Action::Connect => {
            let network = c.network.clone().unwrap_or_default();
            let attachment = spec
                .networks
                .iter()
                .find(|n| n.network == network)
                .ok_or_else(|| format!("{network} is not declared"))?;
            s(e.connect_network(&spec.name, attachment).await)?;
            Ok(Outcome::Connected(network))
        }
        Action::Disconnect => {
            let network = c.network.clone().unwrap_or_default();
            s(e.disconnect_network(&spec.name, &network).await)?;
            Ok(Outcome::Disconnected(network))
        }
        Action::Recreate if spec.kind == Kind::Job => {
            s(e.remove_container(&spec.name).await)?;
            s(e.create_container(spec, &spec.name).await.map(|_| ()))?;
            s(e.start(&spec.name).await)?;
            Ok(Outcome::Recreated)
        }
        Action::Recreate => recreate_with_rollback(ctx, spec).await,
        _ => Ok(Outcome::Failed(format!(
            "{} is not a container action",
            c.action.as_str()
        ))),
    }
}

/// The old container is stopped and parked as `<name>.prev` until the new one
/// is ready; if it never is, the new one goes and the old one comes back.
async fn recreate_with_rollback(
    ctx: &ApplyContext<'_>,
    spec: &ContainerSpec,
) -> Result<Outcome, String> {
    let e = ctx.engine;
    let s = |r: Result<(), crate::engine::EngineError>| r.map_err(|e| e.to_string());
    let prev = previous_name(&spec.name);
    s(e.remove_container(&prev).await)?;
    s(e.stop(&spec.name, spec.stop_grace_seconds).await)?;
    s(e.rename(&spec.name, &prev).await)?;
    let attempt = async {
        e.create_container(spec, &spec.name)
            .await
            .map_err(|e| e.to_string())?;
        e.start(&spec.name).await.map_err(|e| e.to_string())?;
        ready(ctx, spec).await
    }
    .await;
    match attempt {
        Ok(()) => {
            s(e.remove_container(&prev).await)?;
            Ok(Outcome::Recreated)
        }
        Err(why) => {
            ctx.progress.step(
                spec.kind,
                &spec.resource,
                &format!("new container not ready ({why}); rolling back"),
            );
            s(e.remove_container(&spec.name).await)?;
            s(e.rename(&prev, &spec.name).await)?;
            s(e.start(&spec.name).await)?;
            Ok(Outcome::RolledBack(why))
        }
    }
}
