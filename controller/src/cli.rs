use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "lucidctl", version, about = "Reconcile Docker hosts to desired state committed to git")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check desired-state files without touching any engine.
    Validate(ValidateArgs),
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
