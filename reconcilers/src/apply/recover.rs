//! Finishing what a killed apply left: a recreate parks the old container as
//! `<name>.prev` until the new one is ready. If the new one exists, the
//! previous generation is dropped; if not, it is put back under its name.

use super::{ApplyContext, ApplyError};
use crate::labels;

pub const PREVIOUS_SUFFIX: &str = ".prev";

pub fn previous_name(name: &str) -> String {
    format!("{name}{PREVIOUS_SUFFIX}")
}

/// Returns whether it changed anything.
pub(super) async fn finish_interrupted(
    ctx: &ApplyContext<'_>,
    observed: &crate::observed::Observed,
) -> Result<bool, ApplyError> {
    let mut changed = false;
    for c in &observed.containers {
        let Some(base) = c.name.strip_suffix(PREVIOUS_SUFFIX) else {
            continue;
        };
        if !c.is_managed() || c.label(labels::PROJECT) != Some(ctx.inputs.project.as_str()) {
            continue;
        }
        // Progress names resources (metadata.name), as everywhere else; `base` carries the name prefix.
        let resource = c.label(labels::NAME).unwrap_or(base);
        if observed.container(base).is_some() {
            ctx.progress.step(
                kind_of(c),
                resource,
                "removing previous generation left by an interrupted apply",
            );
            ctx.engine.remove_container(&c.name).await?;
            changed = true;
        } else {
            ctx.progress.step(
                kind_of(c),
                resource,
                "restoring previous generation left by an interrupted apply",
            );
            ctx.engine.rename(&c.name, base).await?;
            changed = true;
        }
    }
    Ok(changed)
}

fn kind_of(c: &crate::observed::ObservedContainer) -> desired_state::model::Kind {
    c.label(labels::KIND)
        .and_then(desired_state::model::Kind::parse)
        .unwrap_or(desired_state::model::Kind::Service)
}
