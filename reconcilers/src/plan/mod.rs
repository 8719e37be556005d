//! `plan(desired, observed)`: the ordered changes that make the engine match the
//! files, each with typed reasons. Pure: no I/O, so it is tested without Docker.

mod containers;
mod drift;
mod infra;
mod intruders;
pub mod ops;
mod order;
mod recover;

pub use desired_state::{active, selected};
pub use drift::outside_changes;
pub use infra::plan_delete;
pub use intruders::Intruder;
pub use ops::{Op, OpId, Operation, Stage};
pub use order::dependency_waves;

use crate::fields::FieldChange;
use crate::observed::Observed;
use crate::render::{ContainerSpec, Inputs, NetworkPlanSpec, RenderError};
use desired_state::model::Kind;
use desired_state::DesiredState;
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Build,
    Pull,
    Create,
    Recreate,
    Start,
    Connect,
    Disconnect,
    Remove,
    /// Put back a container an interrupted recreate had parked.
    Restore,
    /// Stop and start the same container.
    Restart,
}

impl Action {
    pub fn marker(self) -> &'static str {
        match self {
            Action::Create | Action::Build | Action::Pull => "+",
            Action::Recreate => "±",
            Action::Start
            | Action::Connect
            | Action::Disconnect
            | Action::Restore
            | Action::Restart => "~",
            Action::Remove => "-",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Build => "build",
            Action::Pull => "pull",
            Action::Create => "create",
            Action::Recreate => "recreate",
            Action::Start => "start",
            Action::Connect => "connect",
            Action::Disconnect => "disconnect",
            Action::Remove => "remove",
            Action::Restore => "restore",
            Action::Restart => "restart",
        }
    }
}

/// Why a change is planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Reason {
    /// Nothing of that name exists yet.
    NotFound,
    /// The declared spec changed since the container was created.
    SpecChanged,
    /// The image ID behind the tag changed (rebuilt or re-pulled).
    ImageChanged,
    /// The image will be built anew, so the container will change.
    ImageRebuilt,
    ConfigFileChanged {
        name: String,
    },
    SecretChanged {
        set: String,
    },
    /// The hash label differs, but no single input explains it (older scheme, hand-made labels).
    HashChanged,
    /// The container's declared fields differ from its hash: changed by hand.
    ManualChange,
    MountMissing {
        target: String,
    },
    NetworkMissing {
        network: String,
    },
    /// Attached to a network the spec does not list.
    NetworkNotDeclared {
        network: String,
        policy_violation: bool,
    },
    Stopped,
    JobFailed {
        exit_code: i64,
    },
    /// Managed, but no longer in the files (prune).
    NotDesired,
    ImageMissing,
    /// The registry serves another digest behind the tag than the engine has.
    ImageUpdateAvailable {
        reference: String,
        /// What the engine has, when it knows (an image built or loaded
        /// locally has no registry digest).
        from: Option<String>,
        to: String,
    },
    BuildInputsChanged,
    NetworkConfigChanged,
    /// A recreate was interrupted (a killed apply, a lost engine) with the
    /// old container parked as `<name>.prev`.
    InterruptedRecreate,
    /// Unhealthy for longer than `healthcheck.restartAfter`.
    Unhealthy {
        seconds: u64,
    },
    /// A dependency declared with `restart: true` was recreated.
    DependencyRecreated {
        name: String,
    },
    /// Every start fails: the runtime still holds a task of this container
    /// (`task ...: already exists`, after a daemon restart).
    StaleRuntimeTask,
    /// Stopped, and joined to a network since removed and made again under
    /// its name: Docker cannot start it (`network <old id> not found`).
    NetworkReplaced {
        network: String,
    },
}

impl Reason {
    /// A reason that remakes a container which cannot start again, on the
    /// same spec and volumes (no `beforeRecreate` hook runs for it alone).
    pub fn only_remakes_a_dead_container(&self) -> bool {
        matches!(
            self,
            Reason::StaleRuntimeTask | Reason::NetworkReplaced { .. }
        )
    }
}

