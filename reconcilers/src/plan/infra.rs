//! Images, networks and volumes, and pruning what is no longer declared.

use super::{Action, Change, Conflict, Plan, Reason, Target};
use crate::labels;
use crate::observed::{is_managed, Observed};
use crate::render::{render_network, Inputs};
use desired_state::model::{Kind, Spec};
use desired_state::DesiredState;
use std::collections::{BTreeMap, BTreeSet};

fn simple(kind: Kind, name: &str, action: Action, reason: Reason, target: Target) -> Change {
    Change {
        kind,
        name: name.to_string(),
        action,
        reasons: vec![reason],
        fields: Vec::new(),
        network: None,
        target,
        before: Vec::new(),
    }
}

pub(super) fn plan_images(
    desired: &DesiredState,
    chosen: &BTreeSet<usize>,
    observed: &Observed,
    inputs: &Inputs,
    out: &mut Plan,
) {
    let mut declared_refs = BTreeSet::new();
    for i in chosen {
        let r = &desired.resources[*i];
        let Spec::Image(img) = &r.spec else { continue };
        let reference = img.reference.with_default_tag();
        declared_refs.insert(reference.clone());
        let target = Target::Image {
            reference: reference.clone(),
        };
        let want_hash = inputs.build_hashes.get(&reference);
        match (observed.images.get(&reference), &img.build) {
            (None, Some(_)) => out.changes.push(simple(
                Kind::Image,
                r.name(),
                Action::Build,
                Reason::ImageMissing,
                target,
            )),
            (None, None) => out.changes.push(simple(
                Kind::Image,
                r.name(),
                Action::Pull,
                Reason::ImageMissing,
                target,
            )),
            (Some(have), Some(_))
                if want_hash.is_some() && have.labels.get(labels::BUILD_HASH) != want_hash =>
            {
                out.changes.push(simple(
                    Kind::Image,
                    r.name(),
                    Action::Build,
                    Reason::BuildInputsChanged,
                    target,
                ));
            }
            _ => {}
        }
    }
    let position = |c: &Change| match &c.target {
        Target::Image { reference } if c.action == Action::Build => {
            inputs.build_order.iter().position(|r| r == reference)
        }
        _ => None,
    };
    out.changes
        .sort_by_key(|c| position(c).unwrap_or(usize::MAX));
    let mut pulls = BTreeSet::new();
    for i in chosen {
        let Some(w) = desired.resources[*i].spec.workload() else {
            continue;
        };
        let reference = inputs.image_of(w);
        if declared_refs.contains(&reference) {
            continue;
        }
        let reason = match observed.images.get(&reference) {
            None => Reason::ImageMissing,
            Some(have) => match update_available(&reference, have, inputs) {
                Some(reason) => reason,
                None => continue,
            },
        };
        if pulls.insert(reference.clone()) {
            out.changes.push(simple(
                Kind::Image,
                &reference,
                Action::Pull,
                reason,
                Target::Image {
                    reference: reference.clone(),
                },
            ));
        }
    }
}

/// The registry serves a digest for `reference` that the engine's image did
/// not come from: a new image was pushed under the tag.
fn update_available(
    reference: &str,
    have: &crate::observed::ObservedImage,
    inputs: &Inputs,
) -> Option<Reason> {
    let remote = inputs.registry_digests.get(reference)?;
    let (repository, _) = desired_state::model::split_tag(reference);
    let local: Vec<&str> = have
        .repo_digests
        .iter()
        .filter_map(|d| d.split_once('@'))
        .filter(|(repo, _)| *repo == repository)
        .map(|(_, digest)| digest)
        .collect();
    if local.contains(&remote.as_str()) {
        return None;
    }
    Some(Reason::ImageUpdateAvailable {
        reference: reference.to_string(),
        from: local.first().map(|d| d.to_string()),
        to: remote.clone(),
    })
}

/// lucidctl never creates an external object: a missing one blocks the apply.
fn external_must_exist(r: &desired_state::Resource, name: &str, exists: bool, out: &mut Plan) {
    if !exists {
        let kind = r.kind();
        let create = kind.as_str().to_ascii_lowercase();
        out.conflicts.push(Conflict {
            kind,
            name: r.name().to_string(),
            message: format!("external {create} {name} does not exist; lucidctl never creates it: create it (`docker {create} create {name}`) or drop `external`"),
        });
    }
}

