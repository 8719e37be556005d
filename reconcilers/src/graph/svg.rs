//! SVG: phases as columns (dependencies to the left), nodes as boxes coloured
//! by state, network chips on each box, dependsOn edges as curves labelled
//! with their condition, and each isolation boundary as a dashed red rectangle
//! around its members with the bridge straddling its edge. Self-contained
//! (attributes, no stylesheet), so the same text works inline in the status
//! page and as a file.

use super::escape::xml as esc;
use super::{NodeState, Role, Topology};
use std::collections::BTreeMap;
use std::fmt::Write;

const MARGIN: f64 = 16.0;
const COL_W: f64 = 285.0;
const NODE_X: f64 = 18.0;
const NODE_W: f64 = 200.0;
const NODE_H: f64 = 40.0;
const ROW: f64 = 54.0;
const HEAD: f64 = 40.0;
/// Room under a boundary's members for its label.
const BOUNDARY_FOOT: f64 = 26.0;
const PALETTE: [&str; 6] = [
    "#1e88e5", "#8e24aa", "#00897b", "#f9a825", "#6d4c41", "#3949ab",
];
const ISOLATED: &str = "#d32f2f";
const MAX_LABEL: usize = 28;

struct Placed {
    column: usize,
    x: f64,
    y: f64,
}

/// `states` colours the boxes by name; a name it lacks is drawn as unknown.
pub fn render(t: &Topology, states: &BTreeMap<String, NodeState>) -> String {
    let colours = network_colours(t);
    let columns = t.columns();
    let mut placed: BTreeMap<&str, Placed> = BTreeMap::new();
    let mut boundaries = String::new();
    let mut heads = String::new();
    let mut bottom = MARGIN + HEAD;
    for (ci, phase) in columns.iter().enumerate() {
        let cx = MARGIN + ci as f64 * COL_W;
        let nodes = t.nodes_in(phase);
        let _ = write!(
            heads,
            r##"<text x="{:.0}" y="{:.0}" font-size="13" font-weight="bold" fill="#334">{} <tspan font-weight="normal" fill="#778">({})</tspan></text>"##,
            cx + NODE_X,
            MARGIN + 18.0,
            esc(phase),
            nodes.len()
        );
        let mut y = MARGIN + HEAD;
        let mut previous: Option<(Role, Option<usize>)> = None;
        for n in &nodes {
            let key = (t.role(&n.name), t.boundary_of(&n.name));
            if key.0 == Role::Member && previous != Some(key) {
                // A new boundary starts: keep a gap unless its bridge sits just above.
                let bridged = previous == Some((Role::Bridge, key.1));
                y += if bridged { -4.0 } else { 14.0 };
            }
            if previous.is_some_and(|p| p.0 == Role::Member && p != key) {
                y += BOUNDARY_FOOT;
            }
            placed.insert(
                &n.name,
                Placed {
                    column: ci,
                    x: cx + NODE_X,
                    y,
                },
            );
            previous = Some(key);
            y += ROW;
        }
        if previous.is_some_and(|p| p.0 == Role::Member) {
            y += BOUNDARY_FOOT;
        }
        bottom = f64::max(bottom, y);
        for b in &t.boundaries {
            let members: Vec<&Placed> = nodes
                .iter()
                .filter(|n| b.members.contains(&n.name))
                .filter_map(|n| placed.get(n.name.as_str()))
                .collect();
            let (Some(first), Some(last)) = (members.first(), members.last()) else {
                continue;
            };
            let bridge_above = nodes
                .iter()
                .filter(|n| b.bridges.contains(&n.name))
                .filter_map(|n| placed.get(n.name.as_str()))
                .map(|p| p.y)
                .rfind(|by| *by < first.y && first.y - *by < ROW * 1.5);
            // The boundary's top edge runs through the middle of its bridge.
            let top = bridge_above.map_or(first.y - 10.0, |by| by + NODE_H / 2.0);
            let height = last.y + NODE_H + BOUNDARY_FOOT - 4.0 - top;
            let _ = write!(
                boundaries,
                r##"<g class="isolation-boundary" data-network="{net}"><rect x="{:.0}" y="{top:.0}" width="{:.0}" height="{height:.0}" rx="8" fill="{ISOLATED}" fill-opacity="0.05" stroke="{ISOLATED}" stroke-width="2" stroke-dasharray="7 4"/><text x="{:.0}" y="{:.0}" font-size="11" fill="{ISOLATED}">isolated: {net}</text></g>"##,
                cx + NODE_X - 10.0,
                NODE_W + 44.0,
                cx + NODE_X,
                last.y + NODE_H + 18.0,
                net = esc(&b.network),
            );
        }
    }
    let width = (MARGIN * 2.0 + columns.len() as f64 * COL_W).max(660.0);
    let legend_y = bottom + 8.0;
    let height = legend_y + 70.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="lucid-graph" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" role="img" aria-label="dependency graph"><title>Services and Jobs by phase; arrows point from a dependent to what it depends on</title><defs><marker id="lucid-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5f6b7a"/></marker></defs><rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    out.push_str(&boundaries);
    out.push_str(&heads);
    if t.nodes.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{MARGIN}" y="{:.0}" font-size="13" fill="#778">no Services or Jobs</text>"##,
            MARGIN + 50.0
        );
    }
    for e in &t.edges {
        let (Some(from), Some(to)) = (placed.get(e.from.as_str()), placed.get(e.to.as_str()))
        else {
            continue;
        };
        out.push_str(&edge(from, to, &e.from, &e.to, &e.condition));
    }
    for n in &t.nodes {
        let Some(p) = placed.get(n.name.as_str()) else {
            continue;
        };
        let state = states.get(&n.name).copied().unwrap_or_default();
        out.push_str(&node(t, n, p, state, &colours));
    }
    out.push_str(&legend(t, &colours, legend_y));
    out.push_str("</svg>\n");
    out
}

