//! The command line, as clap reads it. Every help text here is also the
//! command reference (docs/reference.md), the man pages (docs/man/) and the
//! shell completions: `cargo run -p controller --example gen-docs` regenerates
//! the committed files after a change, and controller/tests/docs.rs fails
//! until it is run.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Reconcile Docker hosts to desired state committed to git.
///
/// lucidctl reads lucid/v1alpha1 desired-state files (YAML, or strict JSON in
/// .json files), observes a Docker engine through its API (the local socket,
/// tcp:// or ssh://), plans every change with a reason, and converges in
/// dependency order, gated on health.
///
/// Exit status: 0 success; 1 error, invalid input or a usage error; 2 the
/// plan has changes (diff, apply --dry-run).
#[derive(Parser, Debug)]
#[command(name = "lucidctl", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Show more: the chain of causes under an error, and every output line
    /// of image builds (as LUCID_VERBOSE does).
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check desired-state files without touching any engine.
    ///
    /// Loads every -f path, merges the overlays and runs every validation rule.
    /// Prints the number of resources per kind, or every problem as
    /// `file:line:column: Kind/name: field.path: message` followed by a `fix:`
    /// line. Warnings do not fail. Exit 0 when valid, 1 otherwise.
    #[command(
        after_help = "Examples:\n  lucidctl validate\n  lucidctl validate -f configs/lucid -f configs/lucid/overlays/pi -o json"
    )]
    Validate(ValidateArgs),
    /// Draw the desired state: phases, dependsOn edges, networks and isolation boundaries.
    ///
    /// Needs only the files (validated as by validate), no engine. Services and
    /// Jobs are grouped by their `phase` label, phases ordered so that
    /// dependencies come first; each dependsOn entry is an edge from the
    /// dependent to its dependency, labelled with its condition (started,
    /// healthy or completed); each IsolationPolicy is a dashed red boundary
    /// around its members, with its bridges marked. dot is Graphviz input,
    /// mermaid renders in Markdown, svg is the drawing the run loop's status
    /// page shows (there coloured by health).
    #[command(
        after_help = "Examples:\n  lucidctl graph | dot -Tpng > lucid.png\n  lucidctl graph -f configs/lucid -o svg > docs/lucid.svg\n  lucidctl graph -o mermaid   # paste into a README inside ```mermaid"
    )]
    Graph(GraphArgs),
    /// Describe a kind or one of its fields, from the same schema as crd-schemas/.
    ///
    /// Prints the field's type, whether it is required, its default, its
    /// allowed values (with their meaning), its description and its child
    /// fields. Lists are walked into: `Service.spec.ports.protocol` is the
    /// protocol of each port. Needs no files and no engine. An unknown kind or
    /// field exits 1 and lists what exists.
    #[command(
        after_help = "Examples:\n  lucidctl explain Service\n  lucidctl explain Service.spec.healthcheck.interval\n  lucidctl explain isolationpolicy.spec"
    )]
    Explain(ExplainArgs),
    /// Show what apply would change, and why, without changing anything.
    ///
    /// Validates the files, observes the engine and prints the plan: `+`
    /// create, build or pull; `±` recreate; `~` start, connect or disconnect;
    /// `-` remove; each with its reason and the fields that differ. Secret
    /// values print as `(sensitive)`. Colour only on a terminal, and never
    /// with NO_COLOR set.
    ///
    /// Exit 0: no changes; 2: changes; 1: an error, or a conflict (such as an
    /// unmanaged container holding a declared name).
    #[command(
        after_help = "Examples:\n  lucidctl diff\n  lucidctl diff -H ssh://pi@lucid-pi.local -o json | jq '.changes[].name'"
    )]
    Diff(DiffArgs),
    /// Converge the engine to the desired state, in dependency order, gated on health.
    ///
    /// Validates, prints the plan as diff does (not with --quiet), pulls and
    /// builds images, then executes the plan and plans again until nothing is
    /// left. A dependent starts only when its
    /// `dependsOn` condition holds (started, healthy or completed). A recreate
    /// keeps the old container, stopped and renamed `<name>.prev`, until the
    /// new one is healthy, and restores it otherwise. An engine-side lock per
    /// project keeps two applies (or an apply and a run loop) from acting at
    /// once.
    ///
    /// Exit 0 when converged, 1 on any failure. With --dry-run it prints exactly
    /// what `diff` prints (every change with the operations that would run) and
    /// exits as diff does: 0 nothing to change, 2 changes, 1 conflicts or errors.
    #[command(
        after_help = "Examples:\n  lucidctl apply\n  lucidctl apply -H ssh://pi@lucid-pi.local --timeout 10m\n  lucidctl apply --dry-run\n  lucidctl apply --quiet --progress=plain   # CI logs"
    )]
    Apply(ApplyArgs),
    /// Remove the managed containers and networks the files declare (volumes only with --volumes).
    ///
    /// Only objects labelled as managed by lucidctl for this project (-p) are
    /// removed; a container with a declared name that lucidctl does not own
    /// is left alone. Takes the project's engine lock, like apply. Exit 1 if
    /// any removal failed.
    #[command(
        after_help = "Examples:\n  lucidctl delete\n  lucidctl delete --volumes   # also the data"
    )]
    Delete(DeleteArgs),
    /// Keep the engine equal to the desired state: the controller loop.
    ///
    /// A level-triggered loop. Engine events on managed objects, file changes
    /// in the -f directories, new commits on --git's branch and the --resync
    /// timer wake it; every pass observes, plans and converges like apply,
    /// under the same engine lock. It repairs removed, stopped and hand-edited
    /// containers, disconnects its own containers attached by hand to an
    /// isolated network (logged as POLICY VIOLATION; a container it does not
    /// manage there is reported the same way and left for a person to
    /// remove), makes anew a container whose every start fails on a task the
    /// engine kept from before a daemon restart, and recreates removed
    /// networks and volumes (a lost volume is logged as DATA LOSS). Invalid or empty
    /// input changes nothing: the last good state keeps running. A Service
    /// restarted 5 times in 10 minutes is held back with exponential backoff
    /// (crash-looping).
    ///
    /// Serves on --listen: / (a status page that updates itself: resources by
    /// phase and state, the dependency graph coloured by health with the
    /// networks and isolation boundaries, held rollouts, recent events),
    /// /status (JSON), /events (the last 100 events as JSON), /healthz (503
    /// while the engine is unreachable) and /metrics (Prometheus). SIGTERM or
    /// Ctrl-C finishes the pass in progress and exits 0.
    #[command(
        after_help = "Examples:\n  lucidctl run\n  lucidctl run --git https://git.example.org/lucid.git --branch main --notify https://hooks.example.org/lucid"
    )]
    Run(RunArgs),
    /// Show the run loop's per-resource status.
    ///
    /// Asks a running `lucidctl run` at --listen for /status and prints the
    /// applied git revision, the last reconcile and its error, whether the
    /// engine is disconnected, and each resource's state (ready, progressing,
    /// degraded or crash-looping) with its last error. Exit 1 when nothing
    /// answers.
    #[command(
        after_help = "Examples:\n  lucidctl status\n  lucidctl status --listen 127.0.0.1:9797 -o json"
    )]
    Status(StatusArgs),
    /// Show the run loop's recent events (rollbacks, held rollouts, drift repaired, violations, outages).
    ///
    /// Asks a running `lucidctl run` at --listen for GET /events (the last
    /// 100) and prints one line each: time, severity, event, resource,
    /// message. With -f, keeps asking every 2 s and prints new ones as they
    /// come, until Ctrl-C. Exit 1 when nothing answers.
    #[command(
        after_help = "Examples:\n  lucidctl events\n  lucidctl events -f --listen 127.0.0.1:9797\n  lucidctl events -o json | jq '.events[] | select(.severity == \"critical\")'"
    )]
    Events(EventsArgs),
    /// Build the Image resources whose build context changed (all with --force).
    ///
    /// An Image is up to date when the `io.lucidctl.build-hash` label of the
    /// tagged image equals the hash of its build: the context after
    /// .dockerignore, the Dockerfile, args, target, platform, and the hashes
    /// of the Images it is built FROM. Builds go through the Engine API with
    /// BuildKit, falling back to the classic builder; `push: true` pushes with
    /// the docker CLI's credentials (DOCKER_CONFIG). A platform whose
    /// architecture differs from the engine's is refused before building
    /// (LUCID_ALLOW_EMULATION overrides). Step output is shown with
    /// --verbose (or LUCID_VERBOSE set).
    #[command(after_help = "Examples:\n  lucidctl build\n  lucidctl build --force --verbose")]
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
    ///
    /// Each check prints PASS, FAIL, WARN or SKIP, the value found and, when
    /// it fails, what would fix it: desired state valid, SSH reachable and
    /// host key known (ssh:// hosts), engine reachable, daemon running, API
    /// version (1.41 or newer), BuildKit, architecture against the Images' platform, free
    /// space on the engine's data root, Compose v2 on the host (advice only),
    /// base images present on the engine or resolvable by it. Exit 0 when
    /// every required check passes, 1 otherwise.
    #[command(
        after_help = "Examples:\n  lucidctl doctor\n  lucidctl doctor -H ssh://pi@lucid-pi.local --platform linux/arm64"
    )]
    Doctor(DoctorArgs),
    /// Notification chores.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Print a Service's or Job's container output, through the same engine connection as apply.
    ///
    /// NAME is the resource's name in the files (the container's name adds
    /// --name-prefix). Works over ssh:// like every other command. stdout
    /// and stderr of the container go to lucidctl's stdout and stderr;
    /// control characters are escaped. Exit 1 when NAME is not a Service or
    /// Job of the desired state or its container does not exist.
    #[command(
        after_help = "Examples:\n  lucidctl logs lucid-api-gateway --tail 100\n  lucidctl logs lucid-tron-payment -f --since 10m -H ssh://pi@lucid-pi.local\n\nHere -f is --follow, as in docker logs; name files with --filename.",
        mut_arg("paths", |a| a.short(None))
    )]
    Logs(LogsArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    ///
    /// bash: `lucidctl completions bash >
    /// ~/.local/share/bash-completion/completions/lucidctl`. zsh: `lucidctl
    /// completions zsh > ~/.zfunc/_lucidctl`, with ~/.zfunc in $fpath before
    /// compinit. fish: `lucidctl completions fish >
    /// ~/.config/fish/completions/lucidctl.fish`.
    #[command(
        after_help = "Examples:\n  lucidctl completions bash > ~/.local/share/bash-completion/completions/lucidctl"
    )]
    Completions(CompletionsArgs),
    /// Write the man pages (lucidctl.1 and one per subcommand) into a directory.
    ///
    /// For example `lucidctl man ~/.local/share/man/man1`, then `man lucidctl`.
    #[command(
        after_help = "Examples:\n  lucidctl man ~/.local/share/man/man1",
        hide = true
    )]
    Man(ManArgs),
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GraphFormat {
    /// Graphviz dot (render with `dot -Tsvg`).
    #[default]
    Dot,
    /// A standalone SVG drawing, the same as the status page's.
    Svg,
    /// A Mermaid flowchart, for Markdown.
    Mermaid,
}