pub(super) fn plan_networks(
    desired: &DesiredState,
    chosen: &BTreeSet<usize>,
    observed: &Observed,
    inputs: &Inputs,
    out: &mut Plan,
) {
    for i in chosen {
        let r = &desired.resources[*i];
        let Spec::Network(spec) = &r.spec else {
            continue;
        };
        if spec.external {
            external_must_exist(
                r,
                &inputs.network_name(r.name()),
                observed.network(&inputs.network_name(r.name())).is_some(),
                out,
            );
            continue;
        }
        let want = render_network(r, spec, inputs);
        match observed.network(&want.name) {
            None => out.changes.push(simple(
                Kind::Network,
                r.name(),
                Action::Create,
                Reason::NotFound,
                Target::Network(want),
            )),
            Some(have) if !is_managed(&have.labels) => out.conflicts.push(Conflict {
                kind: Kind::Network,
                name: r.name().to_string(),
                message: format!(
                    "network {} exists but is not managed by lucidctl; remove or rename it by hand",
                    want.name
                ),
            }),
            Some(have) if have.labels.get(labels::SPEC_HASH) != Some(&want.hash) => {
                out.changes.push(simple(
                    Kind::Network,
                    r.name(),
                    Action::Recreate,
                    Reason::NetworkConfigChanged,
                    Target::Network(want),
                ));
            }
            Some(_) => {}
        }
    }
}

pub(super) fn plan_volumes(
    desired: &DesiredState,
    chosen: &BTreeSet<usize>,
    observed: &Observed,
    inputs: &Inputs,
    out: &mut Plan,
) {
    for i in chosen {
        let r = &desired.resources[*i];
        let Spec::Volume(spec) = &r.spec else {
            continue;
        };
        if spec.external {
            let name = inputs.volume_name(r.name());
            external_must_exist(r, &name, observed.volume(&name).is_some(), out);
            continue;
        }
        let name = inputs.object_name(r.name());
        let want = crate::render::render_volume(r, spec, inputs);
        match observed.volume(&name) {
            None => out.changes.push(simple(
                Kind::Volume,
                r.name(),
                Action::Create,
                Reason::NotFound,
                Target::Volume(want),
            )),
            Some(have) if !is_managed(&have.labels) => out.conflicts.push(Conflict {
                kind: Kind::Volume,
                name: r.name().to_string(),
                message: format!("volume {name} exists but is not managed by lucidctl; it is never adopted or removed"),
            }),
            Some(have) if spec.driver.as_deref().is_some_and(|d| d != have.driver) => out.conflicts.push(Conflict {
                kind: Kind::Volume,
                name: r.name().to_string(),
                message: format!(
                    "volume {name} uses driver {}, not {}; volumes are never recreated (their data would be lost): migrate it by hand",
                    have.driver,
                    spec.driver.as_deref().unwrap_or("local")
                ),
            }),
            Some(have) if !spec.driver_opts.is_empty() && spec.driver_opts != have.driver_opts => out.conflicts.push(Conflict {
                kind: Kind::Volume,
                name: r.name().to_string(),
                message: format!(
                    "volume {name} has driver options {:?}, not the declared {:?}; volumes are never recreated (their data would be lost): migrate it by hand, or declare what it has",
                    have.driver_opts, spec.driver_opts
                ),
            }),
            Some(_) => {}
        }
    }
}

