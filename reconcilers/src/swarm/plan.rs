//! `plan(desired, observed)` for a Swarm: what to create, update, run or
//! remove, each with typed reasons and field lines. Pure, like the
//! container planner, whose `Reason`s it shares.

use super::model::*;
use super::view;
use crate::fields::FieldChange;
use crate::labels;
use crate::plan::Reason;
use desired_state::model::{Kind, Spec};
use desired_state::DesiredState;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SwarmAction {
    Create,
    /// A new spec for an existing service: Swarm rolls its tasks.
    Update,
    /// Run a Job again (its last run failed).
    Run,
    Remove,
    /// A revision Swarm rolled back before: not tried again.
    Held,
}

impl SwarmAction {
    pub fn marker(self) -> &'static str {
        match self {
            SwarmAction::Create => "+",
            SwarmAction::Update | SwarmAction::Run => "~",
            SwarmAction::Remove => "-",
            SwarmAction::Held => "!",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SwarmAction::Create => "create",
            SwarmAction::Update => "update",
            SwarmAction::Run => "run",
            SwarmAction::Remove => "remove",
            SwarmAction::Held => "held",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwarmChange {
    /// `Service`, `Job`, `Network`, `config`, `secret`.
    pub kind: String,
    pub name: String,
    pub action: SwarmAction,
    pub reasons: Vec<Reason>,
    pub fields: Vec<FieldChange>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SwarmPlan {
    pub changes: Vec<SwarmChange>,
    /// Objects in the way that lucidctl does not own: nothing is done to them.
    pub conflicts: Vec<String>,
    /// Services on an isolated network that are not its members or bridges.
    pub violations: Vec<String>,
}

impl SwarmPlan {
    /// Nothing to do and nothing in the way.
    pub fn is_empty(&self) -> bool {
        self.changes.iter().all(|c| c.action == SwarmAction::Held)
            && self.conflicts.is_empty()
            && self.violations.is_empty()
    }

    pub fn change(&self, name: &str) -> Option<&SwarmChange> {
        self.changes.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SwarmPlanOptions {
    /// Remove managed services of the project the files no longer declare.
    pub prune: bool,
    /// Try a held revision again.
    pub retry_failed: bool,
}

/// The service a failed-rollout marker is about.
fn marker_of(o: &SwarmObject) -> Option<&str> {
    (o.labels.get(labels::KIND).map(String::as_str) == Some(FAILED_KIND))
        .then(|| o.labels.get(labels::NAME).map(String::as_str))
        .flatten()
}

fn is_held(observed: &ObservedSwarm, project: &str, service: &str, hash: &str) -> bool {
    observed.configs.iter().any(|o| {
        owned(&o.labels, project)
            && marker_of(o) == Some(service)
            && o.labels.get(FAILED_HASH).map(String::as_str) == Some(hash)
    })
}

/// The marker that holds `service`'s revision `hash`, with why it failed.
pub fn failed_marker(project: &str, service: &str, hash: &str, why: &str) -> SwarmData {
    let mut l = labels::ownership(project, FAILED_KIND, Some(service));
    l.insert(FAILED_HASH.to_string(), hash.to_string());
    SwarmData {
        kind: FileKind::Config,
        what: format!("failed rollout of {service}"),
        name: format!("{service}-failed-{}", &hash[..hash.len().min(12)]),
        labels: l,
        bytes: why.as_bytes().to_vec(),
    }
}

fn owned(labels: &std::collections::BTreeMap<String, String>, project: &str) -> bool {
    crate::observed::is_managed(labels)
        && labels.get(labels::PROJECT).map(String::as_str) == Some(project)
}

pub fn plan(
    state: &DesiredState,
    desired: &SwarmDesired,
    observed: &ObservedSwarm,
    project: &str,
    options: SwarmPlanOptions,
) -> SwarmPlan {
    let mut out = SwarmPlan::default();
    for n in &desired.networks {
        match observed.network(&n.name) {
            None if n.external => out
                .conflicts
                .push(format!("Network/{}: external network {} does not exist", n.resource, n.name)),
            None => out.changes.push(SwarmChange {
                kind: "Network".into(),
                name: n.name.clone(),
                action: SwarmAction::Create,
                reasons: vec![Reason::NotFound],
                fields: Vec::new(),
            }),
            Some(_) if n.external => {}
            Some(have) if !owned(&have.labels, project) => out.conflicts.push(format!(
                "Network/{}: a network named {} exists and is not lucidctl's (project {project}); rename or remove it",
                n.resource, n.name
            )),
            Some(have) if have.driver != "overlay" || have.labels.get(labels::SPEC_HASH) != Some(&n.hash) => {
                out.conflicts.push(format!(
                    "Network/{}: {} has other settings than declared ({} network); services must leave it to change it: run `lucidctl delete --target swarm` and apply again",
                    n.resource, n.name, have.driver
                ))
            }
            Some(_) => {}
        }
    }
    for d in &desired.data {
        if !observed.data(d.kind).iter().any(|o| o.name == d.name) {
            out.changes.push(SwarmChange {
                kind: d.kind.as_str().into(),
                name: d.name.clone(),
                action: SwarmAction::Create,
                reasons: vec![Reason::NotFound],
                fields: Vec::new(),
            });
        }
    }
    for s in &desired.services {
        plan_service(s, observed, project, options, &mut out);
    }
    isolation(state, desired, observed, project, &mut out);
    // Old configs and secrets: content-addressed, so a change left the old
    // object behind; removed once the services moved off it.
    for kind in [FileKind::Config, FileKind::Secret] {
        for o in observed.data(kind) {
            if let Some(service) = marker_of(o) {
                // A held revision stays held while the files still ask for it.
                let still = desired
                    .services
                    .iter()
                    .any(|s| s.name == service && o.labels.get(FAILED_HASH) == Some(&s.hash));
                if still && !options.retry_failed {
                    continue;
                }
            }
            if owned(&o.labels, project) && !desired.data.iter().any(|d| d.name == o.name) {
                out.changes.push(SwarmChange {
                    kind: kind.as_str().into(),
                    name: o.name.clone(),
                    action: SwarmAction::Remove,
                    reasons: vec![Reason::NotDesired],
                    fields: Vec::new(),
                });
            }
        }
    }
    if options.prune {
        for o in &observed.services {
            if owned(&o.labels, project) && !desired.services.iter().any(|s| s.name == o.name) {
                out.changes.push(SwarmChange {
                    kind: o.label(labels::KIND).unwrap_or("Service").into(),
                    name: o.name.clone(),
                    action: SwarmAction::Remove,
                    reasons: vec![Reason::NotDesired],
                    fields: Vec::new(),
                });
            }
        }
    }
    out
}

fn plan_service(
    s: &SwarmService,
    observed: &ObservedSwarm,
    project: &str,
    options: SwarmPlanOptions,
    out: &mut SwarmPlan,
) {
    let kind = s.kind.as_str().to_string();
    let mut change = |action, reasons, fields| {
        out.changes.push(SwarmChange {
            kind: kind.clone(),
            name: s.name.clone(),
            action,
            reasons,
            fields,
        })
    };
    let Some(have) = observed.service(&s.name) else {
        change(SwarmAction::Create, vec![Reason::NotFound], Vec::new());
        return;
    };
    if !owned(&have.labels, project) {
        out.conflicts.push(format!(
            "{}/{}: a swarm service named {} exists and is not lucidctl's (project {project}); it is left alone",
            s.kind.as_str(),
            s.resource,
            s.name
        ));
        return;
    }
    let want = view::view(s);
    let fields = view::diff(&want, &have.view, &s.env);
    let same_hash = have.label(labels::SPEC_HASH) == Some(s.hash.as_str());
    if !same_hash {
        if is_held(observed, project, &s.name, &s.hash) && !options.retry_failed {
            change(SwarmAction::Held, vec![Reason::SpecChanged], fields);
            return;
        }
        let reasons = reasons_for(s, &fields, false);
        change(SwarmAction::Update, reasons, fields);
        return;
    }
    if !fields.is_empty() {
        let reasons = reasons_for(s, &fields, true);
        change(SwarmAction::Update, reasons, fields);
        return;
    }
    if s.kind == Kind::Job {
        let tasks: Vec<&ObservedTask> = have.current_tasks(&s.hash).collect();
        let done = tasks.iter().any(|t| t.state == "complete");
        let failed = tasks
            .iter()
            .find(|t| matches!(t.state.as_str(), "failed" | "rejected"));
        let running = tasks.iter().any(|t| {
            t.desired_state == "running"
                || t.desired_state == "complete" && t.state != "complete" && t.state != "failed"
        });
        if !done && !running {
            if let Some(t) = failed {
                change(
                    SwarmAction::Run,
                    vec![Reason::JobFailed {
                        exit_code: t.exit_code.unwrap_or(-1),
                    }],
                    Vec::new(),
                );
            }
        }
    }
}

/// Why a service's spec changes, from its changed fields.
fn reasons_for(s: &SwarmService, fields: &[FieldChange], by_hand: bool) -> Vec<Reason> {
    let mut reasons = Vec::new();
    let source = |prefix: &str, path: &str| {
        let target = &path[prefix.len()..];
        s.files
            .iter()
            .find(|f| f.target == target)
            .map_or(target.to_string(), |f| f.source.clone())
    };
    for f in fields {
        let reason = if by_hand {
            match f.path.strip_prefix("networks.") {
                Some(network) if f.to == "(unset)" => Reason::NetworkNotDeclared {
                    network: network.to_string(),
                    policy_violation: false,
                },
                _ => Reason::ManualChange,
            }
        } else if f.path.starts_with("configs.") {
            Reason::ConfigFileChanged {
                name: source("configs.", &f.path),
            }
        } else if f.path.starts_with("secrets.") {
            Reason::SecretChanged {
                set: source("secrets.", &f.path),
            }
        } else {
            Reason::SpecChanged
        };
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    if reasons.is_empty() {
        // Same declared fields, another hash: the image behind the tag, or an older scheme.
        reasons.push(if by_hand {
            Reason::ManualChange
        } else {
            Reason::HashChanged
        });
    }
    reasons
}

/// A service on an isolated overlay that the policy does not list is a
/// violation: lucidctl's own are corrected (their update drops the network),
/// others are reported and left alone.
fn isolation(
    state: &DesiredState,
    desired: &SwarmDesired,
    observed: &ObservedSwarm,
    project: &str,
    out: &mut SwarmPlan,
) {
    for r in state.of_kind(Kind::IsolationPolicy) {
        let Spec::IsolationPolicy(p) = &r.spec else {
            continue;
        };
        let Some(net) = desired.networks.iter().find(|n| n.resource == p.network) else {
            continue;
        };
        let allowed = |name: &str| {
            desired.services.iter().any(|s| {
                s.name == name
                    && (p.members.contains(&s.resource) || p.bridges.contains(&s.resource))
            })
        };
        for o in &observed.services {
            if !o.networks.contains(&net.name) || allowed(&o.name) {
                continue;
            }
            out.violations.push(format!(
                "service {} is attached to the isolated network {} without being a member or bridge of IsolationPolicy/{}{}",
                o.name,
                net.name,
                r.name(),
                if owned(&o.labels, project) {
                    "; its spec is corrected"
                } else {
                    "; it is not lucidctl's, so it is left alone: remove it from the network by hand"
                }
            ));
            if let Some(c) = out.changes.iter_mut().find(|c| c.name == o.name) {
                for reason in c.reasons.iter_mut() {
                    if let Reason::NetworkNotDeclared {
                        network,
                        policy_violation,
                    } = reason
                    {
                        if *network == net.name {
                            *policy_violation = true;
                        }
                    }
                }
            }
        }
    }
}

/// Everything of the files' on the swarm, for `delete --target swarm`:
/// services first, then configs, secrets and networks. Volumes stay.
pub fn plan_delete(desired: &SwarmDesired, observed: &ObservedSwarm, project: &str) -> SwarmPlan {
    let mut out = SwarmPlan::default();
    let mut remove = |kind: &str, name: &str| {
        out.changes.push(SwarmChange {
            kind: kind.into(),
            name: name.into(),
            action: SwarmAction::Remove,
            reasons: vec![Reason::NotDesired],
            fields: Vec::new(),
        })
    };
    for s in &desired.services {
        if let Some(o) = observed.service(&s.name) {
            if owned(&o.labels, project) {
                remove(s.kind.as_str(), &s.name);
            }
        }
    }
    for kind in [FileKind::Config, FileKind::Secret] {
        for o in observed.data(kind) {
            if owned(&o.labels, project) {
                remove(kind.as_str(), &o.name);
            }
        }
    }
    for n in desired.networks.iter().filter(|n| !n.external) {
        if let Some(o) = observed.network(&n.name) {
            if owned(&o.labels, project) {
                remove("Network", &n.name);
            }
        }
    }
    out
}
