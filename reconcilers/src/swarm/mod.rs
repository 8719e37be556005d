//! `--target swarm`: the same desired state on a Docker Swarm.
//!
//! Swarm runs the tasks, spreads them over nodes, rolls updates start-first
//! and rolls them back; lucidctl adds what it lacks: dependency waves gated
//! on task health across the whole system, a plan with typed reasons and
//! field lines, configs and secrets that change by content hash (Swarm
//! cannot update them in place), isolation enforcement, and held failed
//! revisions. The flow is the container target's: `render` (pure) ->
//! `plan` (pure) -> `apply` (the only writer, through `SwarmApi`).

pub mod apply;
pub mod plan;
pub mod render;

pub use crate::swarm_spec::{model, view};

pub use model::*;