#[derive(Args, Debug)]
pub struct GraphArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        value_enum,
        default_value_t
    )]
    pub output: GraphFormat,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// KIND or KIND.field.path, e.g. Service.spec.healthcheck (the kind in any case, fields as written in files).
    #[arg(value_name = "KIND[.FIELD...]")]
    pub path: String,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Directory to write the pages into; created if missing.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The Service or Job, as named in the files.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Keep printing new output until the container stops (or Ctrl-C).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only output newer than this, e.g. 10m or 2h.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<std::time::Duration>,
    /// Only the last N lines, then follow (with -f).
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
    /// Prefix each line with the engine's timestamp.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Subcommand, Debug)]
pub enum NotifyCommand {
    /// Send one `test` event to each target, as `run --notify` would, and report each delivery.
    ///
    /// Targets are written as for `run --notify`: a webhook URL (JSON, ntfy,
    /// Slack or Discord by host or prefix) or secret:SECRETSET/KEY, file:PATH,
    /// env:VAR. secret: targets are read from the desired state (-f) and its
    /// SecretSet env files. One attempt per target with a 5 s timeout; URLs
    /// print as scheme and host only. Exit 0 when every target took it, 1
    /// otherwise.
    #[command(
        after_help = "Examples:\n  lucidctl notify test --notify https://ntfy.sh/my-lucid-alerts\n  lucidctl notify test --notify secret:lucid-ops/SLACK_WEBHOOK_URL"
    )]
    Test(NotifyTestArgs),
}

