//! The library's module graph stays one-way: no module cycle, the pure core
//! (planning, rendering, hashing) never reaches I/O, and only `engine` speaks
//! bollard. Read from the sources, so a new `use` that breaks it fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module -> the top-level modules its code names (`crate::x`).
fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            // A module's `tests.rs` is test code (declared under `#[cfg(test)]`):
            // it may borrow fixtures across modules without making a cycle.
            if path.extension().and_then(|e| e.to_str()) != Some("rs")
                || path.file_name().is_some_and(|n| n == "tests.rs")
            {
                continue;
            }
            let rel = path.strip_prefix(&src).expect("under src");
            let first = rel.components().next().expect("a component");
            let module = first
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            if module == "lib" || module == "testing" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read file");
            let deps = out.entry(module.clone()).or_default();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (i, _) in line.match_indices("crate::") {
                    let name: String = line[i + 7..]
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != module && name != "testing" {
                        deps.insert(name);
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = edges();
    let deps: BTreeMap<String, Vec<String>> = graph
        .iter()
        .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
        .collect();
    let waves = desired_state::order::waves(&deps);
    let last = waves.last().cloned().unwrap_or_default();
    let stuck: Vec<&String> = last
        .iter()
        .filter(|m| deps[*m].iter().any(|d| last.contains(d)))
        .collect();
    assert!(
        stuck.is_empty(),
        "modules in a cycle: {stuck:?}\ngraph: {graph:#?}"
    );
}

#[test]
fn the_pure_core_never_reaches_io() {
    let graph = edges();
    let core = ["plan", "render", "observed", "fields", "hash", "labels"];
    let io = [
        "engine",
        "remote",
        "hostfiles",
        "exec",
        "apply",
        "run",
        "context",
        "build",
        "registry",
        "doctor",
    ];
    for m in core {
        let bad: Vec<&String> = graph
            .get(m)
            .into_iter()
            .flatten()
            .filter(|d| io.contains(&d.as_str()))
            .collect();
        assert!(bad.is_empty(), "{m} reaches {bad:?}");
    }
}

#[test]
fn only_the_engine_module_speaks_bollard() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src.clone()];
    let mut offenders = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.starts_with(src.join("engine"))
                && std::fs::read_to_string(&path).is_ok_and(|t| t.contains("bollard::"))
            {
                offenders.push(path);
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
}
