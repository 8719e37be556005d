//! Flags to the library's one entry point (`reconcilers::context`), and its
//! errors to one clear line. Validation runs before anything from the files
//! reaches the engine.

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

/// `load`, then `connect`; for a local or TCP engine the two overlap: the
/// engine answers the version probe while the files are parsed. Nothing from
/// the files reaches the engine before they validate, and invalid files are
/// reported as such whatever the engine does. An `ssh://` engine is connected
/// only after the files validate: bad input opens no connection to a host.
pub async fn load_and_connect(
    source: &SourceArgs,
    engine: &EngineArgs,
) -> Result<(Loaded, Engine), String> {
    let target = engine.target();
    if reconcilers::engine::resolve_host(target.host.as_deref()).starts_with("ssh://") {
        let loaded = load(source, engine)?;
        return Ok((loaded, connect(engine).await?));
    }
    let connecting = tokio::spawn(async move { reconcilers::context::connect(&target).await });
    let loaded = load(source, engine);
    let connected = connecting.await;
    let loaded = loaded?;
    match connected {
        Ok(Ok(e)) => Ok((loaded, e)),
        Ok(Err(e)) => Err(engine_error(&e)),
        Err(e) => Err(format!("connecting to the engine stopped: {e}")),
    }
}

pub async fn connect(engine: &EngineArgs) -> Result<Engine, String> {
    connect_typed(engine).await.map_err(|e| engine_error(&e))
}

/// An engine error as a person reads it: the message, with --verbose the
/// chain of causes, and the next step to take when there is one.
pub fn engine_error(e: &EngineError) -> String {
    let mut text = e.to_string();
    if controller::terminal::verbose() {
        for cause in e.causes() {
            text.push_str("\n  caused by: ");
            text.push_str(&cause);
        }
    }
    if let Some(hint) = e.hint() {
        text.push_str("\n  fix: ");
        text.push_str(&hint);
    }
    text
}

pub async fn connect_typed(engine: &EngineArgs) -> Result<Engine, EngineError> {
    reconcilers::context::connect(&engine.target()).await
}
