//! The plan as a program: each change expands into operations, each one
//! engine call or one wait, with explicit dependencies. `diff` prints these,
//! `apply --dry-run` prints these, and the executor runs exactly these.
//!
//! A service recreate is a sub-graph (stop, park the old container as
//! `<name>.prev`, create, connect, start, wait ready, drop the old one) with
//! its rollback as operations too (remove the new one, put the old one back,
//! start it), which run only when a step of the new container fails. Every
//! boundary between two operations leaves a state `recover` can finish from.

use super::{Action, Change, Reason, Target};
use crate::render::{ContainerSpec, NetworkPlanSpec, RenderedAttachment, VolumePlanSpec};
use desired_state::model::{Condition, Kind};
use desired_state::DesiredState;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Index of an operation in `Plan::operations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct OpId(pub usize);

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0 + 1)
    }
}

/// One engine call, or one wait.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Build {
        reference: String,
    },
    Pull {
        reference: String,
    },
    CreateNetwork(NetworkPlanSpec),
    RemoveNetwork {
        name: String,
    },
    CreateVolume(VolumePlanSpec),
    RemoveVolume {
        name: String,
    },
    CreateContainer {
        name: String,
        spec: Box<ContainerSpec>,
    },
    StartContainer {
        name: String,
    },
    StopContainer {
        name: String,
        grace_seconds: Option<i64>,
    },
    RenameContainer {
        from: String,
        to: String,
    },
    RemoveContainer {
        name: String,
    },
    ConnectNetwork {
        container: String,
        attachment: RenderedAttachment,
    },
    DisconnectNetwork {
        container: String,
        network: String,
    },
    /// The container did what it is for: healthy (or running, without a
    /// healthcheck) for a Service, exited 0 for a Job.
    WaitReady {
        container: String,
        condition: Condition,
        /// The healthcheck command lucidctl runs itself until it first passes.
        probe: Option<Vec<String>>,
    },
    /// A `dependsOn` condition holds before the dependent is touched.
    WaitDependency {
        dependency: String,
        container: String,
        condition: Condition,
        probe: Option<Vec<String>>,
    },
    /// A `beforeRecreate` Job finished; its failure names the hook.
    WaitHook {
        hook: String,
        container: String,
    },
    /// Remember on the engine that this spec hash failed, so it is held
    /// rather than retried: a labelled volume, which survives restarts. The
    /// executor adds the reason and the time.
    RecordFailedRollout {
        record: VolumePlanSpec,
    },
}

impl Op {
    /// Short kebab-case name, for JSON and logs.
    pub fn verb(&self) -> &'static str {
        match self {
            Op::Build { .. } => "build-image",
            Op::Pull { .. } => "pull-image",
            Op::CreateNetwork(_) => "create-network",
            Op::RemoveNetwork { .. } => "remove-network",
            Op::CreateVolume(_) => "create-volume",
            Op::RemoveVolume { .. } => "remove-volume",
            Op::CreateContainer { .. } => "create-container",
            Op::StartContainer { .. } => "start-container",
            Op::StopContainer { .. } => "stop-container",
            Op::RenameContainer { .. } => "rename-container",
            Op::RemoveContainer { .. } => "remove-container",
            Op::ConnectNetwork { .. } => "connect-network",
            Op::DisconnectNetwork { .. } => "disconnect-network",
            Op::WaitReady { .. } => "wait-ready",
            Op::WaitDependency { .. } => "wait-dependency",
            Op::RecordFailedRollout { .. } => "record-failed-rollout",
            Op::WaitHook { .. } => "wait-hook",
        }
    }

    /// Waits hold no engine-call slot: they only poll.
    pub fn is_wait(&self) -> bool {
        matches!(
            self,
            Op::WaitReady { .. } | Op::WaitDependency { .. } | Op::WaitHook { .. }
        )
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Build { reference } => write!(f, "build image {reference}"),
            Op::Pull { reference } => write!(f, "pull image {reference}"),
            Op::CreateNetwork(n) => write!(f, "create network {}", n.name),
            Op::RemoveNetwork { name } => write!(f, "remove network {name}"),
            Op::CreateVolume(v) => write!(f, "create volume {}", v.name),
            Op::RemoveVolume { name } => write!(f, "remove volume {name}"),
            Op::CreateContainer { name, spec } => {
                write!(f, "create container {name} from {}", spec.image)
            }
            Op::StartContainer { name } => write!(f, "start container {name}"),
            Op::StopContainer { name, .. } => write!(f, "stop container {name}"),
            Op::RenameContainer { from, to } => write!(f, "rename container {from} to {to}"),
            Op::RemoveContainer { name } => write!(f, "remove container {name}"),
            Op::ConnectNetwork {
                container,
                attachment,
            } => write!(f, "connect {container} to {}", attachment.network),
            Op::DisconnectNetwork { container, network } => {
                write!(f, "disconnect {container} from {network}")
            }
            Op::WaitReady {
                container,
                condition,
                probe,
            } => {
                write!(f, "wait until {container} is {}", condition.as_str())?;
                match probe {
                    Some(argv) => write!(f, " (probing {:?} meanwhile)", argv.join(" ")),
                    None => Ok(()),
                }
            }
            Op::WaitDependency {
                dependency,
                condition,
                ..
            } => write!(
                f,
                "wait until dependency {dependency} is {}",
                condition.as_str()
            ),
            Op::WaitHook { hook, .. } => write!(f, "check that hook {hook} completed"),
            Op::RecordFailedRollout { record } => write!(
                f,
                "record the failed rollout of {}",
                record
                    .labels
                    .get(crate::labels::SPEC_HASH)
                    .map(String::as_str)
                    .unwrap_or("?")
            ),
        }
    }
}

/// When a plan's operations run. Images come alone first, because a new
/// image ID changes the hash of every container using it, so containers are
/// planned again against it; interrupted work is finished before anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Recover,
    Images,
    Converge,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub id: OpId,
    /// The change in `Plan::changes` this operation carries out.
    pub change: usize,
    pub op: Op,
    /// Runs only after each of these succeeded.
    pub after: Vec<OpId>,
    /// A rollback step: runs only when one of these failed, once all settled.
    pub rollback_of: Option<Vec<OpId>>,
    pub stage: Stage,
}

pub fn stage_of(change: &Change) -> Stage {
    match change.action {
        Action::Restore => Stage::Recover,
        Action::Remove if change.reasons.contains(&Reason::InterruptedRecreate) => Stage::Recover,
        Action::Build | Action::Pull => Stage::Images,
        _ => Stage::Converge,
    }
}

struct Graph {
    ops: Vec<Operation>,
    change: usize,
    stage: Stage,
}

impl Graph {
    fn push(&mut self, op: Op, after: Vec<OpId>) -> OpId {
        self.push_full(op, after, None)
    }

    fn push_full(&mut self, op: Op, mut after: Vec<OpId>, rollback_of: Option<Vec<OpId>>) -> OpId {
        after.sort();
        after.dedup();
        let id = OpId(self.ops.len());
        self.ops.push(Operation {
            id,
            change: self.change,
            op,
            after,
            rollback_of,
            stage: self.stage,
        });
        id
    }
}

/// Name of the parked previous generation during a stop-first recreate.
pub fn previous_name(name: &str) -> String {
    format!("{name}{}", crate::plan::PREVIOUS_SUFFIX)
}

/// Name of the new container while it starts beside the old one.
pub fn next_name(name: &str) -> String {
    format!("{name}{}", crate::plan::NEXT_SUFFIX)
}

/// The labelled volume that records a failed rollout of `spec`'s hash.
pub fn failure_record(spec: &ContainerSpec) -> VolumePlanSpec {
    let project = spec
        .labels
        .get(crate::labels::PROJECT)
        .cloned()
        .unwrap_or_default();
    let mut labels = crate::labels::ownership(
        &project,
        crate::plan::FAILED_ROLLOUT_KIND,
        Some(&spec.resource),
    );
    labels.insert(crate::labels::SPEC_HASH.to_string(), spec.hash.clone());
    let short: String = spec.hash.chars().take(12).collect();
    VolumePlanSpec {
        name: format!("lucidctl-failed-{}-{short}", spec.name),
        labels,
        driver: None,
        driver_opts: BTreeMap::new(),
    }
}

/// Turns the changes into operations. `desired` supplies `dependsOn`;
/// `object_name` maps a resource name to its Docker object name.
pub fn expand(
    changes: &[Change],
    desired: &DesiredState,
    object_name: &dyn Fn(&str) -> String,
) -> Vec<Operation> {
    let mut g = Graph {
        ops: Vec::new(),
        change: 0,
        stage: Stage::Converge,
    };
    let mut networks: BTreeMap<String, OpId> = BTreeMap::new();
    let mut volumes: BTreeMap<String, OpId> = BTreeMap::new();
    let mut last_build = None;
    // Infrastructure and images first, so workloads can depend on them.
    for (i, c) in changes.iter().enumerate() {
        g.change = i;
        g.stage = stage_of(c);
        match (&c.target, c.action) {
            (Target::Image { reference }, Action::Build) => {
                // Bases come first in the plan; building one at a time keeps that order.
                let after = last_build.into_iter().collect();
                last_build = Some(g.push(
                    Op::Build {
                        reference: reference.clone(),
                    },
                    after,
                ));
            }
            (Target::Image { reference }, Action::Pull) => {
                g.push(
                    Op::Pull {
                        reference: reference.clone(),
                    },
                    vec![],
                );
            }
            (Target::Network(n), Action::Create) => {
                let id = g.push(Op::CreateNetwork(n.clone()), vec![]);
                networks.insert(n.name.clone(), id);
            }
            (Target::Network(n), Action::Recreate) => {
                let removed = g.push(
                    Op::RemoveNetwork {
                        name: n.name.clone(),
                    },
                    vec![],
                );
                let id = g.push(Op::CreateNetwork(n.clone()), vec![removed]);
                networks.insert(n.name.clone(), id);
            }
            (Target::Volume(v), Action::Create) => {
                let id = g.push(Op::CreateVolume(v.clone()), vec![]);
                volumes.insert(v.name.clone(), id);
            }
            (Target::Parked { parked, base }, Action::Restore) => {
                g.push(
                    Op::RenameContainer {
                        from: parked.clone(),
                        to: base.clone(),
                    },
                    vec![],
                );
            }
            (Target::Parked { parked, .. }, Action::Remove) => {
                g.push(
                    Op::RemoveContainer {
                        name: parked.clone(),
                    },
                    vec![],
                );
            }
            _ => {}
        }
    }
    let infra = Infra {
        networks: &networks,
        volumes: &volumes,
    };
    // Workloads, in the plan's dependency order: a dependency's last
    // operation is known before its dependents are expanded.
    let mut done: BTreeMap<&str, OpId> = BTreeMap::new();
    for (i, c) in changes.iter().enumerate() {
        let Target::Container(spec) = &c.target else {
            continue;
        };
        g.change = i;
        g.stage = stage_of(c);
        let mut entry: Vec<OpId> = done.get(c.name.as_str()).copied().into_iter().collect();
        if matches!(
            c.action,
            Action::Create | Action::Recreate | Action::Start | Action::Restart
        ) {
            entry.extend(dependency_gates(&mut g, desired, c, &done, object_name));
        }
        if c.action == Action::Recreate {
            entry = before_hooks(&mut g, c, entry, &done, &infra);
        }
        let last = workload(&mut g, c, spec, entry, &infra);
        done.insert(c.name.as_str(), last);
    }
    // Removals: containers first, then what they were attached to.
    let mut removed_containers = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        if let (Target::Existing { name }, Action::Remove) = (&c.target, c.action) {
            if matches!(c.kind, Kind::Service | Kind::Job) {
                g.change = i;
                g.stage = stage_of(c);
                let container = name.clone();
                // One at a time: engine 20.10 leaks a network's endpoints when
                // containers on it are removed concurrently (moby#43286), and
                // only a daemon restart frees such a network.
                let after = removed_containers.last().copied().into_iter().collect();
                removed_containers.push(g.push(Op::RemoveContainer { name: container }, after));
            }
        }
    }
    for (i, c) in changes.iter().enumerate() {
        let (Target::Existing { name }, Action::Remove) = (&c.target, c.action) else {
            continue;
        };
        g.change = i;
        g.stage = stage_of(c);
        let name = name.clone();
        match c.kind {
            Kind::Network => {
                g.push(Op::RemoveNetwork { name }, removed_containers.clone());
            }
            Kind::Volume => {
                g.push(Op::RemoveVolume { name }, removed_containers.clone());
            }
            _ => {}
        }
    }
    g.ops
}

struct Infra<'a> {
    networks: &'a BTreeMap<String, OpId>,
    volumes: &'a BTreeMap<String, OpId>,
}

impl Infra<'_> {
    /// Creates of the networks and volumes a container uses, in this plan.
    fn for_container(&self, spec: &ContainerSpec) -> Vec<OpId> {
        let mut out: Vec<OpId> = spec
            .networks
            .iter()
            .filter_map(|n| self.networks.get(&n.network).copied())
            .collect();
        out.extend(spec.mounts.iter().filter_map(|m| match &m.from {
            crate::render::MountFrom::Volume(v) => self.volumes.get(v).copied(),
            crate::render::MountFrom::HostPath(_) | crate::render::MountFrom::Anonymous => None,
        }));
        out
    }
}

fn dependency_gates(
    g: &mut Graph,
    desired: &DesiredState,
    c: &Change,
    done: &BTreeMap<&str, OpId>,
    object_name: &dyn Fn(&str) -> String,
) -> Vec<OpId> {
    let Some(w) = desired.get(c.kind, &c.name).and_then(|r| r.spec.workload()) else {
        return Vec::new();
    };
    w.depends_on
        .iter()
        .map(|d| {
            let after = done.get(d.name.as_str()).copied().into_iter().collect();
            g.push(
                Op::WaitDependency {
                    dependency: d.name.clone(),
                    container: object_name(&d.name),
                    condition: d.condition,
                    probe: probe_of(
                        desired
                            .get(Kind::Service, &d.name)
                            .and_then(|r| r.spec.workload())
                            .and_then(|w| w.healthcheck.as_ref()),
                        d.condition,
                    ),
                },
                after,
            )
        })
        .collect()
}

/// The command a healthcheck `test` runs: `["CMD", args...]` or
/// `["CMD-SHELL", script]`; `["NONE"]` and anything else run nothing.
pub fn probe_command(test: &[String]) -> Option<Vec<String>> {
    match test.split_first() {
        Some((kind, args)) if kind == "CMD" && !args.is_empty() => Some(args.to_vec()),
        Some((kind, [script])) if kind == "CMD-SHELL" => {
            Some(vec!["/bin/sh".into(), "-c".into(), script.clone()])
        }
        _ => None,
    }
}

fn probe_of(
    h: Option<&desired_state::model::Healthcheck>,
    condition: Condition,
) -> Option<Vec<String>> {
    (condition == Condition::Healthy)
        .then(|| h.and_then(|h| probe_command(&h.test)))
        .flatten()
}

fn ready_condition(spec: &ContainerSpec) -> Condition {
    if spec.kind == Kind::Job {
        Condition::Completed
    } else {
        Condition::Healthy
    }
}

/// create, connect the other networks, start, wait ready. Returns every
/// operation (the rollback watches them all) with the last one at the end.
fn bring_up(g: &mut Graph, spec: &ContainerSpec, after: Vec<OpId>, infra: &Infra) -> Vec<OpId> {
    let name = spec.name.clone();
    let mut create_after = after;
    create_after.extend(infra.for_container(spec));
    let create = g.push(
        Op::CreateContainer {
            name: name.clone(),
            spec: Box::new(spec.clone()),
        },
        create_after,
    );
    let mut steps = vec![create];
    for extra in spec.networks.iter().skip(1) {
        steps.push(g.push(
            Op::ConnectNetwork {
                container: name.clone(),
                attachment: extra.clone(),
            },
            vec![create],
        ));
    }
    let start = g.push(Op::StartContainer { name: name.clone() }, steps.clone());
    steps.push(start);
    steps.push(g.push(
        Op::WaitReady {
            container: name,
            condition: ready_condition(spec),
            probe: probe_of(spec.healthcheck.as_ref(), ready_condition(spec)),
        },
        vec![start],
    ));
    steps
}

/// Expands one workload change; returns its last forward operation.
fn workload(
    g: &mut Graph,
    c: &Change,
    spec: &ContainerSpec,
    entry: Vec<OpId>,
    infra: &Infra,
) -> OpId {
    let name = spec.name.clone();
    match c.action {
        Action::Create => *bring_up(g, spec, entry, infra)
            .last()
            .expect("bring_up returns its steps"),
        Action::Start => {
            let start = g.push(Op::StartContainer { name: name.clone() }, entry);
            g.push(
                Op::WaitReady {
                    container: name,
                    condition: ready_condition(spec),
                    probe: probe_of(spec.healthcheck.as_ref(), ready_condition(spec)),
                },
                vec![start],
            )
        }
        Action::Connect => {
            let network = c.network.clone().unwrap_or_default();
            let attachment = spec
                .networks
                .iter()
                .find(|n| n.network == network)
                .cloned()
                .unwrap_or(RenderedAttachment {
                    network,
                    aliases: Vec::new(),
                    ipv4_address: None,
                });
            let mut after = entry;
            after.extend(infra.networks.get(&attachment.network).copied());
            g.push(
                Op::ConnectNetwork {
                    container: name,
                    attachment,
                },
                after,
            )
        }
        Action::Disconnect => g.push(
            Op::DisconnectNetwork {
                container: name,
                network: c.network.clone().unwrap_or_default(),
            },
            entry,
        ),
        Action::Restart => {
            let stop = g.push(
                Op::StopContainer {
                    name: name.clone(),
                    grace_seconds: spec.stop_grace_seconds,
                },
                entry,
            );
            let start = g.push(Op::StartContainer { name: name.clone() }, vec![stop]);
            g.push(
                Op::WaitReady {
                    container: name,
                    condition: ready_condition(spec),
                    probe: probe_of(spec.healthcheck.as_ref(), ready_condition(spec)),
                },
                vec![start],
            )
        }
        Action::Recreate if spec.kind == Kind::Job => {
            let removed = g.push(Op::RemoveContainer { name }, entry);
            *bring_up(g, spec, vec![removed], infra)
                .last()
                .expect("bring_up returns its steps")
        }
        Action::Recreate => recreate_service(g, spec, entry, infra),
        // Other actions on containers are not planned.
        _ => g.push(
            Op::WaitReady {
                container: name,
                condition: Condition::Started,
                probe: None,
            },
            entry,
        ),
    }
}

/// A Service's `beforeRecreate` Jobs run to completion, one after the
/// other, before anything of the recreate happens; a Job that changes in
/// this plan anyway runs as its own change, and the recreate waits for it.
fn before_hooks(
    g: &mut Graph,
    c: &Change,
    mut entry: Vec<OpId>,
    done: &BTreeMap<&str, OpId>,
    infra: &Infra,
) -> Vec<OpId> {
    for hook in &c.before {
        if let Some(own) = done.get(hook.resource.as_str()) {
            entry.push(*own);
            continue;
        }
        let removed = g.push(
            Op::RemoveContainer {
                name: hook.name.clone(),
            },
            entry.clone(),
        );
        let mut create_after = vec![removed];
        create_after.extend(infra.for_container(hook));
        let create = g.push(
            Op::CreateContainer {
                name: hook.name.clone(),
                spec: Box::new(hook.clone()),
            },
            create_after,
        );
        let mut steps = vec![create];
        for extra in hook.networks.iter().skip(1) {
            steps.push(g.push(
                Op::ConnectNetwork {
                    container: hook.name.clone(),
                    attachment: extra.clone(),
                },
                vec![create],
            ));
        }
        let start = g.push(
            Op::StartContainer {
                name: hook.name.clone(),
            },
            steps,
        );
        entry = vec![g.push(
            Op::WaitHook {
                hook: hook.resource.clone(),
                container: hook.name.clone(),
            },
            vec![start],
        )];
    }
    entry
}

/// Start-first where the spec allows it, else stop-first. Either way the
/// rollback runs only when a step of the new container failed, and ends by
/// recording the failed spec hash so it is held, not retried.
fn recreate_service(g: &mut Graph, spec: &ContainerSpec, entry: Vec<OpId>, infra: &Infra) -> OpId {
    if spec.start_first {
        start_first(g, spec, entry, infra)
    } else {
        stop_first(g, spec, entry, infra)
    }
}

/// The new container starts beside the old one as `<name>.next`, answering
/// to the service name as a network alias; the old one goes only once the
/// new one is ready. A failed new container never touches the old one.
fn start_first(g: &mut Graph, spec: &ContainerSpec, entry: Vec<OpId>, infra: &Infra) -> OpId {
    let name = spec.name.clone();
    let next = next_name(&name);
    let mut beside = spec.clone();
    beside.name = next.clone();
    for a in &mut beside.networks {
        if !a.aliases.contains(&name) {
            a.aliases.push(name.clone());
        }
    }
    let attempt = bring_up(g, &beside, entry, infra);
    let ready = *attempt.last().expect("bring_up returns its steps");
    let watched = Some(attempt);
    let dropped = g.push_full(
        Op::RemoveContainer { name: next.clone() },
        vec![],
        watched.clone(),
    );
    g.push_full(
        Op::RecordFailedRollout {
            record: failure_record(spec),
        },
        vec![dropped],
        watched,
    );
    let stop = g.push(
        Op::StopContainer {
            name: name.clone(),
            grace_seconds: spec.stop_grace_seconds,
        },
        vec![ready],
    );
    let removed = g.push(Op::RemoveContainer { name: name.clone() }, vec![stop]);
    g.push(
        Op::RenameContainer {
            from: next,
            to: name,
        },
        vec![removed],
    )
}

/// The old container is stopped and parked as `<name>.prev` until the new
/// one is ready, and put back otherwise.
fn stop_first(g: &mut Graph, spec: &ContainerSpec, entry: Vec<OpId>, infra: &Infra) -> OpId {
    let name = spec.name.clone();
    let prev = previous_name(&name);
    let stop = g.push(
        Op::StopContainer {
            name: name.clone(),
            grace_seconds: spec.stop_grace_seconds,
        },
        entry,
    );
    let park = g.push(
        Op::RenameContainer {
            from: name.clone(),
            to: prev.clone(),
        },
        vec![stop],
    );
    let attempt = bring_up(g, spec, vec![park], infra);
    let ready = *attempt.last().expect("bring_up returns its steps");
    let watched = Some(attempt);
    let drop_new = g.push_full(
        Op::RemoveContainer { name: name.clone() },
        vec![],
        watched.clone(),
    );
    let restore = g.push_full(
        Op::RenameContainer {
            from: prev.clone(),
            to: name.clone(),
        },
        vec![drop_new],
        watched.clone(),
    );
    let restart = g.push_full(
        Op::StartContainer { name: name.clone() },
        vec![restore],
        watched.clone(),
    );
    // The restored container must be ready again, or the report says so.
    g.push_full(
        Op::WaitReady {
            container: name,
            condition: ready_condition(spec),
            probe: probe_of(spec.healthcheck.as_ref(), ready_condition(spec)),
        },
        vec![restart],
        watched.clone(),
    );
    g.push_full(
        Op::RecordFailedRollout {
            record: failure_record(spec),
        },
        vec![restart],
        watched,
    );
    g.push(Op::RemoveContainer { name: prev }, vec![ready])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineApi;
    use crate::observed::Observed;
    use crate::plan::{plan, plan_delete, PlanOptions};
    use crate::testing::{desired, inputs, FakeEngine};

    const TWO: &str = r#"
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: net}
---
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: back}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: db}
spec:
  image: db:1
  env: {V: "1"}
  networks: [{name: net}, {name: back}]
  healthcheck: {test: [CMD, probe]}
  rollout: stopFirst
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: api}
spec:
  image: db:1
  networks: [{name: net}]
  dependsOn: [{name: db, condition: healthy}]
"#;

    fn hash_of(p: &crate::plan::Plan, name: &str) -> String {
        p.changes
            .iter()
            .find_map(|c| match &c.target {
                crate::plan::Target::Container(s) if c.name == name => Some(s.hash.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_start_first_recreate_brings_the_new_one_up_beside_the_old_one() {
        let (_, observed) = converged().await;
        let text = TWO
            .replace("rollout: stopFirst", "rollout: auto")
            .replace("V: \"1\"", "V: \"2\"");
        let p = plan(
            &desired(&text),
            &observed,
            &inputs(),
            &PlanOptions::default(),
        );
        let i = p
            .changes
            .iter()
            .position(|c| c.name == "db")
            .expect("db changes");
        let ops: Vec<&Operation> = p.operations_of(i).collect();
        assert_eq!(
            verbs(&ops),
            [
                "create container db.next from db:1",
                "connect db.next to back",
                "start container db.next",
                "wait until db.next is healthy (probing \"probe\" meanwhile)",
                "remove container db.next",
                &format!("record the failed rollout of {}", hash_of(&p, "db")),
                "stop container db",
                "remove container db",
                "rename container db.next to db",
            ]
        );
        let Op::CreateContainer { spec, .. } = &ops[0].op else {
            panic!("{:?}", ops[0]);
        };
        assert!(
            spec.networks
                .iter()
                .all(|n| n.aliases.contains(&"db".to_string())),
            "the new container answers to the service name on every network: {:?}",
            spec.networks
        );
        assert_eq!(
            ops[4].rollback_of.as_deref(),
            Some(&[ops[0].id, ops[1].id, ops[2].id, ops[3].id][..])
        );
        assert_eq!(
            ops[6].after,
            vec![ops[3].id],
            "the old one stops only once the new one is ready"
        );
    }

    #[tokio::test]
    async fn a_published_host_port_keeps_a_service_stop_first() {
        let (_, observed) = converged().await;
        let text = TWO
            .replace(
                "rollout: stopFirst",
                "ports: [{containerPort: 80, hostPort: 8080}]",
            )
            .replace("V: \"1\"", "V: \"2\"");
        let p = plan(
            &desired(&text),
            &observed,
            &inputs(),
            &PlanOptions::default(),
        );
        assert!(p
            .operations
            .iter()
            .any(|o| o.op.to_string() == "rename container db to db.prev"));
        assert!(!p
            .operations
            .iter()
            .any(|o| o.op.to_string().contains("db.next")));
    }

    fn verbs(ops: &[&Operation]) -> Vec<String> {
        ops.iter().map(|o| o.op.to_string()).collect()
    }

    async fn converged() -> (FakeEngine, Observed) {
        let e = FakeEngine::new();
        e.add_image("db:1");
        let state = desired(TWO);
        let i = inputs();
        let empty = e.observe(&Default::default()).await.expect("observe");
        for o in plan(&state, &empty, &i, &PlanOptions::default()).operations {
            match &o.op {
                Op::CreateNetwork(n) => e.create_network(n).await.expect("network"),
                Op::CreateContainer { name, spec } => {
                    e.create_container(spec, name).await.expect("create");
                }
                Op::ConnectNetwork {
                    container,
                    attachment,
                } => e
                    .connect_network(container, attachment)
                    .await
                    .expect("connect"),
                Op::StartContainer { name } => e.start_container(name).await.expect("start"),
                _ => {}
            }
        }
        let observed = e.observe(&Default::default()).await.expect("observe");
        (e, observed)
    }

    #[tokio::test]
    async fn a_recreate_is_stop_park_bring_up_drop_with_a_watched_rollback() {
        let (_, observed) = converged().await;
        let p = plan(
            &desired(&TWO.replace("V: \"1\"", "V: \"2\"")),
            &observed,
            &inputs(),
            &PlanOptions::default(),
        );
        let i = p
            .changes
            .iter()
            .position(|c| c.name == "db")
            .expect("db changes");
        let ops: Vec<&Operation> = p.operations_of(i).collect();
        assert_eq!(
            verbs(&ops),
            [
                "stop container db",
                "rename container db to db.prev",
                "create container db from db:1",
                "connect db to back",
                "start container db",
                "wait until db is healthy (probing \"probe\" meanwhile)",
                "remove container db",
                "rename container db.prev to db",
                "start container db",
                "wait until db is healthy (probing \"probe\" meanwhile)",
                &format!("record the failed rollout of {}", hash_of(&p, "db")),
                "remove container db.prev",
            ]
        );
        let watched = ops[6]
            .rollback_of
            .clone()
            .expect("the rollback watches the new container's steps");
        assert_eq!(watched, vec![ops[2].id, ops[3].id, ops[4].id, ops[5].id]);
        assert!(ops[11].rollback_of.is_none() && ops[11].after == vec![ops[5].id]);
        // api is not changed, so nothing of it is planned.
        assert!(
            p.changes.iter().all(|c| c.name != "api"),
            "{:?}",
            p.changes
                .iter()
                .filter(|c| c.name == "api")
                .map(|c| (c.action, c.reasons.clone(), c.fields.clone()))
                .collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn dependents_wait_for_the_dependency_s_last_step() {
        let p = plan(
            &desired(TWO),
            &Observed::default(),
            &inputs(),
            &PlanOptions::default(),
        );
        let of = |name: &str| {
            let i = p
                .changes
                .iter()
                .position(|c| c.name == name)
                .expect("a change");
            p.operations_of(i).collect::<Vec<_>>()
        };
        let db = of("db");
        let api = of("api");
        assert!(matches!(api[0].op, Op::WaitDependency { .. }));
        assert_eq!(api[0].after, vec![db.last().expect("ops").id]);
        assert!(
            api[1].after.contains(&api[0].id),
            "create waits for the gate"
        );
        // The create of db comes after both networks it joins are created.
        let nets: Vec<OpId> = p
            .operations
            .iter()
            .filter(|o| matches!(o.op, Op::CreateNetwork(_)))
            .map(|o| o.id)
            .collect();
        assert!(
            nets.iter().all(|n| db[0].after.contains(n)),
            "{:?}",
            db[0].after
        );
    }

    #[tokio::test]
    async fn removals_run_one_container_at_a_time_then_the_networks() {
        let (_, observed) = converged().await;
        let p = plan_delete(&desired(TWO), &observed, &inputs(), false);
        let containers: Vec<&Operation> = p
            .operations
            .iter()
            .filter(|o| matches!(o.op, Op::RemoveContainer { .. }))
            .collect();
        assert_eq!(containers.len(), 2);
        assert!(containers[0].after.is_empty() && containers[1].after == vec![containers[0].id]);
        for n in p
            .operations
            .iter()
            .filter(|o| matches!(o.op, Op::RemoveNetwork { .. }))
        {
            assert_eq!(n.after, vec![containers[0].id, containers[1].id]);
        }
    }
}
