//! Observe the engine, plan against the desired state, act on the plan.
//!
//! Data flows one way: files (desired-state) -> render -> plan -> engine.
//! `engine` is the only module that speaks to Docker; `remote` carries it
//! (and host files) over SSH.

pub mod apply;
pub mod build;
pub mod context;
pub mod doctor;
pub mod engine;
pub mod exec;
pub mod fields;
pub mod graph;
pub mod hash;
pub mod hostfiles;
pub mod labels;
pub mod observe;
pub mod observed;
pub mod plan;
pub mod prepare;
pub mod registry;
pub mod remote;
pub mod render;
pub mod run;
pub mod runtime_options;
pub mod sealed;
pub mod secret_files;
pub mod secrets;
pub mod swarm;
pub mod swarm_spec;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod updates;
