//! Services and Jobs: create, recreate, start, connect and disconnect.

use super::order::dependency_waves;
use super::{Action, Change, Conflict, Plan, Reason, Target};
use crate::fields::field_changes;
use crate::labels;
use crate::observed::{Observed, ObservedContainer, RunState};
use crate::render::{isolated_networks, render_container, ContainerSpec, Inputs};
use desired_state::model::{Kind, Spec};
use desired_state::DesiredState;
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn plan_containers(
    desired: &DesiredState,
    chosen: &BTreeSet<usize>,
    observed: &Observed,
    inputs: &Inputs,
    out: &mut Plan,
) {
    let names: BTreeSet<String> = chosen
        .iter()
        .map(|i| &desired.resources[*i])
        .filter(|r| r.spec.workload().is_some())
        .map(|r| r.name().to_string())
        .collect();
    let rebuilt: BTreeSet<String> = out
        .changes
        .iter()
        .filter_map(|c| match (&c.action, &c.target) {
            (Action::Build, Target::Image { reference }) => Some(reference.clone()),
            _ => None,
        })
        .collect();
    let isolated = isolated_networks(desired, inputs);
    for wave in dependency_waves(desired, &names) {
        for name in wave {
            let Some(r) = desired
                .get(Kind::Service, &name)
                .or_else(|| desired.get(Kind::Job, &name))
            else {
                continue;
            };
            let spec = match render_container(r, inputs, observed) {
                Some(Ok(spec)) => spec,
                Some(Err(e)) => {
                    out.errors.push(e);
                    continue;
                }
                None => continue,
            };
            let hooks = spec.before_recreate.clone();
            let first_new = out.changes.len();
            plan_one(spec, observed, &rebuilt, &isolated, out);
            if hooks.is_empty() {
                continue;
            }
            let before: Vec<ContainerSpec> = hooks
                .iter()
                .filter_map(|j| desired.get(Kind::Job, j))
                .filter_map(|j| render_container(j, inputs, observed))
                .filter_map(Result::ok)
                .collect();
            // A container that can never start again is made anew on the same
            // spec and volumes: nothing for a backup to guard, and a backup
            // Job cannot read a store that is down (the chaos soak's smoke).
            for c in out.changes[first_new..]
                .iter_mut()
                .filter(|c| c.action == Action::Recreate)
                .filter(|c| {
                    c.reasons.is_empty()
                        || !c.reasons.iter().all(Reason::only_remakes_a_dead_container)
                })
            {
                c.before = before.clone();
            }
        }
    }
}

/// Services declaring `dependsOn: [{name: X, restart: true}]` are restarted
/// once X is recreated (and ready again), unless they change anyway.
pub(super) fn plan_dependents_restart(
    desired: &DesiredState,
    chosen: &BTreeSet<usize>,
    observed: &Observed,
    inputs: &Inputs,
    out: &mut Plan,
) {
    let recreated: BTreeSet<String> = out
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Recreate | Action::Restart))
        .filter(|c| matches!(c.kind, Kind::Service | Kind::Job))
        .map(|c| c.name.clone())
        .collect();
    if recreated.is_empty() {
        return;
    }
    for i in chosen {
        let r = &desired.resources[*i];
        let Spec::Service(w) = &r.spec else { continue };
        let Some(dep) = w
            .depends_on
            .iter()
            .find(|d| d.restart && recreated.contains(&d.name))
        else {
            continue;
        };
        if out
            .changes
            .iter()
            .any(|c| c.name == r.name() && matches!(c.kind, Kind::Service | Kind::Job))
        {
            continue;
        }
        let Some(Ok(spec)) = render_container(r, inputs, observed) else {
            continue;
        };
        if observed
            .container(&spec.name)
            .is_none_or(|c| !c.is_managed())
        {
            continue;
        }
        out.changes.push(change(
            &spec,
            Action::Restart,
            vec![Reason::DependencyRecreated {
                name: dep.name.clone(),
            }],
        ));
    }
}

fn change(spec: &ContainerSpec, action: Action, reasons: Vec<Reason>) -> Change {
    Change {
        kind: spec.kind,
        name: spec.resource.clone(),
        action,
        reasons,
        fields: Vec::new(),
        network: None,
        target: Target::Container(Box::new(spec.clone())),
        before: Vec::new(),
    }
}