/// Managed objects of this project that the files no longer declare.
pub(super) fn plan_prune(
    desired: &DesiredState,
    observed: &Observed,
    inputs: &Inputs,
    selector: &[(String, String)],
    prune_volumes: bool,
    out: &mut Plan,
) {
    let ours = |l: &BTreeMap<String, String>| {
        is_managed(l)
            && l.get(labels::PROJECT) == Some(&inputs.project)
            && selector
                .iter()
                .all(|(k, v)| l.get(&format!("{}{k}", labels::USER_PREFIX)) == Some(v))
    };
    let declared = |kind: Kind, l: &BTreeMap<String, String>| {
        let name = l.get(labels::NAME).map(String::as_str).unwrap_or("");
        match kind {
            Kind::Service | Kind::Job => desired
                .get(Kind::Service, name)
                .or_else(|| desired.get(Kind::Job, name))
                .is_some(),
            k => desired.get(k, name).is_some(),
        }
    };
    // Objects of kinds lucidctl does not declare (its lock) are never pruned.
    let kind_of = |l: &BTreeMap<String, String>| l.get(labels::KIND).and_then(|k| Kind::parse(k));
    let resource_name = |l: &BTreeMap<String, String>, fallback: &str| {
        l.get(labels::NAME)
            .cloned()
            .unwrap_or_else(|| fallback.to_string())
    };
    let mut removals = Vec::new();
    for c in &observed.containers {
        let Some(kind) = kind_of(&c.labels) else {
            continue;
        };
        if ours(&c.labels) && !declared(kind, &c.labels) {
            removals.push(simple(
                kind,
                &resource_name(&c.labels, &c.name),
                Action::Remove,
                Reason::NotDesired,
                Target::Existing {
                    name: c.name.clone(),
                },
            ));
        }
    }
    for n in &observed.networks {
        if ours(&n.labels)
            && kind_of(&n.labels) == Some(Kind::Network)
            && !declared(Kind::Network, &n.labels)
        {
            removals.push(simple(
                Kind::Network,
                &resource_name(&n.labels, &n.name),
                Action::Remove,
                Reason::NotDesired,
                Target::Existing {
                    name: n.name.clone(),
                },
            ));
        }
    }
    if prune_volumes {
        for v in &observed.volumes {
            if ours(&v.labels)
                && kind_of(&v.labels) == Some(Kind::Volume)
                && !declared(Kind::Volume, &v.labels)
            {
                removals.push(simple(
                    Kind::Volume,
                    &resource_name(&v.labels, &v.name),
                    Action::Remove,
                    Reason::NotDesired,
                    Target::Existing {
                        name: v.name.clone(),
                    },
                ));
            }
        }
    }
    out.changes.extend(removals);
}

/// `lucidctl delete`: every managed object of the project that the files
/// declare, containers first. Volumes only when asked.
pub fn plan_delete(
    desired: &DesiredState,
    observed: &Observed,
    inputs: &Inputs,
    with_volumes: bool,
) -> Plan {
    let mut out = Plan::default();
    let ours = |l: &BTreeMap<String, String>| {
        is_managed(l) && l.get(labels::PROJECT) == Some(&inputs.project)
    };
    for r in desired.workloads() {
        let name = inputs.object_name(r.name());
        if let Some(c) = observed.container(&name).filter(|c| ours(&c.labels)) {
            out.changes.push(simple(
                r.kind(),
                r.name(),
                Action::Remove,
                Reason::NotDesired,
                Target::Existing {
                    name: c.name.clone(),
                },
            ));
        }
    }
    for r in desired.of_kind(Kind::Network) {
        let name = inputs.object_name(r.name());
        if observed.network(&name).is_some_and(|n| ours(&n.labels)) {
            out.changes.push(simple(
                Kind::Network,
                r.name(),
                Action::Remove,
                Reason::NotDesired,
                Target::Existing { name },
            ));
        }
    }
    if with_volumes {
        for r in desired.of_kind(Kind::Volume) {
            let name = inputs.object_name(r.name());
            if observed.volume(&name).is_some_and(|v| ours(&v.labels)) {
                out.changes.push(simple(
                    Kind::Volume,
                    r.name(),
                    Action::Remove,
                    Reason::NotDesired,
                    Target::Existing { name },
                ));
            }
        }
    }
    // Records of failed rollouts of the deleted workloads are bookkeeping, not data.
    for v in &observed.volumes {
        let record = ours(&v.labels)
            && v.labels.get(labels::KIND).map(String::as_str) == Some(super::FAILED_ROLLOUT_KIND)
            && v.labels
                .get(labels::NAME)
                .is_some_and(|n| desired.workloads().any(|r| r.name() == n));
        if record {
            out.changes.push(simple(
                Kind::Volume,
                &v.name,
                Action::Remove,
                Reason::NotDesired,
                Target::Existing {
                    name: v.name.clone(),
                },
            ));
        }
    }
    out.operations = super::ops::expand(&out.changes, desired, &|n| inputs.object_name(n));
    out
}
