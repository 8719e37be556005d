//! Interrupted work, read from the engine. A stop-first recreate parks the
//! old container as `<name>.prev` until the new one is ready; a start-first
//! one starts the new container as `<name>.next` and renames it only after
//! the old one is gone (and only once it was ready). Either way: if `<name>`
//! exists, the parked one is dropped; if not, it is put back under its name.
//! Planned like any other change, so `diff` shows it and a crash between any
//! two operations converges on the next pass.

use super::{Action, Change, Plan, Reason, Target, NEXT_SUFFIX, PREVIOUS_SUFFIX};
use crate::labels;
use crate::observed::{Observed, ObservedContainer};
use crate::render::Inputs;
use desired_state::model::Kind;

/// Adds the recovery changes and returns the engine as it will be after them.
pub(super) fn plan_recovery(observed: &Observed, inputs: &Inputs, out: &mut Plan) -> Observed {
    let mut projected = observed.clone();
    for c in &observed.containers {
        let Some(base) = c
            .name
            .strip_suffix(PREVIOUS_SUFFIX)
            .or_else(|| c.name.strip_suffix(NEXT_SUFFIX))
        else {
            continue;
        };
        if !c.is_managed() || c.label(labels::PROJECT) != Some(inputs.project.as_str()) {
            continue;
        }
        let resource = c.label(labels::NAME).unwrap_or(base).to_string();
        let restore = observed.container(base).is_none();
        out.changes.push(Change {
            kind: kind_of(c),
            name: resource,
            action: if restore {
                Action::Restore
            } else {
                Action::Remove
            },
            reasons: vec![Reason::InterruptedRecreate],
            fields: Vec::new(),
            network: None,
            target: Target::Parked {
                parked: c.name.clone(),
                base: base.to_string(),
            },
            before: Vec::new(),
        });
        if restore {
            if let Some(p) = projected.containers.iter_mut().find(|p| p.name == c.name) {
                p.name = base.to_string();
            }
        } else {
            projected.containers.retain(|p| p.name != c.name);
        }
    }
    projected
}

fn kind_of(c: &ObservedContainer) -> Kind {
    c.label(labels::KIND)
        .and_then(Kind::parse)
        .unwrap_or(Kind::Service)
}
