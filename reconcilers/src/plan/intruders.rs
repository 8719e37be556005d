//! Containers this project does not manage, attached to a network an
//! IsolationPolicy guards. lucidctl never touches an object it does not own,
//! so these are not changes: they are reported (diff, apply, the run loop's
//! `policy-violation` notification and status) for a person to remove.

use crate::observed::Observed;
use crate::render::{isolated_networks, Inputs};
use desired_state::diagnostics::escape_controls;
use desired_state::DesiredState;
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Intruder {
    /// The engine name of the guarded network.
    pub network: String,
    /// The attached container's name.
    pub container: String,
}

impl Intruder {
    /// What to tell the operator, with the command that ends it.
    /// The names come from the engine: control characters are escaped.
    pub fn summary(&self) -> String {
        let (container, network) = (
            escape_controls(&self.container),
            escape_controls(&self.network),
        );
        format!(
            "container {container} is attached to isolated network {network} and is not managed by this project; lucidctl leaves it alone: remove it with `docker network disconnect {network} {container}`"
        )
    }
}

/// Every member of a guarded network that is not one of this project's
/// managed containers (those the plan disconnects itself when they do not
/// belong there). A network's members are only known when the observation
/// read them (`ObserveScope::member_networks`).
pub(super) fn find_intruders(
    desired: &DesiredState,
    observed: &Observed,
    inputs: &Inputs,
) -> Vec<Intruder> {
    let ours: BTreeSet<&str> = observed
        .containers
        .iter()
        .filter(|c| {
            c.is_managed() && c.label(crate::labels::PROJECT) == Some(inputs.project.as_str())
        })
        .map(|c| c.name.as_str())
        .collect();
    let guarded = isolated_networks(desired, inputs);
    let mut out: Vec<Intruder> = guarded
        .iter()
        .filter_map(|name| observed.network(name))
        .flat_map(|n| {
            n.containers
                .iter()
                .filter(|c| !ours.contains(c.as_str()))
                .map(|c| Intruder {
                    network: n.name.clone(),
                    container: c.clone(),
                })
        })
        .collect();
    out.sort();
    out
}
