use super::*;
use crate::testing::desired;

/// Two networks, four phases, an isolated payment pair bridged by a gateway.
pub(crate) const SYSTEM: &str = r#"
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: front, labels: {phase: foundation}}
spec: {}
---
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: pay, labels: {phase: support}}
spec: {}
---
apiVersion: lucid/v1alpha1
kind: IsolationPolicy
metadata: {name: pay-isolation, labels: {phase: support}}
spec: {network: pay, members: [tron, payout], bridges: [gw]}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: payout, labels: {phase: support}}
spec:
  image: x/payout:1
  networks: [{name: pay}]
  dependsOn: [{name: tron, condition: started}]
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: tron, labels: {phase: support}}
spec: {image: x/tron:1, networks: [{name: pay}]}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: gw, labels: {phase: support}}
spec:
  image: x/gw:1
  networks: [{name: front}, {name: pay}]
  dependsOn: [{name: api, condition: healthy}, {name: payout, condition: started}]
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: api, labels: {phase: core}}
spec:
  image: x/api:1
  networks: [{name: front}]
  healthcheck: {test: ["CMD", "true"]}
  dependsOn: [{name: db, condition: healthy}, {name: migrate, condition: completed}]
---
apiVersion: lucid/v1alpha1
kind: Job
metadata: {name: migrate, labels: {phase: foundation}}
spec:
  image: x/db:1
  networks: [{name: front}]
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: db, labels: {phase: foundation}}
spec:
  image: x/db:1
  networks: [{name: front}]
  healthcheck: {test: ["CMD", "true"]}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: loner}
spec: {image: x/loner:1, networks: [{name: front}]}
"#;

pub(crate) fn topology() -> Topology {
    Topology::from_state(&desired(SYSTEM))
}

#[test]
fn phases_follow_dependencies_and_unphased_resources_get_a_column() {
    let t = topology();
    assert_eq!(t.phases, [UNPHASED, "foundation", "core", "support"]);
    assert_eq!(t.columns(), [UNPHASED, "foundation", "core", "support"]);
    assert_eq!(t.resource_phases["Network/pay"], "support");
    assert_eq!(t.networks, ["front", "pay"]);
    assert_eq!(t.edges.len(), 5);
}

#[test]
fn a_phase_lists_outsiders_then_bridges_then_members() {
    let t = topology();
    let names: Vec<&str> = t
        .nodes_in("support")
        .iter()
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(names, ["gw", "payout", "tron"]);
    assert_eq!(t.role("gw"), Role::Bridge);
    assert_eq!(t.role("tron"), Role::Member);
    assert_eq!(t.role("api"), Role::Outside);
}

#[test]
fn dot_has_every_edge_with_its_condition_and_the_boundary_cluster() {
    let t = topology();
    let dot = dot::render(&t);
    for e in &t.edges {
        let line = format!("\"{}\" -> \"{}\" [label=\"{}\"", e.from, e.to, e.condition);
        assert!(dot.contains(&line), "{line} missing from\n{dot}");
    }
    assert!(dot.contains("label=\"isolated: pay\""), "{dot}");
    assert!(dot.contains("label=\"phase: foundation\""), "{dot}");
    // Members sit inside the isolation cluster; the bridge outside it.
    let cluster = &dot[dot.find("cluster_isolation").unwrap()..];
    let cluster = &cluster[..cluster.find('}').unwrap()];
    assert!(
        cluster.contains("\"tron\"") && cluster.contains("\"payout\""),
        "{cluster}"
    );
    assert!(!cluster.contains("\"gw\""), "{cluster}");
    assert_eq!(dot.matches('{').count(), dot.matches('}').count(), "{dot}");
}

#[test]
fn mermaid_uses_generated_ids_and_labels_edges() {
    let m = mermaid::render(&topology());
    assert!(m.starts_with("flowchart RL\n"), "{m}");
    assert!(m.contains("subgraph iso3_0[\"isolated: pay\"]"), "{m}");
    assert!(m.contains("-.->|\"completed\"|"), "{m}");
    assert!(m.contains("-->|\"started\"|"), "{m}");
    assert!(m.contains("class "), "the bridge is marked: {m}");
    assert_eq!(
        m.matches("subgraph").count(),
        m.matches("  end\n").count(),
        "{m}"
    );
}

#[test]
fn svg_colours_nodes_and_draws_the_boundary_around_members_only() {
    let t = topology();
    let mut states = BTreeMap::new();
    states.insert("db".to_string(), NodeState::Ready);
    states.insert("tron".to_string(), NodeState::CrashLooping);
    let svg = svg::render(&t, &states);
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(
        svg.contains(r#"data-name="db" data-kind="Service" data-state="ready""#),
        "{svg}"
    );
    assert!(svg.contains(
        r#"data-name="tron" data-kind="Service" data-state="crash-looping" data-role="member""#
    ));
    assert!(svg
        .contains(r#"data-name="gw" data-kind="Service" data-state="unknown" data-role="bridge""#));
    assert_eq!(svg.matches("class=\"isolation-boundary\"").count(), 1);
    assert_eq!(svg.matches("class=\"edge\"").count(), t.edges.len());
    // The boundary encloses the members and cuts through the bridge's middle.
    let rect = |name: &str| {
        let at = svg.find(&format!("data-name=\"{name}\"")).unwrap();
        let r = &svg[at..];
        let r = &r[r.find("<rect").unwrap()..];
        (attr(r, "y"), attr(r, "height"))
    };
    let b = &svg[svg.find("class=\"isolation-boundary\"").unwrap()..];
    let b = &b[b.find("<rect").unwrap()..];
    let (top, bottom) = (attr(b, "y"), attr(b, "y") + attr(b, "height"));
    for member in ["tron", "payout"] {
        let (y, h) = rect(member);
        assert!(
            top < y && y + h < bottom,
            "{member} inside {top}..{bottom}: {y}+{h}"
        );
    }
    let (gy, gh) = rect("gw");
    assert!(
        gy < top && top < gy + gh,
        "the boundary crosses the bridge: {top} vs {gy}+{gh}"
    );
}

fn attr(element: &str, name: &str) -> f64 {
    let key = format!(" {name}=\"");
    let at = element.find(&key).unwrap() + key.len();
    element[at..at + element[at..].find('"').unwrap()]
        .parse()
        .unwrap()
}

#[test]
fn hostile_names_are_escaped_in_every_renderer() {
    let mut t = topology();
    t.nodes[0].name = "<script>alert(1)</script>\"".into();
    t.edges[0].condition = "x\" -> \"y".into();
    let svg = svg::render(&t, &BTreeMap::new());
    assert!(!svg.contains("<script>"), "{svg}");
    let dot = dot::render(&t);
    assert!(dot.contains("\\\" -> \\\"y"), "{dot}");
    assert!(!dot.contains("x\" -> \"y"), "{dot}");
    let m = mermaid::render(&t);
    assert!(!m.contains("<script>"), "{m}");
}

#[test]
fn an_empty_state_still_renders() {
    let t = Topology::default();
    assert!(svg::render(&t, &BTreeMap::new()).contains("no Services or Jobs"));
    assert!(dot::render(&t).ends_with("}\n"));
}