/// `sha256:0123456789ab`: enough to tell digests apart in a line.
pub fn short_digest(d: &str) -> &str {
    let end = d.find(':').map_or(12, |i| i + 13).min(d.len());
    &d[..end]
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotFound => f.write_str("does not exist"),
            Reason::SpecChanged => f.write_str("spec changed"),
            Reason::ImageChanged => f.write_str("image ID behind the tag changed"),
            Reason::ImageRebuilt => f.write_str("image will be rebuilt"),
            Reason::ConfigFileChanged { name } => write!(f, "config file {name} changed"),
            Reason::SecretChanged { set } => write!(f, "secret set {set} changed"),
            Reason::HashChanged => f.write_str("spec hash changed"),
            Reason::ManualChange => f.write_str("changed by hand"),
            Reason::MountMissing { target } => write!(f, "mount {target} missing"),
            Reason::NetworkMissing { network } => write!(f, "not attached to {network}"),
            Reason::NetworkNotDeclared {
                network,
                policy_violation: true,
            } => {
                write!(f, "attached to {network}, violating its isolation policy")
            }
            Reason::NetworkNotDeclared { network, .. } => {
                write!(f, "attached to undeclared network {network}")
            }
            Reason::Stopped => f.write_str("stopped"),
            Reason::NetworkReplaced { network } => {
                write!(
                    f,
                    "joined to a network {network} that was removed and made again"
                )
            }
            Reason::StaleRuntimeTask => {
                f.write_str("cannot be started again: the engine still holds its old task")
            }
            Reason::JobFailed { exit_code } => {
                write!(f, "last run failed with exit code {exit_code}")
            }
            Reason::NotDesired => f.write_str("no longer declared"),
            Reason::ImageMissing => f.write_str("image not present on the engine"),
            Reason::ImageUpdateAvailable {
                reference,
                from,
                to,
            } => write!(
                f,
                "image update available: {reference} {} -> {}",
                from.as_deref().map_or("(no registry digest)", short_digest),
                short_digest(to)
            ),
            Reason::BuildInputsChanged => f.write_str("build context changed"),
            Reason::NetworkConfigChanged => f.write_str("network settings changed"),
            Reason::InterruptedRecreate => f.write_str("left by an interrupted recreate"),
            Reason::Unhealthy { seconds } => write!(f, "unhealthy for {seconds}s"),
            Reason::DependencyRecreated { name } => {
                write!(f, "dependency {name} is recreated (restart: true)")
            }
        }
    }
}

/// What a change acts on, carrying what the executor needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Container(Box<ContainerSpec>),
    Network(NetworkPlanSpec),
    Volume(crate::render::VolumePlanSpec),
    Image {
        reference: String,
    },
    /// An existing object to remove or act on by name.
    Existing {
        name: String,
    },
    /// A container an interrupted recreate left under a temporary name
    /// (`<base>.prev` or `<base>.next`).
    Parked {
        parked: String,
        base: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: Kind,
    /// The resource name (metadata.name).
    pub name: String,
    pub action: Action,
    pub reasons: Vec<Reason>,
    pub fields: Vec<FieldChange>,
    /// For connect and disconnect.
    pub network: Option<String>,
    pub target: Target,
    /// Jobs run to completion first (a Service's `beforeRecreate`).
    pub before: Vec<ContainerSpec>,
}

/// Something the plan cannot resolve on its own; apply refuses while any remain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub kind: Kind,
    pub name: String,
    pub message: String,
}

/// Suffix of the old container parked during a stop-first recreate.
pub const PREVIOUS_SUFFIX: &str = ".prev";
/// Suffix of the new container started beside the old one in a start-first recreate.
pub const NEXT_SUFFIX: &str = ".next";
/// Kind label of the volumes that record a failed rollout.
pub const FAILED_ROLLOUT_KIND: &str = "FailedRollout";

/// A change the plan will not make: this exact spec was rolled out before,
/// failed and was rolled back. Retried when the spec changes, or when asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    pub kind: Kind,
    pub name: String,
    /// The spec hash whose rollout failed.
    pub hash: String,
    pub reason: String,
    /// Seconds since the Unix epoch.
    pub failed_at: u64,
}

impl Held {
    /// The first 12 characters of the held spec hash, as messages show it.
    pub fn short_hash(&self) -> &str {
        self.hash.get(..12).unwrap_or(&self.hash)
    }

    /// `rollout of 1a2b3c4d5e6f failed: unhealthy; running the previous container`.
    pub fn summary(&self) -> String {
        format!(
            "rollout of {} failed: {}; running the previous container",
            self.short_hash(),
            self.reason
        )
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub conflicts: Vec<Conflict>,
    /// Resources that could not be rendered (missing secrets or config files).
    pub errors: Vec<RenderError>,
    /// What the executor runs: every change expanded into engine calls and waits.
    pub operations: Vec<Operation>,
    /// Recreates left out because that spec already failed.
    pub held: Vec<Held>,
    /// Unmanaged containers on a guarded network: reported, never touched.
    pub intruders: Vec<Intruder>,
    /// When to look again without a trigger: an unhealthy container whose
    /// `restartAfter` has not run out yet.
    pub requeue_after: Option<std::time::Duration>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Conflicts and render errors stop an apply before anything changes.
    pub fn is_blocked(&self) -> bool {
        !self.conflicts.is_empty() || !self.errors.is_empty()
    }

    /// The operations carrying out change `index`.
    pub fn operations_of(&self, index: usize) -> impl Iterator<Item = &Operation> {
        self.operations.iter().filter(move |o| o.change == index)
    }

    /// The earliest stage that has work; later stages are planned again after it.
    pub fn first_stage(&self) -> Option<Stage> {
        self.operations.iter().map(|o| o.stage).min()
    }
}

#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// `-l key=value`: matching resources plus everything they depend on.
    pub selector: Vec<(String, String)>,
    /// Remove managed objects that are no longer declared.
    pub prune: bool,
    /// With prune, also remove managed volumes (their data is lost).
    pub prune_volumes: bool,
    /// Workloads whose changes are held back (crash-looping, backing off).
    pub hold: std::collections::BTreeSet<String>,
    /// Roll out specs whose rollout failed before (`apply --retry-failed`).
    pub retry_failed: bool,
}

