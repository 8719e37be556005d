use desired_state::DesiredState;
use std::collections::{BTreeMap, BTreeSet};

/// Workload names grouped in waves: every dependency of a wave is in an earlier
/// one. Validation has already refused cycles; if one slips through, the rest
/// form a final wave rather than looping.
pub fn dependency_waves(desired: &DesiredState, names: &BTreeSet<String>) -> Vec<Vec<String>> {
    let deps: BTreeMap<&str, Vec<&str>> = desired
        .workloads()
        .filter(|r| names.contains(r.name()))
        .map(|r| {
            let ds = r
                .spec
                .workload()
                .map(|w| {
                    w.depends_on
                        .iter()
                        .map(|d| d.name.as_str())
                        .filter(|d| names.contains(*d))
                        .collect()
                })
                .unwrap_or_default();
            (r.name(), ds)
        })
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut waves = Vec::new();
    while done.len() < deps.len() {
        let wave: Vec<&str> = deps
            .iter()
            .filter(|(n, ds)| !done.contains(*n) && ds.iter().all(|d| done.contains(d)))
            .map(|(n, _)| *n)
            .collect();
        if wave.is_empty() {
            waves.push(
                deps.keys()
                    .filter(|n| !done.contains(*n))
                    .map(|n| n.to_string())
                    .collect(),
            );
            break;
        }
        done.extend(wave.iter().copied());
        waves.push(wave.into_iter().map(String::from).collect());
    }
    waves
}
