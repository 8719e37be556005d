//! `lucidctl graph` on the Lucid system: the dot output, parsed, holds every
//! dependsOn edge of the desired state with its condition, each phase as a
//! cluster and the isolation boundary around exactly the policy's members.

use desired_state::model::Spec;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn graph(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lucidctl"))
        .arg("graph")
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `"from" -> "to" [label="condition", ...];` lines: (from, to) -> condition.
fn dot_edges(dot: &str) -> BTreeMap<(String, String), String> {
    let mut edges = BTreeMap::new();
    for line in dot.lines().map(str::trim) {
        let Some((from, rest)) = line
            .strip_prefix('"')
            .and_then(|l| l.split_once("\" -> \""))
        else {
            continue;
        };
        let (to, attrs) = rest.split_once("\" [").expect(line);
        let label = attrs
            .split_once("label=\"")
            .and_then(|(_, l)| l.split_once('"'))
            .map(|(l, _)| l.to_string())
            .expect(line);
        let previous = edges.insert((from.to_string(), to.to_string()), label);
        assert!(previous.is_none(), "edge listed twice: {line}");
    }
    edges
}

/// Node names declared inside the cluster whose label is `label`.
fn cluster_nodes(dot: &str, label: &str) -> BTreeSet<String> {
    let start = dot
        .find(&format!("label=\"{label}\""))
        .unwrap_or_else(|| panic!("{label} missing:\n{dot}"));
    let body = &dot[start..];
    let body = &body[..body.find('}').unwrap()];
    body.lines()
        .filter_map(|l| l.trim().strip_prefix('"'))
        .filter_map(|l| l.split_once("\" [label="))
        .map(|(name, _)| name.to_string())
        .collect()
}

#[test]
fn dot_holds_every_depends_on_edge_with_its_condition() {
    let (code, dot, stderr) = graph(&["-f", "configs/lucid", "-o", "dot"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        dot.contains("digraph lucid {") && dot.trim_end().ends_with('}'),
        "{dot}"
    );

    let options = desired_state::LoadOptions {
        paths: vec![repo().join("configs/lucid")],
        recursive: false,
        root: None,
    };
    let (state, _) = desired_state::load_valid(&options).expect("configs/lucid is valid");
    let mut expected = BTreeMap::new();
    let mut policy = None;
    for r in &state.resources {
        if let Some(w) = r.spec.workload() {
            for d in &w.depends_on {
                expected.insert(
                    (r.name().to_string(), d.name.clone()),
                    d.condition.as_str().to_string(),
                );
            }
        }
        if let Spec::IsolationPolicy(p) = &r.spec {
            policy = Some(p.clone());
        }
    }
    assert!(
        expected.len() > 50,
        "the Lucid system has many dependencies: {}",
        expected.len()
    );
    assert_eq!(dot_edges(&dot), expected);

    let policy = policy.expect("configs/lucid has an IsolationPolicy");
    let inside = cluster_nodes(&dot, &format!("isolated: {}", policy.network));
    assert_eq!(
        inside,
        policy.members.iter().cloned().collect::<BTreeSet<_>>()
    );
    for bridge in &policy.bridges {
        assert!(
            !inside.contains(bridge),
            "the bridge {bridge} is on the boundary, not inside"
        );
        assert!(
            dot.contains(&format!(
                "\"{bridge}\" [label=\"{bridge}\\nService\\nlucid-pi-network, {}\\nbridge\"",
                policy.network
            )),
            "{dot}"
        );
    }
    for phase in ["foundation", "core", "application", "support"] {
        assert!(
            !cluster_nodes(&dot, &format!("phase: {phase}")).is_empty(),
            "phase {phase}"
        );
    }
    let at = |p: &str| dot.find(&format!("label=\"phase: {p}\"")).unwrap();
    assert!(
        at("foundation") < at("core") && at("core") < at("application"),
        "{dot}"
    );
}

#[test]
fn svg_and_mermaid_are_the_same_picture() {
    let (code, svg, stderr) = graph(&["-f", "configs/lucid", "-o", "svg"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert_eq!(svg.matches("class=\"isolation-boundary\"").count(), 1);
    assert!(svg.contains("data-name=\"lucid-payment-gateway\" data-kind=\"Service\" data-state=\"unknown\" data-role=\"bridge\""));
    let (code, mermaid, stderr) = graph(&["-f", "configs/lucid", "--output", "mermaid"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(mermaid.starts_with("flowchart RL\n"), "{mermaid}");
    assert!(
        mermaid.contains("[\"isolated: lucid-tron-isolated\"]"),
        "{mermaid}"
    );
}

#[test]
fn invalid_input_exits_1_with_the_place_to_fix() {
    let dir = std::env::temp_dir().join(format!("lucid-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: web}\nspec:\n  image: x/web:1\n  dependsOn: [{name: ghost, condition: healthy}]\n",
    )
    .unwrap();
    let (code, stdout, stderr) = graph(&["-f", file.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("bad.yaml:6:"), "{stderr}");
    assert!(stderr.contains("ghost"), "{stderr}");
}
