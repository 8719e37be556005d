use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "lucidctl",
    version,
    about = "Reconcile Docker hosts to desired state committed to git"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check desired-state files without touching any engine.
    Validate(ValidateArgs),
    /// Show what apply would change, and why, without changing anything.
    /// Exit 0: no changes; 2: changes; 1: error.
    Diff(DiffArgs),
    /// Converge the engine to the desired state: build, pull, create, recreate, start,
    /// in dependency order, gated on health.
    Apply(ApplyArgs),
    /// Remove the managed containers and networks the files declare (volumes only with --volumes).
    Delete(DeleteArgs),
    /// Keep the engine equal to the desired state: reconcile on file changes, engine
    /// events, new git commits and a periodic resync.
    Run(RunArgs),
    /// Show the run loop's per-resource status.
    Status(StatusArgs),
    /// Build the Image resources whose build context changed (all with --force).
    Build(BuildArgs),
    /// Write docker-compose files for the desired state.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Convert docker-compose files into desired-state files.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Policy checks for CI pipelines.
    #[command(subcommand)]
    Verify(VerifyCommand),
    /// Registry chores.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Generate, check and list SecretSet env files. Values are never printed.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Check the engine host: reachable, API, BuildKit, SSH, architecture, disk, base images.
    /// Exit 0 when every required check passes, 1 otherwise.
    Doctor(DoctorArgs),
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Fail when the engine's data root has less free space than this.
    #[arg(long, value_name = "GB", default_value_t = 20.0)]
    pub min_free_gb: f64,
    /// The platform the images need (default: what the Image resources declare), e.g. linux/arm64.
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Do not ask registries whether base images exist; only look on the engine.
    #[arg(long)]
    pub offline: bool,
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Write every SecretSet's env file: keep existing values, generate missing ones.
    Generate(SecretsArgs),
    /// Verify every env file exists with no empty, missing or placeholder value.
    Check(SecretsArgs),
    /// Show keys, value lengths and file ages; never values.
    List(SecretsArgs),
}

#[derive(Args, Debug)]
pub struct SecretsArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Where env files live (default: environment/ beside the first -f directory). Keep it out of git.
    #[arg(long, value_name = "DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// Replace this generated key with a fresh value (repeatable).
    #[arg(long, value_name = "KEY")]
    pub rotate: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct SourceArgs {
    /// A file, or a directory of *.yaml, *.yml and *.json files. Repeat to layer overlays.
    #[arg(short = 'f', long = "filename", value_name = "PATH", default_values = ["configs/lucid", "configs/lucid/overlays/local"])]
    pub paths: Vec<PathBuf>,
    /// Also read subdirectories of directories given with -f.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Directory that build contexts and config files may not leave (default: the git work tree).
    #[arg(long, value_name = "DIR")]
    pub state_root: Option<PathBuf>,
}

impl SourceArgs {
    pub fn load_options(&self) -> desired_state::LoadOptions {
        desired_state::LoadOptions {
            paths: self.paths.clone(),
            recursive: self.recursive,
            root: self.state_root.clone(),
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    /// Docker engine: unix:///path, tcp://host:port or ssh://user@host[:port] (default: $DOCKER_HOST, else the local socket).
    #[arg(short = 'H', long, env = "DOCKER_HOST", value_name = "URL")]
    pub host: Option<String>,
    /// With ssh://, the engine socket on the remote host.
    #[arg(long, value_name = "PATH", default_value = reconcilers::remote::DEFAULT_REMOTE_SOCKET)]
    pub remote_socket: String,
    /// With ssh://, an ssh config file to use instead of ~/.ssh/config (like `ssh -F`).
    #[arg(long, env = "LUCID_SSH_CONFIG", value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// Scopes ownership and prune, as compose's project name does.
    #[arg(short = 'p', long, default_value = "lucid")]
    pub project: String,
    /// Prepended to every Docker object name, to run a second copy beside the first.
    #[arg(long, default_value = "", value_name = "PREFIX")]
    pub name_prefix: String,
    /// Where secret env files live (default: environment/ beside the first -f directory).
    #[arg(long, value_name = "DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// Directory on the engine host for config files (bind-mounted), env files and a compose copy, under <DIR>/<project>/.
    #[arg(long, value_name = "DIR", default_value = "/opt/lucid/production")]
    pub files_dir: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// Only resources with this label (repeatable, all must match), plus what they depend on.
    #[arg(short = 'l', long = "selector", value_name = "KEY=VALUE", value_parser = parse_selector)]
    pub selector: Vec<(String, String)>,
    /// Remove managed objects of this project that the files no longer declare.
    #[arg(long)]
    pub prune: bool,
    /// With --prune, also remove managed volumes. Their data is lost.
    #[arg(long, requires = "prune")]
    pub prune_volumes: bool,
}

impl PlanArgs {
    pub fn options(&self) -> reconcilers::plan::PlanOptions {
        reconcilers::plan::PlanOptions {
            selector: self.selector.clone(),
            prune: self.prune,
            prune_volumes: self.prune_volumes,
            ..Default::default()
        }
    }
}

fn parse_selector(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Longest wait for one health check, job or dependency, e.g. 90s or 5m.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// Print the plan and change nothing (exit 0: no changes, 2: changes).
    #[arg(long)]
    pub dry_run: bool,
    /// Fail at once if another lucidctl holds the engine lock, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
    /// Mutating engine calls in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Also remove the declared volumes. Their data is lost.
    #[arg(long)]
    pub volumes: bool,
    /// Fail at once if another lucidctl holds the engine lock.
    #[arg(long)]
    pub no_wait: bool,
}

pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    s.parse::<desired_state::model::DurationSpec>().map(|d| d.0)
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Only Images with this label, or used by Services with it (repeatable).
    #[arg(short = 'l', long = "selector", value_name = "KEY=VALUE", value_parser = parse_selector)]
    pub selector: Vec<(String, String)>,
    /// Build even when the content hash says the image is up to date.
    #[arg(long)]
    pub force: bool,
}

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Delete every tag of a namespace's repositories (by digest) and report them.
    Prune(RegistryPruneArgs),
}

