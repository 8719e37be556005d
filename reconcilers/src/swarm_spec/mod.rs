//! The swarm target's pure data: what a service, config or secret should be
//! (`model`) and what the manager holds, reduced to the declared fields
//! (`view`). Both the planner (`swarm`) and the engine's bollard mapping
//! (`engine::swarm`) read them, so they sit below both.

pub mod model;
pub mod view;
