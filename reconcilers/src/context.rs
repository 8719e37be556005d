//! The one entry point every engine command and the run loop start from:
//! load and validate the files, read config files and secrets, prepare the
//! builds (host files are rendered on first use); and connect to the engine.
//! Validation runs before anything from the files reaches the engine, so bad
//! input never reaches Docker.

use crate::apply::{ApplyContext, ApplyOptions, Builder, Progress};
use crate::build::{PrepareBuildError, PreparedBuild};
use crate::engine::{ConnectOptions, Engine, EngineApi, EngineError};
use crate::hostfiles::{HostFile, HostFiles};
use crate::observed::ObserveScope;
use crate::prepare::ConfigContent;
use crate::prepare::{self, PrepareError};
use crate::render::Inputs;
use desired_state::model::{Kind, Spec};
use desired_state::{DesiredState, Diagnostic, LoadOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Where and as what the desired state is applied.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// `unix://`, `tcp://` or `ssh://`; None: `DOCKER_HOST`, else the local socket.
    pub host: Option<String>,
    pub connect: ConnectOptions,
    /// Scopes ownership and prune, as compose's project name does.
    pub project: String,
    /// Prepended to every Docker object name.
    pub name_prefix: String,
    /// Where the SecretSets' env files are (default: beside the first path).
    pub secrets_dir: Option<PathBuf>,
    /// Host directory for config files, env files and the compose copy.
    pub files_dir: PathBuf,
    /// `--age-identity`: opens the sealed copies (`sealed/` beside the first
    /// path) of env files that are absent, and checks those that are present.
    pub age_identity: Option<PathBuf>,
}

/// A validated desired state with everything rendering needs.
pub struct Loaded {
    pub state: DesiredState,
    pub builds: Vec<PreparedBuild>,
    pub inputs: Inputs,
    /// ConfigFile contents by name, read and hashed at load.
    pub configs: BTreeMap<String, ConfigContent>,
    /// What the engine host should hold, rendered on first use: a dry run never
    /// needs it, and rendering the compose copy is a fifth of loading Lucid.
    host_files: OnceLock<Vec<HostFile>>,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("invalid desired state: {} error(s); nothing was changed", errors.len())]
    Invalid {
        errors: Vec<Diagnostic>,
        warnings: Vec<Diagnostic>,
    },
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    #[error(transparent)]
    Build(#[from] PrepareBuildError),
}

pub fn load(source: &LoadOptions, target: &Target) -> Result<Loaded, LoadError> {
    let (state, warnings) =
        desired_state::load_valid(source).map_err(|invalid| LoadError::Invalid {
            errors: invalid.errors,
            warnings: invalid.warnings,
        })?;
    let configs = prepare::read_config_files(&state)?;
    let builds = crate::build::prepare(&state)?;
    let first = source
        .paths
        .first()
        .map(|p| p.as_path())
        .unwrap_or(std::path::Path::new("."));
    let secrets_dir = target
        .secrets_dir
        .clone()
        .unwrap_or_else(|| prepare::default_secrets_dir(first));
    let sealing = crate::sealed::Sealing {
        dir: crate::sealed::default_sealed_dir(first),
        identity: target.age_identity.clone(),
    };
    let secrets = prepare::read_secrets(&state, &secrets_dir, &sealing)?;
    let inputs = Inputs {
        project: target.project.clone(),
        name_prefix: target.name_prefix.clone(),
        revision: None,
        files_dir: target.files_dir.clone(),
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
        externals: crate::render::external_names(&state),
        ..Inputs::default()
    };
    Ok(Loaded::new(state, builds, inputs, configs, warnings))
}

pub async fn connect(target: &Target) -> Result<Engine, EngineError> {
    Engine::connect_with(target.host.as_deref(), &target.connect).await
}

impl Loaded {
    pub fn new(
        state: DesiredState,
        builds: Vec<PreparedBuild>,
        inputs: Inputs,
        configs: BTreeMap<String, ConfigContent>,
        warnings: Vec<Diagnostic>,
    ) -> Loaded {
        Loaded {
            state,
            builds,
            inputs,
            configs,
            host_files: OnceLock::new(),
            warnings,
        }
    }

    /// What the engine host should hold: config files, env files, the compose copy.
    pub fn host_files(&self) -> &[HostFile] {
        self.host_files
            .get_or_init(|| desired_host_files(&self.state, &self.inputs, &self.configs))
    }

    /// Containers worth inspecting: those the files name (to spot unmanaged conflicts).
    pub fn scope(&self) -> ObserveScope {
        crate::render::observe_scope(&self.state, &self.inputs)
    }

    pub fn apply_context<'a>(
        &'a self,
        engine: &'a dyn EngineApi,
        files: &'a dyn HostFiles,
        builder: &'a dyn Builder,
        progress: &'a dyn Progress,
        options: ApplyOptions,
    ) -> ApplyContext<'a> {
        ApplyContext {
            engine,
            desired: &self.state,
            inputs: &self.inputs,
            host_files: self.host_files(),
            files,
            builder,
            progress,
            options,
        }
    }
}

/// Everything the host should hold for this desired state: config files at
/// the paths containers mount, env files (0600) and the compose copy.
pub fn desired_host_files(
    state: &DesiredState,
    inputs: &Inputs,
    configs: &BTreeMap<String, ConfigContent>,
) -> Vec<HostFile> {
    let mut out: Vec<HostFile> = configs
        .iter()
        .map(|(name, c)| HostFile {
            what: format!("ConfigFile/{name}"),
            path: PathBuf::from(inputs.config_path(name)),
            bytes: c.bytes.clone(),
            mode: c.mode,
            owner: None,
            exclusive_dir: false,
        })
        .collect();
    out.extend(crate::secret_files::host_files(state, inputs));
    let env_dir = inputs.host_dir().join("environment");
    for r in state.of_kind(Kind::SecretSet) {
        let (Spec::SecretSet(s), Some(values)) = (&r.spec, inputs.secrets.get(r.name())) else {
            continue;
        };
        let text = crate::secrets::env_file_text(
            r.name(),
            values.iter().map(|(k, v)| (k.as_str(), v.expose())),
        );
        out.push(HostFile {
            what: format!("SecretSet/{} env file", r.name()),
            path: env_dir.join(&s.file),
            bytes: text.into_bytes(),
            mode: 0o600,
            owner: None,
            exclusive_dir: false,
        });
    }
    let compose_dir = inputs.host_dir().join("compose");
    let options = lucid_compose::export::ExportOptions {
        output_dir: compose_dir.clone(),
        secrets_dir: env_dir,
        selector: Vec::new(),
        sources: vec![format!("lucidctl's copy for project {}", inputs.project)],
        name_prefix: inputs.name_prefix.clone(),
    };
    for f in lucid_compose::export::export(state, &options) {
        out.push(HostFile {
            what: format!("compose copy {}", f.path.display()),
            path: compose_dir.join(&f.path),
            bytes: f.content.into_bytes(),
            mode: 0o644,
            owner: None,
            exclusive_dir: false,
        });
    }
    out
}