#[derive(Args, Debug)]
pub struct NotifyTestArgs {
    /// Where to send the test event (repeatable).
    #[arg(long = "notify", value_name = "TARGET", required = true)]
    pub notify: Vec<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Fail the disk check when the engine's data root has less free space than this many GiB.
    #[arg(long, value_name = "GB", default_value_t = 20.0)]
    pub min_free_gb: f64,
    /// The platform the Images need, e.g. linux/arm64, checked against the
    /// engine's architecture (default: what the Image resources declare).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Do not ask registries whether base images exist; only look on the engine.
    #[arg(long)]
    pub offline: bool,
    /// Output format of the checklist.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        value_enum,
        default_value_t
    )]
    pub output: OutputFormat,
}

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Write every SecretSet's env file: keep existing values, generate missing ones.
    ///
    /// Files are written atomically with mode 0600; generated values come
    /// from the OS random generator, as each SecretSet's `generate` entries
    /// say (bytes, encoding). Warns when the directory is inside a git work
    /// tree and not ignored. Exit 1 if a file is still incomplete afterwards
    /// (a key that is neither generated nor given).
    #[command(
        after_help = "Examples:\n  lucidctl secrets generate\n  lucidctl secrets generate --rotate JWT_SECRET"
    )]
    Generate(SecretsArgs),
    /// Verify every env file exists with no empty, missing or placeholder value.
    ///
    /// Prints one line per problem and exits 1 if there is any.
    #[command(after_help = "Examples:\n  lucidctl secrets check")]
    Check(SecretsArgs),
    /// Show keys, value lengths and file ages; never values.
    #[command(after_help = "Examples:\n  lucidctl secrets list")]
    List(SecretsArgs),
    /// Encrypt every SecretSet's env file with age into sealed/, to commit.
    ///
    /// Writes sealed/<set>.env.age (ASCII-armored) beside the first -f
    /// directory, e.g. configs/sealed/ for -f configs/lucid, for each
    /// --recipient, which are then recorded in sealed/.lucid-recipients; without
    /// --recipient, that file's recipients are used. apply, diff and run read
    /// a sealed copy, in memory, when the env file is absent (--age-identity);
    /// generate and --rotate keep the copies in step; check compares them.
    #[command(
        after_help = "Examples:\n  lucidctl secrets seal --recipient age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n  lucidctl secrets seal --recipient \"$(cat ~/.ssh/id_ed25519.pub)\""
    )]
    Seal(SealArgs),
    /// Encrypt the sealed SecretSets again for a new set of recipients.
    ///
    /// Reads each env file, or where it is absent its sealed copy (which
    /// needs --age-identity), seals it for exactly the given --recipient
    /// keys and rewrites sealed/.lucid-recipients. Whoever is no longer a
    /// recipient cannot open the new copies (but may have kept old ones:
    /// rotate what they could read).
    #[command(
        after_help = "Examples:\n  lucidctl secrets reseal --age-identity ~/.config/lucid/age.key --recipient age1...new-key"
    )]
    Reseal(SealArgs),
}