fn network_colours(t: &Topology) -> BTreeMap<String, &'static str> {
    let mut colours = BTreeMap::new();
    let mut next = 0;
    let attached = t.nodes.iter().flat_map(|n| n.networks.iter());
    for net in t.networks.iter().chain(attached) {
        if colours.contains_key(net) {
            continue;
        }
        let colour = if t.is_isolated_network(net) {
            ISOLATED
        } else {
            next += 1;
            PALETTE[(next - 1) % PALETTE.len()]
        };
        colours.insert(net.clone(), colour);
    }
    colours
}

fn edge(from: &Placed, to: &Placed, from_name: &str, to_name: &str, condition: &str) -> String {
    let (fy, ty) = (from.y + NODE_H / 2.0, to.y + NODE_H / 2.0);
    let (sx, sy, ex, ey, c1x, c2x) = if to.column < from.column {
        let (sx, ex) = (from.x, to.x + NODE_W);
        let dx = (sx - ex) / 2.0;
        (sx, fy, ex, ty, sx - dx, ex + dx)
    } else if to.column > from.column {
        let (sx, ex) = (from.x + NODE_W, to.x);
        let dx = (ex - sx) / 2.0;
        (sx, fy, ex, ty, sx + dx, ex - dx)
    } else {
        // Same phase: loop out to the right of the column.
        let bulge = 12.0 + ((fy - ty).abs() / 10.0).min(16.0);
        let x = from.x + NODE_W;
        (x, fy - 6.0, x, ty + 6.0, x + bulge, x + bulge)
    };
    let (mx, my) = ((sx + 3.0 * c1x + 3.0 * c2x + ex) / 8.0, (sy + ey) / 2.0);
    let dash = match condition {
        "completed" => " stroke-dasharray=\"6 3\"",
        "started" => " stroke-dasharray=\"2 3\"",
        _ => "",
    };
    format!(
        r##"<g class="edge" data-from="{f}" data-to="{t}" data-condition="{c}"><title>{f} depends on {t} ({c})</title><path d="M{sx:.1},{sy:.1} C{c1x:.1},{sy:.1} {c2x:.1},{ey:.1} {ex:.1},{ey:.1}" fill="none" stroke="#5f6b7a" stroke-opacity="0.55" stroke-width="1.2"{dash} marker-end="url(#lucid-arrow)"/><text x="{mx:.1}" y="{my:.1}" font-size="9" fill="#445" text-anchor="middle" stroke="#fff" stroke-width="3" paint-order="stroke">{c}</text></g>"##,
        f = esc(from_name),
        t = esc(to_name),
        c = esc(condition),
    )
}

