//! Graphviz dot: one cluster per phase, a dashed red cluster inside it per
//! isolation boundary, one edge per dependsOn entry (dependent -> dependency)
//! labelled with its condition. `rankdir=RL` puts dependencies on the left.

use super::escape::dot as esc;
use super::{Role, Topology};
use std::fmt::Write;

pub fn render(t: &Topology) -> String {
    let mut out = String::new();
    out.push_str(
        "// lucidctl graph: Services and Jobs by phase; an edge A -> B means A depends on B.\n",
    );
    out.push_str("digraph lucid {\n  rankdir=RL;\n  compound=true;\n");
    out.push_str("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f4f6f8\", fontname=\"sans-serif\", fontsize=10];\n");
    out.push_str("  edge [fontname=\"sans-serif\", fontsize=9, color=\"#5f6b7a\"];\n");
    for (pi, phase) in t.columns().into_iter().enumerate() {
        let _ = writeln!(out, "  subgraph \"cluster_phase_{pi}\" {{");
        let _ = writeln!(
            out,
            "    label=\"phase: {}\";\n    color=\"#9aa5b1\";",
            esc(phase)
        );
        let nodes = t.nodes_in(phase);
        for n in nodes.iter().filter(|n| t.role(&n.name) != Role::Member) {
            let _ = writeln!(out, "    {}", node_line(t, n));
        }
        for (bi, b) in t.boundaries.iter().enumerate() {
            let members: Vec<_> = nodes
                .iter()
                .filter(|n| b.members.contains(&n.name))
                .collect();
            if members.is_empty() {
                continue;
            }
            let _ = writeln!(out, "    subgraph \"cluster_isolation_{pi}_{bi}\" {{");
            let _ = writeln!(
                out,
                "      label=\"isolated: {}\";\n      style=dashed;\n      color=\"#d32f2f\";\n      fontcolor=\"#d32f2f\";",
                esc(&b.network)
            );
            for n in members {
                let _ = writeln!(out, "      {}", node_line(t, n));
            }
            out.push_str("    }\n");
        }
        out.push_str("  }\n");
    }
    for e in &t.edges {
        let style = match e.condition.as_str() {
            "completed" => "dashed",
            "started" => "dotted",
            _ => "solid",
        };
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{}\", style={style}];",
            esc(&e.from),
            esc(&e.to),
            esc(&e.condition)
        );
    }
    out.push_str("}\n");
    out
}

fn node_line(t: &Topology, n: &super::Node) -> String {
    let mut label = format!("{}\\n{}", esc(&n.name), n.kind);
    if !n.networks.is_empty() {
        let nets: Vec<String> = n.networks.iter().map(|x| esc(x)).collect();
        label.push_str(&format!("\\n{}", nets.join(", ")));
    }
    let extra = match t.role(&n.name) {
        Role::Bridge => {
            label.push_str("\\nbridge");
            ", color=\"#d32f2f\", penwidth=2"
        }
        Role::Member => ", fillcolor=\"#fde7e7\"",
        Role::Outside => "",
    };
    format!("\"{}\" [label=\"{label}\"{extra}];", esc(&n.name))
}