#[derive(Args, Debug)]
pub struct RegistryPruneArgs {
    /// Registry address, e.g. 127.0.0.1:5000 or https://registry.example.org.
    #[arg(long)]
    pub registry: String,
    /// Repository prefix, e.g. pickme/lucid.
    #[arg(long)]
    pub namespace: String,
    /// List what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove local images of that namespace and the engine's build cache.
    #[arg(long)]
    pub local: bool,
    /// The engine for --local.
    #[arg(short = 'H', long, env = "DOCKER_HOST", value_name = "URL")]
    pub host: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum VerifyCommand {
    /// IsolationPolicy: desired topology, forbidden patterns in the source tree and,
    /// with --host, which containers are actually attached to the isolated network.
    Isolation(VerifyIsolationArgs),
}

#[derive(Args, Debug)]
pub struct VerifyIsolationArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Root of the source tree the policies' paths are relative to (default: each policy's own directory).
    // `--source` is how issue 8 and the build plan spell it.
    #[arg(long, visible_alias = "source", value_name = "DIR")]
    pub source_dir: Option<PathBuf>,
    /// Also check the live engine.
    #[arg(short = 'H', long, value_name = "URL")]
    pub host: Option<String>,
    /// Prefix the project's Docker objects carry (as given to apply).
    #[arg(long, default_value = "")]
    pub name_prefix: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Reconcile at least this often, even without a trigger.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub resync: std::time::Duration,
    /// Take the desired state from this git repository instead of local files.
    #[arg(long, value_name = "URL")]
    pub git: Option<String>,
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// Directory inside the repository holding the desired state (repeat for overlays).
    #[arg(long = "path", value_name = "DIR", default_values = ["configs/lucid"])]
    pub git_paths: Vec<PathBuf>,
    /// How often to fetch the git source.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub poll: std::time::Duration,
    /// Where the git source is cloned.
    #[arg(long, value_name = "DIR", default_value = "/var/cache/lucidctl/git")]
    pub cache_dir: PathBuf,
    /// Serve /status, /healthz and /metrics here.
    #[arg(long, default_value = "127.0.0.1:9797", value_name = "ADDR")]
    pub listen: String,
    /// Longest wait for one health check, job or dependency.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// Log lines on stderr as plain text or as one JSON object per line.
    #[arg(long, value_enum, default_value_t)]
    pub log_format: crate::logging::LogFormat,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Address of a running `lucidctl run`.
    #[arg(long, default_value = "127.0.0.1:9797", value_name = "ADDR")]
    pub listen: String,
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// docker-compose.<phase>.yml per phase label and docker-compose.master.yml (or one file per selection).
    Compose(ExportComposeArgs),
}

#[derive(Args, Debug)]
pub struct ExportComposeArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Only resources with this label, plus what they depend on; writes one file.
    #[arg(short = 'l', long = "selector", value_name = "KEY=VALUE", value_parser = parse_selector)]
    pub selector: Vec<(String, String)>,
    /// Output directory.
    #[arg(
        short = 'o',
        long = "output-dir",
        value_name = "DIR",
        default_value = "configs/docker"
    )]
    pub output_dir: PathBuf,
    /// Where the env files live; compose files reference them by relative path.
    #[arg(long, value_name = "DIR")]
    pub secrets_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Convert compose files (v2, v3, Compose Specification) into lucid/v1alpha1 documents.
    Compose(ImportComposeArgs),
}

#[derive(Args, Debug)]
pub struct ImportComposeArgs {
    /// Compose files, merged in order as `docker-compose -f a -f b` does.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output directory for the desired-state files.
    #[arg(
        short = 'o',
        long = "output-dir",
        value_name = "DIR",
        default_value = "."
    )]
    pub output_dir: PathBuf,
    /// Convert what is supported and list the rest, exiting 0.
    #[arg(long)]
    pub allow_unsupported: bool,
}