#[derive(Args, Debug)]
pub struct SealArgs {
    #[command(flatten)]
    pub common: SecretsArgs,
    /// An age public key (age1..., from age-keygen) or an SSH ed25519 public
    /// key (ssh-ed25519 AAAA...), repeat for several. Public keys only.
    #[arg(long, value_name = "RECIPIENT")]
    pub recipient: Vec<String>,
}

#[derive(Args, Debug)]
pub struct SecretsArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Directory of the SecretSet env files (default: environment/ beside
    /// the first -f directory, e.g. configs/environment for -f
    /// configs/lucid). Keep it out of git.
    #[arg(long, value_name = "DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// With generate: replace this generated key with a fresh value. Other
    /// subcommands ignore it.
    #[arg(long, value_name = "KEY")]
    pub rotate: Vec<String>,
    /// age identity (age-keygen key file or unencrypted SSH ed25519 key) that
    /// opens the sealed copies in sealed/: generate keeps their values when
    /// an env file is absent, check compares them with the env files, reseal
    /// reads them.
    #[arg(long, env = "LUCID_AGE_IDENTITY", value_name = "FILE")]
    pub age_identity: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineTarget {
    /// Containers on one Docker engine.
    #[default]
    Docker,
    /// Services on a Docker Swarm (-H reaches a manager).
    Swarm,
}

#[derive(Args, Debug, Clone)]
pub struct SourceArgs {
    /// A desired-state file, or a directory of *.yaml, *.yml and *.json files (repeat to layer overlays).
    ///
    /// A directory's files are read in name order; .json files are strict
    /// JSON. A document in a later -f with the same kind and name is an RFC
    /// 7386 merge patch on the earlier one, and `$patch: delete` removes it.
    /// The default is the Lucid system with its local overlay, relative to
    /// the current directory.
    #[arg(short = 'f', long = "filename", value_name = "PATH", default_values = ["configs/lucid", "configs/lucid/overlays/local"])]
    pub paths: Vec<PathBuf>,
    /// Also read the subdirectories of directories given with -f (and, for run, watch them).
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Directory that build contexts and config files may not leave
    /// (default: the git work tree enclosing the first -f, else that
    /// directory).
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
pub enum ProgressMode {
    /// Live lines on a terminal (stderr is a TTY and TERM is not dumb), plain otherwise.
    #[default]
    Auto,
    /// Live lines, even when stderr is not a terminal.
    Tty,
    /// One timestamped line per state change, as in CI logs.
    Plain,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON document on stdout.
    Json,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format; json prints {valid, counts, errors, warnings}.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        value_enum,
        default_value_t
    )]
    pub output: OutputFormat,
}

