use desired_state::DesiredState;
use std::collections::{BTreeMap, BTreeSet};

/// Workload names grouped in waves of `dependsOn` (see `desired_state::order::waves`).
pub fn dependency_waves(desired: &DesiredState, names: &BTreeSet<String>) -> Vec<Vec<String>> {
    let deps: BTreeMap<String, Vec<String>> = desired
        .workloads()
        .filter(|r| names.contains(r.name()))
        .map(|r| {
            let ds = r
                .spec
                .workload()
                .map(|w| w.depends_on.iter().map(|d| d.name.clone()).collect())
                .unwrap_or_default();
            (r.name().to_string(), ds)
        })
        .collect();
    desired_state::order::waves(&deps)
}
