//! Compose files: export desired state to docker-compose files, and import
//! existing compose files as desired state.

pub mod export;
pub mod import;
pub mod text;
pub mod yaml_out;