#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    /// Docker engine: unix:///path, tcp://host:port or ssh://user@host[:port]
    /// (default: $DOCKER_HOST, else unix:///var/run/docker.sock).
    ///
    /// ssh:// opens one multiplexed OpenSSH connection (your ~/.ssh/config,
    /// keys, agent and known_hosts apply) and forwards the remote engine
    /// socket; an unknown or changed host key is refused with the
    /// ssh-keyscan line to run. It also runs `true` once in a session with
    /// a tty, which makes OpenSSH turn Nagle's algorithm off for the
    /// connection (a forward alone leaves it on, and larger engine answers
    /// then wait up to 40 ms); the host records it as a short login. A key
    /// refused a tty (`restrict`, `no-pty`) works as well, without it.
    #[arg(short = 'H', long, env = "DOCKER_HOST", value_name = "URL")]
    pub host: Option<String>,
    /// With an ssh:// host: the engine's socket on the remote host.
    #[arg(long, value_name = "PATH", default_value = reconcilers::remote::DEFAULT_REMOTE_SOCKET)]
    pub remote_socket: String,
    /// With an ssh:// host: the ssh config file to use instead of ~/.ssh/config (as `ssh -F FILE`).
    #[arg(long, env = "LUCID_SSH_CONFIG", value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// Project name: scopes ownership, the engine lock and --prune, as
    /// compose's project name does. Every object lucidctl creates carries it
    /// as a label.
    #[arg(short = 'p', long, value_name = "NAME", default_value = "lucid")]
    pub project: String,
    /// Prepended to every Docker object name (containers, networks,
    /// volumes), to run a second copy of the system beside the first.
    #[arg(long, default_value = "", value_name = "PREFIX")]
    pub name_prefix: String,
    /// Directory of the SecretSet env files (default: environment/ beside
    /// the first -f directory, e.g. configs/environment for -f
    /// configs/lucid). Keep it out of git.
    #[arg(long, value_name = "DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// Directory on the engine host for config files, env files and a compose copy, under <DIR>/<project>/.
    ///
    /// It receives the config files (configs/, bind-mounted into the
    /// containers), the SecretSet env files (environment/, mode 0600) and a
    /// copy of the compose export (compose/): over SFTP for ssh:// hosts, on
    /// the local filesystem otherwise.
    #[arg(long, value_name = "DIR", default_value = "/opt/lucid/production")]
    pub files_dir: PathBuf,
    /// age identity (an age-keygen key file or an unencrypted SSH ed25519
    /// key) that opens the sealed SecretSets in sealed/ beside the first -f
    /// directory.
    ///
    /// A SecretSet whose env file is absent is read from its sealed copy,
    /// decrypted in memory only; with both present they must agree (the keys
    /// that differ are named, never the values). A wrong identity fails
    /// before any engine call.
    #[arg(long, env = "LUCID_AGE_IDENTITY", value_name = "FILE")]
    pub age_identity: Option<PathBuf>,
    /// What runs the workloads: `docker`, containers on the one engine -H
    /// reaches; or `swarm`, services on the Swarm whose manager -H reaches
    /// (diff, apply, delete, run and doctor).
    ///
    /// With swarm, Services become replicated services (`replicas`,
    /// `placement`), Jobs replicated jobs, Networks attachable overlays (the
    /// isolated one encrypted), ConfigFiles and secretFiles swarm configs and
    /// secrets named by content hash. Fields with no Swarm meaning (static
    /// IPs, privileged, an unpinned named volume or host path) are errors.
    #[arg(long, value_enum, env = "LUCID_TARGET", default_value_t = EngineTarget::Docker)]
    pub target: EngineTarget,
}

#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// Only resources with this label, plus everything they depend on (all
    /// must match). With --prune, only managed objects
    /// carrying these labels are pruned. A resource labelled
    /// `profile.NAME: "true"` (a compose profile) is acted on only when
    /// selected by `-l profile.NAME=true`; otherwise it is left as it is.
    #[arg(short = 'l', long = "selector", value_name = "KEY=VALUE", value_parser = parse_selector)]
    pub selector: Vec<(String, String)>,
    /// Also remove managed objects of this project (-p) that the files no
    /// longer declare. Volumes only with --prune-volumes. apply refuses to
    /// prune when the files declare nothing.
    #[arg(long)]
    pub prune: bool,
    /// With --prune (required), also remove managed volumes the files no longer declare. Their data is lost.
    #[arg(long, requires = "prune")]
    pub prune_volumes: bool,
    /// Do not ask registries whether a tag moved (pull policies always,
    /// watch and semver): run what the engine has. Missing and pinned images
    /// are still pulled.
    #[arg(long)]
    pub no_pull: bool,
    /// Inspect every container before planning. Without it the container
    /// list proves most of them converged (spec-hash label, state, health,
    /// networks, mounts) and only the rest are inspected; a field changed in
    /// place without touching the labels (`docker update`, a container made
    /// by hand with copied labels) shows only with this flag (`run` inspects
    /// everything at start and every --resync anyway).
    #[arg(long)]
    pub inspect_all: bool,
}

