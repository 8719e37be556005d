//! Mermaid flowchart, for Markdown that renders it (GitHub, GitLab): a
//! subgraph per phase, an isolation subgraph inside it, labelled edges.
//! Node ids are generated (n0, n1...): names only ever appear in quoted labels.

use super::escape::mermaid as esc;
use super::{Role, Topology};
use std::collections::BTreeMap;
use std::fmt::Write;

pub fn render(t: &Topology) -> String {
    let ids: BTreeMap<&str, String> = t
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), format!("n{i}")))
        .collect();
    let mut out = String::from("flowchart RL\n");
    let mut styles = String::new();
    for (pi, phase) in t.columns().into_iter().enumerate() {
        let _ = writeln!(out, "  subgraph p{pi}[\"phase: {}\"]", esc(phase));
        let nodes = t.nodes_in(phase);
        for n in nodes.iter().filter(|n| t.role(&n.name) != Role::Member) {
            let _ = writeln!(out, "    {}", node_line(t, &ids, n));
        }
        for (bi, b) in t.boundaries.iter().enumerate() {
            let members: Vec<_> = nodes
                .iter()
                .filter(|n| b.members.contains(&n.name))
                .collect();
            if members.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "    subgraph iso{pi}_{bi}[\"isolated: {}\"]",
                esc(&b.network)
            );
            for n in members {
                let _ = writeln!(out, "      {}", node_line(t, &ids, n));
            }
            out.push_str("    end\n");
            let _ = writeln!(
                styles,
                "  style iso{pi}_{bi} stroke:#d32f2f,stroke-dasharray:6 4,fill:#fff5f5"
            );
        }
        out.push_str("  end\n");
    }
    for e in &t.edges {
        let (Some(from), Some(to)) = (ids.get(e.from.as_str()), ids.get(e.to.as_str())) else {
            continue;
        };
        let arrow = if e.condition == "completed" {
            "-.->"
        } else {
            "-->"
        };
        let _ = writeln!(out, "  {from} {arrow}|\"{}\"| {to}", esc(&e.condition));
    }
    out.push_str("  classDef bridge stroke:#d32f2f,stroke-width:3px\n");
    for n in t.nodes.iter().filter(|n| t.role(&n.name) == Role::Bridge) {
        let _ = writeln!(out, "  class {} bridge", ids[n.name.as_str()]);
    }
    out.push_str(&styles);
    out
}

fn node_line(t: &Topology, ids: &BTreeMap<&str, String>, n: &super::Node) -> String {
    let bridge = if t.role(&n.name) == Role::Bridge {
        " · bridge"
    } else {
        ""
    };
    let nets: Vec<String> = n.networks.iter().map(|x| esc(x)).collect();
    format!(
        "{}[\"{}<br/>{}{bridge}<br/>{}\"]",
        ids[n.name.as_str()],
        esc(&n.name),
        n.kind,
        nets.join(", ")
    )
}