fn plan_one(
    spec: ContainerSpec,
    observed: &Observed,
    rebuilt: &BTreeSet<String>,
    isolated: &BTreeSet<String>,
    out: &mut Plan,
) {
    let Some(have) = observed.container(&spec.name) else {
        out.changes
            .push(change(&spec, Action::Create, vec![Reason::NotFound]));
        return;
    };
    if !have.is_managed() {
        out.conflicts.push(Conflict {
            kind: spec.kind,
            name: spec.resource.clone(),
            message: format!(
                "container {} exists but lacks the ownership label; lucidctl will not adopt or remove it: remove or rename it by hand",
                spec.name
            ),
        });
        return;
    }
    if let Some(project) = have
        .label(labels::PROJECT)
        .filter(|p| *p != spec.labels[labels::PROJECT])
    {
        out.conflicts.push(Conflict {
            kind: spec.kind,
            name: spec.resource.clone(),
            message: format!("container {} belongs to project {project:?}; use that project or another name prefix", spec.name),
        });
        return;
    }
    // A container read from the list only was proven converged on its spec
    // hash (crate::observe): its fields were not read, so none can differ.
    let fields = if have.summary_only {
        Vec::new()
    } else {
        field_changes(&spec, have)
    };
    let mut reasons = recreate_reasons(&spec, have, !fields.is_empty());
    if rebuilt.contains(&spec.image) {
        reasons.push(Reason::ImageRebuilt);
    }
    for m in &spec.mounts {
        if !have.config.mounts.contains_key(&m.target) {
            reasons.push(Reason::MountMissing {
                target: m.target.clone(),
            });
        }
    }
    if spec.kind == Kind::Job
        && have.state == Some(RunState::Exited)
        && have.exit_code.unwrap_or(0) != 0
    {
        reasons.push(Reason::JobFailed {
            exit_code: have.exit_code.unwrap_or(0),
        });
    }
    if have.has_stale_task() {
        reasons.push(Reason::StaleRuntimeTask);
    }
    reasons.extend(replaced_networks(have, observed));
    reasons.dedup();
    if !reasons.is_empty() {
        let mut c = change(&spec, Action::Recreate, reasons);
        c.fields = fields;
        out.changes.push(c);
        return;
    }
    if let Some(restart) = unhealthy_restart(&spec, have, out) {
        out.changes.push(restart);
        return;
    }
    // With a networkMode, Docker's own attachment (host, none) is what was asked for.
    if spec.runtime.network_mode.is_none() {
        plan_networks(&spec, have, isolated, out);
    }
    let finished_job = spec.kind == Kind::Job && have.state == Some(RunState::Exited);
    let running = matches!(have.state, Some(RunState::Running | RunState::Restarting));
    if !running && !finished_job {
        out.changes
            .push(change(&spec, Action::Start, vec![Reason::Stopped]));
    }
}

/// A stopped container still names the ID of a network that was removed
/// (and is made again under the same name): no start of it can succeed
/// (found by the chaos soak). A running one cannot be in that state: Docker
/// refuses to remove a network with active endpoints.
fn replaced_networks(have: &ObservedContainer, observed: &Observed) -> Vec<Reason> {
    if matches!(have.state, Some(RunState::Running | RunState::Restarting)) {
        return Vec::new();
    }
    have.config
        .networks
        .iter()
        .filter(|(name, a)| {
            // Gone altogether, it is made again in this pass, with a new ID.
            let now = observed.network(name).map(|n| n.id.as_str());
            match (a.network_id.as_deref(), now) {
                (Some(_), None) => true,
                (Some(was), Some(now)) => !now.is_empty() && was != now,
                (None, _) => false,
            }
        })
        .map(|(name, _)| Reason::NetworkReplaced {
            network: name.clone(),
        })
        .collect()
}