impl PlanArgs {
    /// How much of the engine to read before planning.
    pub fn depth(&self) -> reconcilers::observe::Depth {
        if self.inspect_all {
            reconcilers::observe::Depth::Full
        } else {
            reconcilers::observe::Depth::ListFirst
        }
    }

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
    /// Output format of the plan.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        value_enum,
        default_value_t
    )]
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
    /// Longest wait for one health check, job or dependency condition, e.g.
    /// 90s or 5m. The engine lock is leased for twice this plus a minute.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// Print the plan as text and change nothing (exit 0: no changes, 2:
    /// changes). Unlike diff, no -o json.
    #[arg(long)]
    pub dry_run: bool,
    /// Fail at once if another lucidctl (apply, delete or run) holds this
    /// project's engine lock, instead of waiting for it.
    #[arg(long)]
    pub no_wait: bool,
    /// How many mutating engine calls (create, start, remove, ...) are in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
    /// Roll out again a spec whose rollout failed and was rolled back. Such a
    /// spec is otherwise held (shown by diff, never retried by run) until the
    /// files change it.
    #[arg(long)]
    pub retry_failed: bool,
    /// How progress is shown: live lines per resource on a terminal, or
    /// timestamped lines.
    #[arg(long, value_enum, value_name = "MODE", default_value_t)]
    pub progress: ProgressMode,
    /// Do not print the plan before acting.
    #[arg(short = 'q', long)]
    pub quiet: bool,
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
    /// How progress is shown: live lines per resource on a terminal, or
    /// timestamped lines.
    #[arg(long, value_enum, value_name = "MODE", default_value_t)]
    pub progress: ProgressMode,
    /// Fail at once if another lucidctl (apply, delete or run) holds this
    /// project's engine lock, instead of waiting for it.
    #[arg(long)]
    pub no_wait: bool,
}

pub fn parse_secret_source(s: &str) -> Result<reconcilers::run::SecretSource, String> {
    s.parse()
        .map_err(|e: reconcilers::run::SecretRefError| e.to_string())
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
    /// Only Images with this label, and the Images of Services and Jobs with
    /// it (all must match).
    #[arg(short = 'l', long = "selector", value_name = "KEY=VALUE", value_parser = parse_selector)]
    pub selector: Vec<(String, String)>,
    /// Build every selected Image that has a build, even when its build hash says it is up to date.
    #[arg(long)]
    pub force: bool,
}

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Delete every tag of a namespace's repositories (by digest) and report them.
    ///
    /// Uses the Registry HTTP API v2 with the docker CLI's credentials for
    /// that registry (config.json under DOCKER_CONFIG, default ~/.docker).
    /// The registry must allow deletes.
    #[command(
        after_help = "Examples:\n  lucidctl registry prune --registry 127.0.0.1:5000 --namespace pickme/lucid --dry-run"
    )]
    Prune(RegistryPruneArgs),
}

#[derive(Args, Debug)]
pub struct RegistryPruneArgs {
    /// Registry address, e.g. 127.0.0.1:5000 or https://registry.example.org.
    /// Without a scheme, https:// is used, except http:// for 127.* and
    /// localhost.
    #[arg(long, value_name = "ADDRESS")]
    pub registry: String,
    /// Repository prefix, e.g. pickme/lucid. Every repository whose name
    /// starts with it is pruned (pickme/lucid covers pickme/lucid-redis too).
    #[arg(long, value_name = "PREFIX")]
    pub namespace: String,
    /// List what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove the engine's local images of that namespace, and prune its build cache.
    #[arg(long)]
    pub local: bool,
    /// The engine for --local (default: $DOCKER_HOST, else the local socket).
    #[arg(short = 'H', long, env = "DOCKER_HOST", value_name = "URL")]
    pub host: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum VerifyCommand {
    /// IsolationPolicy: desired topology, forbidden patterns in the source tree and,
    /// with --host, which containers are actually attached to the isolated network.
    ///
    /// The IsolationPolicy checks of validate alone, for CI: which containers
    /// the desired state attaches to each isolated network, and the
    /// forbidden patterns found in the policy's source paths (reported with
    /// file and line). No engine is contacted without -H. Exit 1 on any
    /// violation, or when the files declare no IsolationPolicy.
    #[command(
        after_help = "Examples:\n  lucidctl verify isolation\n  lucidctl verify isolation -H unix:///var/run/docker.sock"
    )]
    Isolation(VerifyIsolationArgs),
}

