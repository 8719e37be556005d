//! The picture of a desired state: Services and Jobs by phase (the `phase`
//! label), their dependsOn edges with conditions, the networks each joins and
//! the isolation boundaries. Pure: built from a `DesiredState`, rendered as
//! Graphviz dot, Mermaid or SVG. `lucidctl graph` prints it; the run loop's
//! status page draws the same SVG, coloured by health.

pub mod dot;
pub mod escape;
pub mod mermaid;
pub mod svg;

use desired_state::model::{Kind, Spec};
use desired_state::DesiredState;
use std::collections::{BTreeMap, BTreeSet};

/// The column of resources without a `phase` label.
pub const UNPHASED: &str = "(no phase)";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Topology {
    /// Phases in dependency order: a phase comes after those its members depend on.
    pub phases: Vec<String>,
    /// Services and Jobs, in declaration order.
    pub nodes: Vec<Node>,
    /// One per dependsOn entry: `from` depends on `to`.
    pub edges: Vec<Edge>,
    /// Declared Networks, in declaration order.
    pub networks: Vec<String>,
    pub boundaries: Vec<Boundary>,
    /// The phase of every resource, keyed `Kind/name`.
    pub resource_phases: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub name: String,
    pub phase: String,
    pub networks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// started, healthy or completed.
    pub condition: String,
}

/// An IsolationPolicy: its network, the members kept on it alone, and the bridges on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct Boundary {
    pub network: String,
    pub members: Vec<String>,
    pub bridges: Vec<String>,
}

/// Where a node stands relative to the isolation boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Outside,
    Bridge,
    Member,
}

/// What the page knows about a node; the offline graph knows nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeState {
    #[default]
    Unknown,
    Ready,
    Progressing,
    Degraded,
    CrashLooping,
    Held,
}

impl NodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Unknown => "unknown",
            NodeState::Ready => "ready",
            NodeState::Progressing => "progressing",
            NodeState::Degraded => "degraded",
            NodeState::CrashLooping => "crash-looping",
            NodeState::Held => "held",
        }
    }

    /// Stroke and fill colours.
    pub fn colours(self) -> (&'static str, &'static str) {
        match self {
            NodeState::Unknown => ("#5f6b7a", "#f4f6f8"),
            NodeState::Ready => ("#2e7d32", "#e6f4e7"),
            NodeState::Progressing => ("#1565c0", "#e3eefb"),
            NodeState::Degraded => ("#e65100", "#fff0e0"),
            NodeState::CrashLooping => ("#c62828", "#fde7e7"),
            NodeState::Held => ("#6a1b9a", "#f3e5f7"),
        }
    }
}

pub fn phase_of(labels: &BTreeMap<String, String>) -> String {
    labels
        .get("phase")
        .filter(|p| !p.is_empty())
        .cloned()
        .unwrap_or_else(|| UNPHASED.to_string())
}

impl Topology {
    pub fn from_state(state: &DesiredState) -> Topology {
        let mut t = Topology::default();
        for r in &state.resources {
            let phase = phase_of(&r.metadata.labels);
            t.resource_phases.insert(r.id(), phase.clone());
            match &r.spec {
                Spec::Network(_) => t.networks.push(r.name().to_string()),
                Spec::IsolationPolicy(p) => t.boundaries.push(Boundary {
                    network: p.network.clone(),
                    members: p.members.clone(),
                    bridges: p.bridges.clone(),
                }),
                Spec::Service(w) | Spec::Job(w) => {
                    t.nodes.push(Node {
                        kind: r.kind(),
                        name: r.name().to_string(),
                        phase,
                        networks: w.networks.iter().map(|n| n.name.clone()).collect(),
                    });
                    t.edges.extend(w.depends_on.iter().map(|d| Edge {
                        from: r.name().to_string(),
                        to: d.name.clone(),
                        condition: d.condition.as_str().to_string(),
                    }));
                }
                _ => {}
            }
        }
        t.phases = t.order_phases();
        t
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub fn role(&self, name: &str) -> Role {
        let mut role = Role::Outside;
        for b in &self.boundaries {
            if b.members.iter().any(|m| m == name) {
                return Role::Member;
            }
            if b.bridges.iter().any(|m| m == name) {
                role = Role::Bridge;
            }
        }
        role
    }

    /// The first boundary that lists `name` as a member or bridge.
    pub fn boundary_of(&self, name: &str) -> Option<usize> {
        self.boundaries
            .iter()
            .position(|b| b.members.iter().chain(&b.bridges).any(|m| m == name))
    }

    pub fn is_isolated_network(&self, network: &str) -> bool {
        self.boundaries.iter().any(|b| b.network == network)
    }

    /// Nodes of one phase: outside the boundaries first, then bridges, then
    /// members, so a boundary encloses a contiguous run of boxes.
    pub fn nodes_in(&self, phase: &str) -> Vec<&Node> {
        let mut nodes: Vec<&Node> = self.nodes.iter().filter(|n| n.phase == phase).collect();
        nodes.sort_by_key(|n| {
            (
                self.role(&n.name),
                self.boundary_of(&n.name),
                n.name.clone(),
            )
        });
        nodes
    }

    /// Every phase of any resource, ordered so that a phase follows those its
    /// Services and Jobs depend on (ties, and cycles, in name order).
    fn order_phases(&self) -> Vec<String> {
        let all: BTreeSet<&str> = self.resource_phases.values().map(String::as_str).collect();
        let mut after: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for e in &self.edges {
            let (Some(from), Some(to)) = (self.node(&e.from), self.node(&e.to)) else {
                continue;
            };
            if from.phase != to.phase {
                after.entry(&from.phase).or_default().insert(&to.phase);
            }
        }
        let mut order: Vec<String> = Vec::new();
        let mut left: BTreeSet<&str> = all;
        while !left.is_empty() {
            let ready = left
                .iter()
                .find(|p| {
                    after
                        .get(*p)
                        .is_none_or(|deps| deps.iter().all(|d| !left.contains(d)))
                })
                .or_else(|| left.iter().next())
                .copied();
            let Some(next) = ready else { break };
            left.remove(next);
            order.push(next.to_string());
        }
        order
    }

    /// The phases that have Services or Jobs: the graph's columns.
    pub fn columns(&self) -> Vec<&str> {
        self.phases
            .iter()
            .map(String::as_str)
            .filter(|p| self.nodes.iter().any(|n| n.phase == *p))
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests;
