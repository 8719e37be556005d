//! Flags to the library's one entry point (`reconcilers::context`), and its
//! errors to one clear line. Validation runs before any engine call.

use crate::cli::{EngineArgs, SourceArgs};
use crate::output;
use reconcilers::context::{LoadError, Loaded};
use reconcilers::engine::{Engine, EngineError};

/// Loads, validates and prepares; prints the diagnostics.
pub fn load(source: &SourceArgs, engine: &EngineArgs) -> Result<Loaded, String> {
    match reconcilers::context::load(&source.load_options(), &engine.target()) {
        Ok(loaded) => {
            output::print_diagnostics(&loaded.warnings);
            Ok(loaded)
        }
        Err(e) => {
            if let LoadError::Invalid { errors, warnings } = &e {
                output::print_diagnostics(warnings);
                output::print_diagnostics(errors);
            }
            Err(e.to_string())
        }
    }
}

pub async fn connect(engine: &EngineArgs) -> Result<Engine, String> {
    connect_typed(engine).await.map_err(|e| e.to_string())
}

pub async fn connect_typed(engine: &EngineArgs) -> Result<Engine, EngineError> {
    reconcilers::context::connect(&engine.target()).await
}
