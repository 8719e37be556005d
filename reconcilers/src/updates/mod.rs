//! Rolling tags: whether the registry has something newer behind a
//! reference a workload runs (pull policies always, watch and semver), asked
//! through the engine (`/distribution/<ref>/json`) so a remote engine asks
//! from its own network. The answers become `Inputs::registry_digests` and
//! `Inputs::chosen_tags`; the planner turns a moved digest into a pull, and
//! the new image ID into a health-gated recreate with rollback.

mod schedule;
mod semver_tags;

pub use schedule::{Schedule, BACKOFF_MAX};
pub use semver_tags::choose_tag;

use crate::engine::EngineApi;
use crate::render::Inputs;
use desired_state::model::{registry_host, split_tag, PullPolicy, PullSpec, DEFAULT_REGISTRY};
use desired_state::DesiredState;

/// A reference to ask about, with the workload's pull settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Asked {
    /// As written (before a semver choice).
    pub declared: String,
    pub pull: PullSpec,
}

/// Every reference a pull policy says to ask about, once each.
pub fn asked(state: &DesiredState) -> Vec<Asked> {
    let mut out: Vec<Asked> = Vec::new();
    for r in &state.resources {
        let Some(w) = r.spec.workload() else { continue };
        let Some(pull) = w.pull.as_ref().filter(|p| p.asks_registry()) else {
            continue;
        };
        let declared = w.image.with_default_tag();
        if !out.iter().any(|a| a.declared == declared) {
            out.push(Asked {
                declared,
                pull: pull.clone(),
            });
        }
    }
    out
}

/// The tags of `reference`'s repository, from its registry's HTTP API
/// (with the docker CLI's credentials for that registry).
async fn repository_tags(reference: &str) -> Result<Vec<String>, String> {
    let (repository, _) = split_tag(reference);
    let (host, path) = match registry_host(&repository) {
        Some(h) => (h.to_string(), repository[h.len() + 1..].to_string()),
        None => (DEFAULT_REGISTRY.to_string(), repository.clone()),
    };
    tokio::task::spawn_blocking(move || {
        let creds = crate::registry::docker_credentials(&host);
        crate::registry::Registry::new(&host, creds.as_ref())
            .tags(&path)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// What one ask found: the reference to run and its digest now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub declared: String,
    /// The reference the container runs (the semver choice, or `declared`).
    pub chosen: String,
    pub digest: String,
}

/// Asks the registry about one reference: the semver choice first, then
/// the digest behind it.
pub async fn ask(engine: &dyn EngineApi, a: &Asked) -> Result<Answer, String> {
    let chosen = if a.pull.policy == PullPolicy::Semver {
        let range = a.pull.range.as_deref().unwrap_or("*");
        let tags = repository_tags(&a.declared).await?;
        let tag = choose_tag(&tags, range)
            .ok_or_else(|| format!("no tag of {} matches {range}", split_tag(&a.declared).0))?;
        format!("{}:{tag}", split_tag(&a.declared).0)
    } else {
        a.declared.clone()
    };
    let server = registry_host(&chosen)
        .unwrap_or(DEFAULT_REGISTRY)
        .to_string();
    let credentials = crate::registry::docker_credentials(&server);
    let digest = engine
        .registry_digest(&chosen, credentials)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Answer {
        declared: a.declared.clone(),
        chosen,
        digest,
    })
}

/// Records an answer in the inputs the planner reads.
pub fn apply_answer(inputs: &mut Inputs, answer: &Answer) {
    if answer.chosen != answer.declared {
        inputs
            .chosen_tags
            .insert(answer.declared.clone(), answer.chosen.clone());
    }
    inputs
        .registry_digests
        .insert(answer.chosen.clone(), answer.digest.clone());
}

/// For apply and diff: asks about every reference now; what cannot be
/// asked is a warning, and the engine's image is kept.
pub async fn ask_all(
    engine: &dyn EngineApi,
    state: &DesiredState,
    inputs: &mut Inputs,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for a in asked(state) {
        match ask(engine, &a).await {
            Ok(answer) => apply_answer(inputs, &answer),
            Err(why) => warnings.push(format!(
                "pull policy of {}: cannot ask the registry ({why}); keeping the image the engine has",
                a.declared
            )),
        }
    }
    warnings
}
