//! What every engine command does first: load and validate, read inputs,
//! connect. Each step fails with one clear message and exit code 1.

use crate::cli::{EngineArgs, SourceArgs};
use crate::output;
use desired_state::DesiredState;
use reconcilers::apply::files::HostFile;
use reconcilers::build::PreparedBuild;
use reconcilers::engine::{ConnectOptions, Engine, EngineError, ObserveScope};
use reconcilers::prepare;
use reconcilers::render::Inputs;

pub struct Loaded {
    pub state: DesiredState,
    pub builds: Vec<PreparedBuild>,
    pub inputs: Inputs,
    /// What the engine host should hold: config files, env files, the compose copy.
    pub host_files: Vec<HostFile>,
}

/// Validation runs before any engine call: bad input never reaches Docker.
pub fn load(source: &SourceArgs, engine: &EngineArgs) -> Result<Loaded, String> {
    let (state, warnings) = match desired_state::load_valid(&source.load_options()) {
        Ok(ok) => ok,
        Err(invalid) => {
            output::print_diagnostics(&invalid.warnings);
            output::print_diagnostics(&invalid.errors);
            return Err(format!(
                "invalid desired state: {} error(s); nothing was changed",
                invalid.errors.len()
            ));
        }
    };
    output::print_diagnostics(&warnings);
    let configs = prepare::read_config_files(&state).map_err(|e| e.to_string())?;
    let builds = reconcilers::build::prepare(&state).map_err(|e| e.to_string())?;
    let secrets_dir = engine.secrets_dir.clone().unwrap_or_else(|| {
        prepare::default_secrets_dir(
            source
                .paths
                .first()
                .map(|p| p.as_path())
                .unwrap_or(std::path::Path::new(".")),
        )
    });
    let secrets = prepare::read_secrets(&state, &secrets_dir).map_err(|e| e.to_string())?;
    let inputs = Inputs {
        project: engine.project.clone(),
        name_prefix: engine.name_prefix.clone(),
        revision: None,
        files_dir: engine.files_dir.clone(),
        config_hashes: configs
            .iter()
            .map(|(k, v)| (k.clone(), v.hash.clone()))
            .collect(),
        secrets,
        build_hashes: builds
            .iter()
            .map(|b| (b.reference.clone(), b.hash.clone()))
            .collect(),
        build_order: builds.iter().map(|b| b.reference.clone()).collect(),
    };
    let host_files = reconcilers::apply::files::host_files(&state, &inputs, &configs);
    Ok(Loaded {
        state,
        builds,
        inputs,
        host_files,
    })
}

pub async fn connect(engine: &EngineArgs) -> Result<Engine, String> {
    connect_typed(engine).await.map_err(|e| e.to_string())
}

pub async fn connect_typed(engine: &EngineArgs) -> Result<Engine, EngineError> {
    let options = ConnectOptions {
        ssh_config: engine.ssh_config.clone(),
        remote_socket: Some(engine.remote_socket.clone()),
    };
    Engine::connect_with(engine.host.as_deref(), &options).await
}

/// Containers worth inspecting: those the files name (to spot unmanaged conflicts).
pub fn scope(loaded: &Loaded) -> ObserveScope {
    reconcilers::render::observe_scope(&loaded.state, &loaded.inputs)
}
