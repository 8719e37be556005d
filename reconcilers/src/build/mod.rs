//! Image builds: only when the content hash of what goes into them changes.
//!
//! `prepare` walks each build context once (after `.dockerignore`) and hashes
//! it; the plan compares that hash with the label on the tagged image, so an
//! up-to-date image costs a walk and a list call, with no build round trip.
//! The tar sent to the engine comes from the same walk, so hash and context
//! never disagree.

pub mod context;
mod run;

pub use run::ImageBuilder;

use desired_state::model::{Kind, Spec};
use desired_state::DesiredState;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// One Image resource's build, ready to run.
#[derive(Debug, Clone)]
pub struct PreparedBuild {
    pub resource: String,
    pub reference: String,
    pub context_dir: PathBuf,
    pub dockerfile: String,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub platform: Option<String>,
    pub push: bool,
    pub walk: context::ContextWalk,
    /// Includes the hashes of Images this one is built `FROM`.
    pub hash: String,
    /// Refs of Image resources named in its `FROM` lines: built first.
    pub depends_on: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("Image/{resource}: {source}")]
pub struct PrepareBuildError {
    pub resource: String,
    #[source]
    pub source: context::ContextError,
}

/// Walks and hashes every build, in an order where bases come first.
pub fn prepare(state: &DesiredState) -> Result<Vec<PreparedBuild>, PrepareBuildError> {
    let mut builds = Vec::new();
    for r in state.of_kind(Kind::Image) {
        let Spec::Image(img) = &r.spec else { continue };
        let Some(b) = &img.build else { continue };
        let err = |source| PrepareBuildError {
            resource: r.name().to_string(),
            source,
        };
        let context_dir = r.origin.base_dir("/spec/build/context").join(&b.context);
        let walk = context::walk(&context_dir, b.dockerfile()).map_err(err)?;
        let platform = img.platform.as_ref().map(|p| p.to_string());
        let inputs = context::BuildInputs {
            context_dir: &context_dir,
            dockerfile: b.dockerfile(),
            args: &b.args,
            target: b.target.as_deref(),
            platform: platform.as_deref(),
        };
        let hash = match context::digest_cache::default_path(&context_dir) {
            Some(cache) => context::build_hash_cached(&inputs, &walk, &cache),
            None => context::build_hash(&inputs, &walk),
        }
        .map_err(err)?;
        let from = std::fs::read_to_string(context_dir.join(b.dockerfile()))
            .map(|t| desired_state::dockerfile::from_images(&t, &b.args))
            .unwrap_or_default();
        builds.push(PreparedBuild {
            resource: r.name().to_string(),
            reference: img.reference.with_default_tag(),
            context_dir,
            dockerfile: b.dockerfile().to_string(),
            args: b.args.clone(),
            target: b.target.clone(),
            platform,
            push: img.push,
            walk,
            hash,
            depends_on: from,
        });
    }
    let refs: BTreeSet<String> = builds.iter().map(|b| b.reference.clone()).collect();
    for b in &mut builds {
        b.depends_on
            .retain(|d| refs.contains(d) && *d != b.reference);
    }
    let mut ordered = order(builds);
    // A rebuilt base must rebuild what is built FROM it: fold base hashes in, in order.
    let mut finals: BTreeMap<String, String> = BTreeMap::new();
    for b in &mut ordered {
        let mut h = blake3::Hasher::new();
        h.update(b.hash.as_bytes());
        for d in &b.depends_on {
            h.update(finals.get(d).map(String::as_str).unwrap_or("").as_bytes());
        }
        b.hash = h.finalize().to_hex()[..32].to_string();
        finals.insert(b.reference.clone(), b.hash.clone());
    }
    Ok(ordered)
}

/// Bases before the images built from them (a FROM cycle ends last).
fn order(pending: Vec<PreparedBuild>) -> Vec<PreparedBuild> {
    let deps: std::collections::BTreeMap<String, Vec<String>> = pending
        .iter()
        .map(|b| (b.reference.clone(), b.depends_on.clone()))
        .collect();
    let mut by_ref: std::collections::BTreeMap<String, PreparedBuild> = pending
        .into_iter()
        .map(|b| (b.reference.clone(), b))
        .collect();
    desired_state::order::waves(&deps)
        .into_iter()
        .flatten()
        .filter_map(|r| by_ref.remove(&r))
        .collect()
}