#[derive(Args, Debug)]
pub struct VerifyIsolationArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Root of the source tree that the policies' forbidden[].paths and
    /// requiredPaths are relative to (default: each policy file's own
    /// directory).
    // `--source` is how issue 8 and the build plan spell it.
    #[arg(long, visible_alias = "source", value_name = "DIR")]
    pub source_dir: Option<PathBuf>,
    /// Also check this live engine: only the policies' members and bridges
    /// may be attached to each isolated network. DOCKER_HOST is not read
    /// here: without -H no engine is contacted.
    #[arg(short = 'H', long, value_name = "URL")]
    pub host: Option<String>,
    /// With -H: the prefix the project's Docker objects carry (as given to apply --name-prefix).
    #[arg(long, default_value = "", value_name = "PREFIX")]
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
    /// Run a pass at least this often, even without a trigger, e.g. 5m.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub resync: std::time::Duration,
    /// Take the desired state from this git repository instead of -f.
    ///
    /// Any URL `git fetch` accepts. Every --poll the loop fetches --branch
    /// into --cache-dir and checks out that exact commit, which is recorded
    /// as the applied revision. -f and --state-root are then not used, and
    /// files are not watched.
    #[arg(long, value_name = "URL")]
    pub git: Option<String>,
    /// With --git: the branch to follow.
    #[arg(long, value_name = "BRANCH", default_value = "main")]
    pub branch: String,
    /// With --git: a directory inside the repository holding desired state
    /// (repeat to layer overlays, as with -f).
    #[arg(long = "path", value_name = "DIR", default_values = ["configs/lucid"])]
    pub git_paths: Vec<PathBuf>,
    /// With --git: how often to fetch, e.g. 60s.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub poll: std::time::Duration,
    /// With --git: where repositories are cloned (one subdirectory per URL).
    #[arg(long, value_name = "DIR", default_value = "/var/cache/lucidctl/git")]
    pub cache_dir: PathBuf,
    /// Address to serve the status page (/), /status, /events, /healthz,
    /// /metrics and POST /hooks/git on;
    /// port 0 picks a free port (the address bound is logged). A
    /// non-loopback address without --listen-token draws a warning.
    #[arg(long, default_value = "127.0.0.1:9797", value_name = "ADDR")]
    pub listen: String,
    /// Require `Authorization: Bearer <token>` on every GET but /healthz.
    /// Given as secret:SECRETSET/KEY, file:PATH or env:VAR, never inline.
    #[arg(long, value_name = "SOURCE", value_parser = parse_secret_source)]
    pub listen_token: Option<reconcilers::run::SecretSource>,
    /// With --git: the shared secret that POST /hooks/git verifies (GitHub
    /// and Gitea HMAC-SHA256 signatures, GitLab's X-Gitlab-Token), as
    /// secret:SECRETSET/KEY, file:PATH or env:VAR. A verified push to
    /// --branch fetches at once; bad or missing signatures get 401 and are
    /// counted in /metrics.
    #[arg(long, value_name = "SOURCE", value_parser = parse_secret_source, requires = "git")]
    pub webhook_secret: Option<reconcilers::run::SecretSource>,
    /// Longest wait for one health check, job or dependency condition, e.g.
    /// 90s or 5m. The engine lock is leased for twice this plus a minute.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// Send notifications here: a webhook URL, or secret:SECRETSET/KEY,
    /// file:PATH or env:VAR holding one (so tokens stay out of git and argv).
    /// The format follows the URL: ntfy (ntfy.sh or ntfy+https://...), Slack
    /// (hooks.slack.com or slack+https://...), Discord (discord.com/api/webhooks
    /// or discord+https://...), else JSON {"event", "severity", "resource",
    /// "message", "revision", "time"}. Events: rollout failed or held,
    /// crash-looping, unhealthy restart, policy violation, volume lost, drift
    /// repaired (one per pass), input broken/recovered, engine unreachable or
    /// git failing past --notify-after, and their recoveries. Repeatable.
    /// Never blocks the loop; retried with backoff; the same event for the
    /// same resource at most once per ten minutes; at most 10 per minute per
    /// target.
    #[arg(long = "notify", value_name = "TARGET")]
    pub notify: Vec<String>,
    /// How long the engine may be unreachable, or git fetches fail, before a
    /// notification says so.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub notify_after: std::time::Duration,
    /// Log lines on stderr as plain text or as one JSON object per line.
    #[arg(long, value_enum, default_value_t)]
    pub log_format: crate::logging::LogFormat,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Address of a running `lucidctl run` (its --listen).
    #[arg(long, default_value = "127.0.0.1:9797", value_name = "ADDR")]
    pub listen: String,
    /// Output format; json prints the loop's /status document as is.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        value_enum,
        default_value_t
    )]
    pub output: OutputFormat,
    /// The loop's --listen-token, when it has one (secret:, file: or env:).
    #[arg(long, value_name = "SOURCE", value_parser = parse_secret_source)]
    pub token: Option<reconcilers::run::SecretSource>,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Address of a running `lucidctl run` (its --listen).
    #[arg(long, default_value = "127.0.0.1:9797", value_name = "ADDR")]
    pub listen: String,
    /// Keep printing new events until Ctrl-C.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Output format; json prints the /events document as is (not with -f).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        value_enum,
        default_value_t
    )]
    pub output: OutputFormat,
    /// The loop's --listen-token, when it has one (secret:, file: or env:).
    #[arg(long, value_name = "SOURCE", value_parser = parse_secret_source)]
    pub token: Option<reconcilers::run::SecretSource>,
}

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// docker-compose.<phase>.yml per phase label and docker-compose.master.yml (or one file per selection).
    ///
    /// Compose file format 2.4, accepted by `docker-compose config`. Env
    /// files are referenced, not inlined; what compose cannot express is
    /// listed in a comment at the top of each file. Nothing is written when
    /// the desired state does not validate.
    #[command(
        after_help = "Examples:\n  lucidctl export compose\n  lucidctl export compose -d /tmp/compose -l phase=core"
    )]
    Compose(ExportArgs),
    /// docker-stack.<phase>.yml per phase label and docker-stack.yml, for `docker stack deploy`.
    ///
    /// Stack file format 3.9 with deploy: blocks (replicas, limits, restart
    /// policy, start-first updates with automatic rollback, placement by
    /// platform), overlay networks (attachable, the isolated one encrypted)
    /// and Swarm configs named by a hash of their content. What Swarm loses
    /// against `lucidctl apply --target swarm` (dependency order, isolation
    /// enforcement, held revisions, builds) is listed at the top of each file.
    #[command(
        after_help = "Examples:\n  lucidctl export stack\n  lucidctl export stack -d /tmp/stack -l phase=core\n  docker stack deploy -c configs/stack/docker-stack.foundation.yml lucid"
    )]
    Stack(ExportArgs),
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Only Services and Jobs with this label, plus what they depend on
    /// (all must match). Writes one file,
    /// docker-compose.<values>.yml (docker-stack.<values>.yml), instead of one per phase.
    #[arg(short = 'l', long = "selector", value_name = "KEY=VALUE", value_parser = parse_selector)]
    pub selector: Vec<(String, String)>,
    /// Directory to write the files into [default: configs/docker for
    /// compose, configs/stack for stack].
    #[arg(short = 'd', long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// The old spelling of -d, kept for one release.
    #[arg(short = 'o', hide = true, value_name = "DIR")]
    pub deprecated_output_dir: Option<PathBuf>,
    /// Where the SecretSet env files live (default: environment/ beside the
    /// first -f directory); the compose files reference them by relative
    /// path.
    #[arg(long, value_name = "DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// Prepended to container_name and to the networks' and volumes' names, as
    /// `apply --name-prefix` names them, to run a second copy beside the first.
    #[arg(long, default_value = "", value_name = "PREFIX")]
    pub name_prefix: String,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Convert compose files (v2, v3, Compose Specification) into lucid/v1alpha1 documents.
    ///
    /// `${VAR}` in the compose files is interpolated from the environment
    /// and the .env file beside the first file, as compose does. Keys and
    /// values lucidctl cannot express are listed as file:line:column and
    /// fail the import, with nothing written, unless --allow-unsupported.
    /// What is written is then loaded and validated like any desired state.
    #[command(
        after_help = "Examples:\n  lucidctl import compose docker-compose.yml -d configs/imported"
    )]
    Compose(ImportComposeArgs),
}

