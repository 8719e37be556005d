//! Resource selection by label selector, closed over dependencies: what
//! `-l KEY=VALUE` picks for plan, build and the compose export.

use crate::model::{Kind, MountSource, Spec};
use crate::DesiredState;
use std::collections::BTreeSet;

/// Indices of the resources a selector picks, closed over what they depend on:
/// dependsOn targets, networks, volumes, config files, secret sets and images.
/// An empty selector picks everything.
pub fn selected(desired: &DesiredState, selector: &[(String, String)]) -> BTreeSet<usize> {
    let all = 0..desired.resources.len();
    if selector.is_empty() {
        return all.collect();
    }
    let seeds = all
        .filter(|i| desired.resources[*i].matches(selector))
        .collect();
    closed_over_dependencies(desired, seeds)
}

/// The label prefix that puts a resource in a compose-style profile:
/// `profile.debug: "true"` places it in the profile `debug`.
pub const PROFILE_PREFIX: &str = "profile.";

/// The profiles a resource belongs to (its `profile.NAME: "true"` labels).
pub fn profiles(r: &crate::Resource) -> impl Iterator<Item = &str> {
    r.metadata
        .labels
        .iter()
        .filter(|(k, v)| k.starts_with(PROFILE_PREFIX) && v.as_str() == "true")
        .map(|(k, _)| &k[PROFILE_PREFIX.len()..])
}

/// What `diff`, `apply`, `run` and `build` act on: like [`selected`], except
/// that a resource in a profile is off unless the selector names one of its
/// profiles (`-l profile.debug=true`), as `docker compose --profile debug`
/// starts such a service only when asked. An inactive resource is neither
/// created nor pruned: it is declared, just not wanted now. What an active
/// resource depends on is active too, profile or not.
pub fn active(desired: &DesiredState, selector: &[(String, String)]) -> BTreeSet<usize> {
    let wanted = |r: &crate::Resource| {
        let mut in_profiles = profiles(r).peekable();
        if in_profiles.peek().is_none() {
            return selector.is_empty() || r.matches(selector);
        }
        let named = in_profiles.any(|p| {
            selector
                .iter()
                .any(|(k, v)| k.strip_prefix(PROFILE_PREFIX) == Some(p) && v == "true")
        });
        named && r.matches(selector)
    };
    let seeds = (0..desired.resources.len())
        .filter(|i| wanted(&desired.resources[*i]))
        .collect();
    closed_over_dependencies(desired, seeds)
}

fn closed_over_dependencies(
    desired: &DesiredState,
    mut chosen: BTreeSet<usize>,
) -> BTreeSet<usize> {
    let index = |kind: Kind, name: &str| {
        desired
            .resources
            .iter()
            .position(|r| r.kind() == kind && r.name() == name)
    };
    let mut queue: Vec<usize> = chosen.iter().copied().collect();
    while let Some(i) = queue.pop() {
        let r = &desired.resources[i];
        let mut deps: Vec<Option<usize>> = Vec::new();
        if let Some(w) = r.spec.workload() {
            for d in &w.depends_on {
                deps.push(index(Kind::Service, &d.name).or_else(|| index(Kind::Job, &d.name)));
            }
            deps.extend(w.networks.iter().map(|n| index(Kind::Network, &n.name)));
            deps.extend(
                w.env_from
                    .iter()
                    .map(|e| index(Kind::SecretSet, &e.secret_set)),
            );
            deps.extend(
                w.secret_files
                    .iter()
                    .map(|f| index(Kind::SecretSet, &f.secret_set)),
            );
            for m in &w.mounts {
                match m.source() {
                    Some(MountSource::Volume(v)) => deps.push(index(Kind::Volume, v)),
                    Some(MountSource::ConfigFile(c)) => deps.push(index(Kind::ConfigFile, c)),
                    _ => {}
                }
            }
            let image = w.image.with_default_tag();
            deps.extend(desired.resources.iter().enumerate().filter_map(
                |(j, img)| match &img.spec {
                    Spec::Image(s) if s.reference.with_default_tag() == image => Some(Some(j)),
                    _ => None,
                },
            ));
        }
        for d in deps.into_iter().flatten() {
            if chosen.insert(d) {
                queue.push(d);
            }
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testing::{network, service, state, HEADER};

    #[test]
    fn a_selector_picks_its_matches_and_what_they_need() {
        let yaml = [
            network("front", "{}"),
            network("back", "{}"),
            format!("---\n{HEADER}kind: Volume\nmetadata: {{name: data}}\nspec: {{}}\n"),
            format!("---\n{HEADER}kind: Service\nmetadata: {{name: web, labels: {{tier: edge}}}}\nspec:\n  image: app\n  networks: [{{name: front}}]\n  dependsOn: [{{name: db}}]\n"),
            service("db", "  networks: [{name: back}]\n  mounts: [{volume: data, target: /data}]\n"),
            service("other", "  networks: [{name: front}]\n"),
        ]
        .concat();
        let desired = state(&yaml);
        let names = |set: BTreeSet<usize>| -> Vec<String> {
            set.into_iter()
                .map(|i| desired.resources[i].name().to_string())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        let picked = selected(&desired, &[("tier".into(), "edge".into())]);
        assert_eq!(names(picked), ["back", "data", "db", "front", "web"]);
        assert_eq!(selected(&desired, &[]).len(), desired.resources.len());
        assert!(selected(&desired, &[("tier".into(), "none".into())]).is_empty());
    }
    #[test]
    fn a_service_in_a_profile_is_off_until_the_selector_names_the_profile() {
        let yaml = [
            network("front", "{}"),
            service("web", "  networks: [{name: front}]\n"),
            format!("---\n{HEADER}kind: Service\nmetadata: {{name: debug, labels: {{profile.debug: \"true\", tier: edge}}}}\nspec:\n  image: app\n  networks: [{{name: front}}]\n  dependsOn: [{{name: web}}]\n"),
        ]
        .concat();
        let desired = state(&yaml);
        let names = |set: BTreeSet<usize>| -> Vec<&str> {
            set.into_iter()
                .map(|i| desired.resources[i].name())
                .collect()
        };
        let sel = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(names(active(&desired, &[])), ["front", "web"]);
        assert_eq!(
            names(active(&desired, &sel(&[("profile.debug", "true")]))),
            ["front", "web", "debug"],
            "naming the profile turns it on, with what it depends on"
        );
        assert!(
            names(active(&desired, &sel(&[("tier", "edge")]))).is_empty(),
            "a selector that does not name the profile leaves it off"
        );
        assert_eq!(
            selected(&desired, &[]).len(),
            3,
            "the export still sees every resource"
        );
    }
}