fn node(
    t: &Topology,
    n: &super::Node,
    p: &Placed,
    state: NodeState,
    colours: &BTreeMap<String, &'static str>,
) -> String {
    let (stroke, fill) = state.colours();
    let role = t.role(&n.name);
    let role_name = match role {
        Role::Bridge => "bridge",
        Role::Member => "member",
        Role::Outside => "outside",
    };
    let shown: String = if n.name.chars().count() > MAX_LABEL {
        n.name.chars().take(MAX_LABEL - 1).chain(['…']).collect()
    } else {
        n.name.clone()
    };
    let sub = match role {
        Role::Bridge => format!("{} · bridge · {}", n.kind, state.as_str()),
        _ => format!("{} · {}", n.kind, state.as_str()),
    };
    let name = esc(&n.name);
    let nets: Vec<String> = n.networks.iter().map(|x| esc(x)).collect();
    let mut g = format!(
        r##"<g class="node" data-name="{name}" data-kind="{}" data-state="{}" data-role="{role_name}"><title>{}/{name}: {} (networks: {})</title><rect x="{:.0}" y="{:.0}" width="{NODE_W}" height="{NODE_H}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="{}"/>"##,
        n.kind,
        state.as_str(),
        n.kind,
        state.as_str(),
        nets.join(", "),
        p.x,
        p.y,
        if role == Role::Bridge { 3 } else { 2 },
    );
    if role == Role::Bridge {
        let _ = write!(
            g,
            r##"<rect x="{:.0}" y="{:.0}" width="5" height="{NODE_H}" fill="{ISOLATED}"/>"##,
            p.x, p.y
        );
    }
    let _ = write!(
        g,
        r##"<text x="{:.0}" y="{:.0}" font-size="12" fill="#1d2733">{}</text><text x="{:.0}" y="{:.0}" font-size="10" fill="{stroke}">{}</text>"##,
        p.x + 10.0,
        p.y + 17.0,
        esc(&shown),
        p.x + 10.0,
        p.y + 32.0,
        esc(&sub)
    );
    for (i, net) in n.networks.iter().enumerate() {
        let colour = colours.get(net).copied().unwrap_or("#999");
        let _ = write!(
            g,
            r##"<circle class="net" data-network="{}" cx="{:.0}" cy="{:.0}" r="4.5" fill="{colour}"><title>network {}</title></circle>"##,
            esc(net),
            p.x + NODE_W - 10.0 - i as f64 * 12.0,
            p.y + 10.0,
            esc(net)
        );
    }
    g.push_str("</g>");
    g
}

fn legend(t: &Topology, colours: &BTreeMap<String, &'static str>, y: f64) -> String {
    let mut out = String::from(r#"<g class="legend">"#);
    let mut x = MARGIN;
    for s in [
        NodeState::Ready,
        NodeState::Progressing,
        NodeState::Degraded,
        NodeState::CrashLooping,
        NodeState::Held,
        NodeState::Unknown,
    ] {
        let (stroke, fill) = s.colours();
        let _ = write!(
            out,
            r##"<rect x="{x:.0}" y="{y:.0}" width="14" height="12" rx="3" fill="{fill}" stroke="{stroke}" stroke-width="2"/><text x="{:.0}" y="{:.0}" font-size="11" fill="#334">{}</text>"##,
            x + 18.0,
            y + 10.0,
            s.as_str()
        );
        x += 30.0 + s.as_str().len() as f64 * 6.5;
    }
    let y2 = y + 22.0;
    x = MARGIN;
    for net in &t.networks {
        let colour = colours.get(net).copied().unwrap_or("#999");
        let _ = write!(
            out,
            r##"<circle cx="{:.0}" cy="{:.0}" r="5" fill="{colour}"/><text x="{:.0}" y="{:.0}" font-size="11" fill="#334">{}</text>"##,
            x + 6.0,
            y2 + 6.0,
            x + 16.0,
            y2 + 10.0,
            esc(net)
        );
        x += 30.0 + net.chars().count() as f64 * 6.5;
    }
    let y3 = y + 44.0;
    let _ = write!(
        out,
        r##"<rect x="{MARGIN}" y="{y3:.0}" width="26" height="12" fill="none" stroke="{ISOLATED}" stroke-width="2" stroke-dasharray="7 4"/><text x="{:.0}" y="{:.0}" font-size="11" fill="#334">isolation boundary (a red bar marks its bridge) · edges: solid healthy, dashed completed, dotted started</text>"##,
        MARGIN + 32.0,
        y3 + 10.0
    );
    out.push_str("</g>");
    out
}