/// Docker never restarts an unhealthy container; after `restartAfter` of
/// failed checks, lucidctl does. Until then the plan asks to look again.
fn unhealthy_restart(
    spec: &ContainerSpec,
    have: &ObservedContainer,
    out: &mut Plan,
) -> Option<Change> {
    let grace = spec.restart_after?;
    if have.health != Some(crate::observed::Health::Unhealthy) {
        return None;
    }
    let interval = have
        .config
        .healthcheck_interval
        .unwrap_or(std::time::Duration::from_secs(30));
    let streak = u32::try_from(have.failing_streak.unwrap_or(1).max(1)).unwrap_or(u32::MAX);
    let unhealthy_for = interval.saturating_mul(streak);
    if unhealthy_for >= grace {
        return Some(change(
            spec,
            Action::Restart,
            vec![Reason::Unhealthy {
                seconds: unhealthy_for.as_secs(),
            }],
        ));
    }
    let wait = grace - unhealthy_for;
    out.requeue_after = Some(out.requeue_after.map_or(wait, |w| w.min(wait)));
    None
}

/// Which inputs explain a hash difference, from the per-input hashes on the container.
fn recreate_reasons(
    spec: &ContainerSpec,
    have: &ObservedContainer,
    fields_differ: bool,
) -> Vec<Reason> {
    if have.label(labels::SPEC_HASH) == Some(spec.hash.as_str()) {
        return if fields_differ {
            vec![Reason::ManualChange]
        } else {
            Vec::new()
        };
    }
    let before: BTreeMap<String, String> = have
        .label(labels::INPUTS)
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    let mut reasons = Vec::new();
    let keys: BTreeSet<&String> = before.keys().chain(spec.inputs.keys()).collect();
    for key in keys {
        if before.get(key) == spec.inputs.get(key) {
            continue;
        }
        reasons.push(match key.split_once('/') {
            Some(("config", name)) => Reason::ConfigFileChanged {
                name: name.to_string(),
            },
            Some(("secret", set)) => Reason::SecretChanged {
                set: set.to_string(),
            },
            _ if key == "image" => Reason::ImageChanged,
            _ => Reason::SpecChanged,
        });
    }
    if reasons.is_empty() {
        reasons.push(Reason::HashChanged);
    }
    reasons
}

/// While the rollout of `spec` is held, the previous container keeps serving
/// (issue 22: an engine restart stopped it, and nothing started it again):
/// started when it stopped, and kept on the declared networks, so a breach
/// of an isolated network is repaired even then. Its readiness is Docker's
/// view of its own health check: the held spec's check is the one that failed.
pub(super) fn keep_previous(
    spec: &ContainerSpec,
    observed: &Observed,
    isolated: &BTreeSet<String>,
) -> Vec<Change> {
    let Some(have) = observed.container(&spec.name) else {
        return Vec::new();
    };
    let mut out = Plan::default();
    if spec.runtime.network_mode.is_none() {
        plan_networks(spec, have, isolated, &mut out);
    }
    let finished_job = spec.kind == Kind::Job && have.state == Some(RunState::Exited);
    let running = matches!(have.state, Some(RunState::Running | RunState::Restarting));
    if !running && !finished_job {
        let mut previous = spec.clone();
        previous.healthcheck = None;
        out.changes
            .push(change(&previous, Action::Start, vec![Reason::Stopped]));
    }
    out.changes
}

fn plan_networks(
    spec: &ContainerSpec,
    have: &ObservedContainer,
    isolated: &BTreeSet<String>,
    out: &mut Plan,
) {
    let declared: BTreeSet<&str> = spec.networks.iter().map(|n| n.network.as_str()).collect();
    for n in &spec.networks {
        if !have.config.networks.contains_key(&n.network) {
            let mut c = change(
                spec,
                Action::Connect,
                vec![Reason::NetworkMissing {
                    network: n.network.clone(),
                }],
            );
            c.network = Some(n.network.clone());
            out.changes.push(c);
        }
    }
    for network in have.config.networks.keys() {
        // With no networks declared, Docker's default bridge is what was asked for.
        let default_bridge = declared.is_empty() && network == "bridge";
        if !declared.contains(network.as_str()) && !default_bridge {
            let reason = Reason::NetworkNotDeclared {
                network: network.clone(),
                policy_violation: isolated.contains(network),
            };
            let mut c = change(spec, Action::Disconnect, vec![reason]);
            c.network = Some(network.clone());
            out.changes.push(c);
        }
    }
}