pub fn plan(
    desired: &DesiredState,
    observed: &Observed,
    inputs: &Inputs,
    options: &PlanOptions,
) -> Plan {
    let chosen = active(desired, &options.selector);
    let mut out = Plan::default();
    // Plan against the engine as it will be once interrupted work is finished.
    let projected = recover::plan_recovery(observed, inputs, &mut out);
    let observed = &projected;
    infra::plan_images(desired, &chosen, observed, inputs, &mut out);
    infra::plan_networks(desired, &chosen, observed, inputs, &mut out);
    infra::plan_volumes(desired, &chosen, observed, inputs, &mut out);
    containers::plan_containers(desired, &chosen, observed, inputs, &mut out);
    containers::plan_dependents_restart(desired, &chosen, observed, inputs, &mut out);
    // Never prune against an empty desired set: everything would go.
    if options.prune && !desired.resources.is_empty() {
        infra::plan_prune(
            desired,
            observed,
            inputs,
            &options.selector,
            options.prune_volumes,
            &mut out,
        );
    }
    out.changes.retain(|c| {
        !(matches!(c.kind, Kind::Service | Kind::Job)
            && options.hold.contains(&c.name)
            && ops::stage_of(c) != Stage::Recover)
    });
    if !options.retry_failed {
        hold_failed_rollouts(desired, observed, inputs, &mut out);
    }
    out.intruders = intruders::find_intruders(desired, observed, inputs);
    out.operations = ops::expand(&out.changes, desired, &|n| inputs.object_name(n));
    out
}

/// Recreates towards a spec hash whose rollout failed become `held`.
fn hold_failed_rollouts(
    desired: &DesiredState,
    observed: &Observed,
    inputs: &Inputs,
    out: &mut Plan,
) {
    let failed: Vec<&crate::observed::ObservedVolume> = observed
        .volumes
        .iter()
        .filter(|v| {
            crate::observed::is_managed(&v.labels)
                && v.labels.get(crate::labels::KIND).map(String::as_str)
                    == Some(FAILED_ROLLOUT_KIND)
                && v.labels.get(crate::labels::PROJECT) == Some(&inputs.project)
        })
        .collect();
    if failed.is_empty() {
        return;
    }
    let isolated = crate::render::isolated_networks(desired, inputs);
    let mut kept = Vec::new();
    for c in std::mem::take(&mut out.changes) {
        let record = match (&c.target, c.action) {
            // A container already made from this spec proved it: recreating it
            // to repair a hand change is no rollout, and one failure of that
            // (a slow start under load) must not hold the repair forever (issue 22).
            (Target::Container(spec), Action::Recreate)
                if observed
                    .container(&spec.name)
                    .and_then(|h| h.label(crate::labels::SPEC_HASH))
                    != Some(spec.hash.as_str()) =>
            {
                failed.iter().find(|v| {
                    v.labels.get(crate::labels::NAME) == Some(&c.name)
                        && v.labels.get(crate::labels::SPEC_HASH) == Some(&spec.hash)
                })
            }
            _ => None,
        };
        match record {
            Some(v) => {
                if let Target::Container(spec) = &c.target {
                    kept.extend(containers::keep_previous(spec, observed, &isolated));
                }
                out.held.push(Held {
                    kind: c.kind,
                    name: c.name.clone(),
                    hash: v
                        .labels
                        .get(crate::labels::SPEC_HASH)
                        .cloned()
                        .unwrap_or_default(),
                    reason: v
                        .labels
                        .get(crate::labels::FAILURE_REASON)
                        .cloned()
                        .unwrap_or_default(),
                    failed_at: v
                        .labels
                        .get(crate::labels::FAILED_AT)
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(0),
                });
            }
            None => kept.push(c),
        }
    }
    out.changes = kept;
}

#[cfg(test)]
mod tests;
