//! `dependsOn` must form a DAG; a cycle is printed as the loop it makes.

use super::Report;
use crate::state::DesiredState;
use std::collections::HashMap;

/// The first cycle found, as names from a node back to itself.
pub fn dependency_cycle(state: &DesiredState) -> Option<Vec<String>> {
    let edges: HashMap<&str, Vec<&str>> = state
        .workloads()
        .map(|r| {
            (
                r.name(),
                r.spec
                    .workload()
                    .map(|w| w.depends_on.iter().map(|d| d.name.as_str()).collect())
                    .unwrap_or_default(),
            )
        })
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = edges.keys().map(|k| (*k, Mark::New)).collect();
    let mut names: Vec<&str> = edges.keys().copied().collect();
    names.sort_unstable();
    for start in names {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative DFS: deep chains must not overflow the stack.
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        marks.insert(start, Mark::Active);
        while let Some((node, next)) = stack.last_mut() {
            let deps = &edges[*node];
            if *next >= deps.len() {
                marks.insert(*node, Mark::Done);
                stack.pop();
                continue;
            }
            let dep = deps[*next];
            *next += 1;
            match marks.get(dep).copied() {
                Some(Mark::New) => {
                    marks.insert(dep, Mark::Active);
                    stack.push((dep, 0));
                }
                Some(Mark::Active) => {
                    let from = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        stack[from..].iter().map(|(n, _)| n.to_string()).collect();
                    cycle.push(dep.to_string());
                    return Some(cycle);
                }
                _ => {}
            }
        }
    }
    None
}

pub(super) fn check(state: &DesiredState, out: &mut Report) {
    let Some(cycle) = dependency_cycle(state) else {
        return;
    };
    let Some(r) = state.workloads().find(|r| r.name() == cycle[0]) else {
        return;
    };
    let idx = r
        .spec
        .workload()
        .and_then(|w| w.depends_on.iter().position(|d| d.name == cycle[1]))
        .unwrap_or(0);
    out.error(
        r,
        &format!("/spec/dependsOn/{idx}"),
        format!("dependsOn cycle: {}", cycle.join(" -> ")),
        Some("remove one of these dependencies".into()),
    );
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn prints_the_cycle() {
        let yaml = format!(
            "{}{}{}",
            service("a", "  dependsOn: [{name: b}]\n"),
            service("b", "  dependsOn: [{name: c}]\n"),
            service("c", "  dependsOn: [{name: a}]\n"),
        );
        let mut out = Report::default();
        check(&state(&yaml), &mut out);
        let m = messages(&out.0);
        assert_eq!(m.len(), 1);
        assert!(
            m[0].contains("Service/a: spec.dependsOn[0]: dependsOn cycle: a -> b -> c -> a"),
            "{}",
            m[0]
        );
    }

    #[test]
    fn a_dag_has_no_cycle() {
        let yaml = format!(
            "{}{}",
            service("a", "  dependsOn: [{name: b}]\n"),
            service("b", "")
        );
        assert_eq!(dependency_cycle(&state(&yaml)), None);
    }
}
