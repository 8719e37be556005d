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
    },
    /// A `dependsOn` condition holds before the dependent is touched.
    WaitDependency {
        dependency: String,
        container: String,
        condition: Condition,
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
        }
    }

    /// Waits hold no engine-call slot: they only poll.
    pub fn is_wait(&self) -> bool {
        matches!(self, Op::WaitReady { .. } | Op::WaitDependency { .. })
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
            } => write!(f, "wait until {container} is {}", condition.as_str()),
            Op::WaitDependency {
                dependency,
                condition,
                ..
            } => write!(
                f,
                "wait until dependency {dependency} is {}",
                condition.as_str()
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

/// Name of the parked previous generation during a recreate.
pub fn previous_name(name: &str) -> String {
    format!("{name}{}", crate::plan::PREVIOUS_SUFFIX)
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
            (Target::Existing { name }, Action::Restore) => {
                g.push(
                    Op::RenameContainer {
                        from: previous_name(name),
                        to: name.clone(),
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
        if matches!(c.action, Action::Create | Action::Recreate | Action::Start) {
            entry.extend(dependency_gates(&mut g, desired, c, &done, object_name));
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
                let container = if g.stage == Stage::Recover {
                    previous_name(name)
                } else {
                    name.clone()
                };
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
            crate::render::MountFrom::HostPath(_) => None,
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
                },
                after,
            )
        })
        .collect()
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
            },
            entry,
        ),
    }
}

/// Stop-first, with the old container parked until the new one is ready.
fn recreate_service(g: &mut Graph, spec: &ContainerSpec, entry: Vec<OpId>, infra: &Infra) -> OpId {
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
    g.push_full(Op::StartContainer { name }, vec![restore], watched);
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
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: api}
spec:
  image: db:1
  networks: [{name: net}]
  dependsOn: [{name: db, condition: healthy}]
"#;

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
                "wait until db is healthy",
                "remove container db",
                "rename container db.prev to db",
                "start container db",
                "remove container db.prev",
            ]
        );
        let watched = ops[6]
            .rollback_of
            .clone()
            .expect("the rollback watches the new container's steps");
        assert_eq!(watched, vec![ops[2].id, ops[3].id, ops[4].id, ops[5].id]);
        assert!(ops[9].rollback_of.is_none() && ops[9].after == vec![ops[5].id]);
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
