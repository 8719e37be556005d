//! How much of the engine to read before planning.
//!
//! `Depth::Full` inspects every container in scope: the planner can then
//! compare each declared field with what the container holds (a change made
//! by hand shows as `manualChange` with field lines).
//!
//! `Depth::ListFirst` reads the container list only (one call, filtered by
//! the project label at the engine) and inspects just the containers the list
//! cannot prove converged. The proof, per desired workload: the container is
//! ours and of this project, carries the spec hash the files render to now,
//! runs (a Job: exited 0), is healthy when a health check is declared (or has
//! no failing health at all), is attached to exactly the declared networks
//! and has every declared mount. Anything else (a stopped, starting,
//! unhealthy or foreign container, a parked `.prev`/`.next`, a prune
//! candidate) is inspected as before. What the list cannot show is a field
//! changed in place without touching the labels (`docker update`, or a
//! container re-created by hand with copied labels): the run loop's periodic
//! resync observes in full for that.

use crate::engine::{EngineApi, EngineError};
use crate::labels;
use crate::observed::{Health, Observed, ObservedContainer, RunState};
use crate::render::{render_container, ContainerSpec, Inputs};
use desired_state::model::Kind;
use desired_state::DesiredState;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use std::collections::BTreeSet;

/// Inspects in flight at once, as the engine's own full observe does.
const PARALLEL_INSPECTS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Depth {
    /// Inspect every container in scope.
    #[default]
    Full,
    /// Inspect only what the container list does not prove converged.
    ListFirst,
}

/// The engine as the plan needs it, read to `depth`.
pub async fn observe(
    engine: &dyn EngineApi,
    desired: &DesiredState,
    inputs: &Inputs,
    depth: Depth,
) -> Result<Observed, EngineError> {
    let scope = crate::render::observe_scope(desired, inputs);
    if depth == Depth::Full {
        return engine.observe(&scope).await;
    }
    let mut observed = engine.observe_listed(&scope).await?;
    let names = unproven(desired, inputs, &observed);
    let inspected: Vec<(String, Option<ObservedContainer>)> = stream::iter(names)
        .map(|name| async move {
            let c = engine.inspect_container(&name).await?;
            Ok::<_, EngineError>((name, c))
        })
        .buffer_unordered(PARALLEL_INSPECTS)
        .try_collect()
        .await?;
    for (name, found) in inspected {
        match found {
            Some(full) => {
                if let Some(slot) = observed.containers.iter_mut().find(|c| c.name == name) {
                    *slot = full;
                }
            }
            // Removed between list and inspect: it simply is not there.
            None => observed.containers.retain(|c| c.name != name),
        }
    }
    Ok(observed)
}

/// Containers read from the list only whose convergence the list does not prove.
pub fn unproven(desired: &DesiredState, inputs: &Inputs, observed: &Observed) -> Vec<String> {
    let mut proven = BTreeSet::new();
    for r in desired.workloads() {
        let Some(Ok(spec)) = render_container(r, inputs, observed) else {
            continue;
        };
        if observed
            .container(&spec.name)
            .is_some_and(|c| proves_converged(&spec, c))
        {
            proven.insert(spec.name);
        }
    }
    observed
        .containers
        .iter()
        .filter(|c| c.summary_only && !proven.contains(&c.name))
        .map(|c| c.name.clone())
        .collect()
}

/// Whether the container, as the list shows it, leaves nothing for the plan
/// to do for `spec` (see the module docs for what that takes).
pub fn proves_converged(spec: &ContainerSpec, listed: &ObservedContainer) -> bool {
    let ours = listed.is_managed()
        && listed.label(labels::PROJECT) == spec.labels.get(labels::PROJECT).map(String::as_str);
    let same_spec = listed.label(labels::SPEC_HASH) == Some(spec.hash.as_str());
    let settled = match (listed.state, listed.health) {
        (Some(RunState::Running), None) => spec.healthcheck.is_none(),
        (Some(RunState::Running), Some(Health::Healthy)) => true,
        (Some(RunState::Exited), None) => spec.kind == Kind::Job && listed.exit_code == Some(0),
        _ => false,
    };
    // Which container's network stack a `networkMode: service:` container
    // joined shows only in an inspect: its peer may have been recreated.
    let joins_a_peer = spec
        .runtime
        .network_mode
        .as_deref()
        .is_some_and(|m| m.starts_with("container:"));
    ours && same_spec
        && settled
        && !joins_a_peer
        && networks_as_declared(spec, listed)
        && mounts_present(spec, listed)
}

/// No connect or disconnect to plan: every declared network attached, and
/// nothing else but Docker's default bridge when none is declared.
fn networks_as_declared(spec: &ContainerSpec, listed: &ObservedContainer) -> bool {
    if spec.runtime.network_mode.is_some() {
        return true;
    }
    let declared: BTreeSet<&str> = spec.networks.iter().map(|n| n.network.as_str()).collect();
    let attached: BTreeSet<&str> = listed.config.networks.keys().map(String::as_str).collect();
    let extra_ok = |n: &&str| declared.is_empty() && *n == "bridge";
    declared.is_subset(&attached) && attached.difference(&declared).all(extra_ok)
}

fn mounts_present(spec: &ContainerSpec, listed: &ObservedContainer) -> bool {
    spec.mounts
        .iter()
        .all(|m| listed.config.mounts.contains_key(&m.target))
}

#[cfg(test)]
mod tests;
