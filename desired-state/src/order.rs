//! The one topological ordering: workloads by `dependsOn`, images by `FROM`.

use std::collections::{BTreeMap, BTreeSet};

/// Nodes grouped in waves: every dependency of a wave is in an earlier one.
/// Dependencies on nodes not in `deps` are ignored. Validation refuses
/// cycles; if one slips through, what is left forms a final wave rather
/// than looping.
pub fn waves<K: Ord + Clone>(deps: &BTreeMap<K, Vec<K>>) -> Vec<Vec<K>> {
    let mut done: BTreeSet<&K> = BTreeSet::new();
    let mut out = Vec::new();
    while done.len() < deps.len() {
        let wave: Vec<&K> = deps
            .iter()
            .filter(|(n, ds)| {
                !done.contains(n) && ds.iter().all(|d| done.contains(d) || !deps.contains_key(d))
            })
            .map(|(n, _)| n)
            .collect();
        if wave.is_empty() {
            out.push(deps.keys().filter(|n| !done.contains(n)).cloned().collect());
            break;
        }
        done.extend(wave.iter().copied());
        out.push(wave.into_iter().cloned().collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::waves;
    use std::collections::BTreeMap;

    #[test]
    fn dependencies_come_in_earlier_waves_and_a_cycle_ends_last() {
        let deps = BTreeMap::from([
            ("api", vec!["db", "cache"]),
            ("db", vec![]),
            ("cache", vec!["elsewhere"]),
            ("web", vec!["api"]),
        ]);
        assert_eq!(
            waves(&deps),
            vec![vec!["cache", "db"], vec!["api"], vec!["web"]]
        );
        let cycle = BTreeMap::from([("a", vec!["b"]), ("b", vec!["a"]), ("c", vec![])]);
        assert_eq!(waves(&cycle), vec![vec!["c"], vec!["a", "b"]]);
    }
}
