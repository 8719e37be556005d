//! Compose interop: export desired state to docker-compose files, and import
//! existing compose files as desired state. Pure apart from reading input
//! files; depends on `desired-state` only, not on the engine code.

pub mod dotenv;
pub mod export;
pub mod import;
pub mod stack;
pub mod text;
pub mod yaml_out;

/// Label key prefix that carries a compose profile (`profile.debug: "true"`).
pub const PROFILE_PREFIX: &str = "profile.";