#[derive(Args, Debug)]
pub struct ImportComposeArgs {
    /// Compose files, merged in order as `docker-compose -f a -f b` does.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Directory to write the desired-state files into.
    #[arg(
        short = 'd',
        long = "output-dir",
        value_name = "DIR",
        default_value = "."
    )]
    pub output_dir: PathBuf,
    /// The old spelling of -d, kept for one release.
    #[arg(short = 'o', hide = true, value_name = "DIR")]
    pub deprecated_output_dir: Option<PathBuf>,
    /// Convert what is supported, list the rest, and exit 0.
    #[arg(long)]
    pub allow_unsupported: bool,
    /// Directory that build contexts and bind sources may not leave when the
    /// output is checked (default: the git work tree enclosing the output,
    /// else the deepest directory holding the output and the compose files).
    #[arg(long, value_name = "DIR")]
    pub state_root: Option<PathBuf>,
}

impl EngineArgs {
    /// Where and as what the desired state is applied, for `reconcilers::context`.
    pub fn target(&self) -> reconcilers::context::Target {
        reconcilers::context::Target {
            host: self.host.clone(),
            connect: reconcilers::engine::ConnectOptions {
                ssh_config: self.ssh_config.clone(),
                remote_socket: Some(self.remote_socket.clone()),
            },
            project: self.project.clone(),
            name_prefix: self.name_prefix.clone(),
            secrets_dir: self.secrets_dir.clone(),
            files_dir: self.files_dir.clone(),
            age_identity: self.age_identity.clone(),
        }
    }
}

/// The output directory of export and import, and a warning when it was
/// given with the deprecated `-o`, which is an output format everywhere else.
pub fn output_dir(
    dir: &std::path::Path,
    deprecated: &Option<PathBuf>,
) -> (PathBuf, Option<String>) {
    match deprecated {
        Some(d) => (
            d.clone(),
            Some(format!(
                "-o {} is deprecated for a directory and will be removed in the next release; use -d {} (--output-dir)",
                d.display(),
                d.display()
            )),
        ),
        None => (dir.to_path_buf(), None),
    }
}
