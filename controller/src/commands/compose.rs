//! `lucidctl export compose` and `lucidctl import compose`.

use crate::cli::{ExportCommand, ImportCommand};
use crate::output;
use lucid_compose::{export, import};
use reconcilers::prepare::default_secrets_dir;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn export(cmd: ExportCommand) -> ExitCode {
    let (args, stack, default_dir) = match cmd {
        ExportCommand::Compose(args) => (args, false, "configs/docker"),
        ExportCommand::Stack(args) => (args, true, "configs/stack"),
    };
    let state = match desired_state::load_valid(&args.source.load_options()) {
        Ok((state, warnings)) => {
            output::print_diagnostics(&warnings);
            state
        }
        Err(invalid) => {
            output::print_diagnostics(&invalid.warnings);
            output::print_diagnostics(&invalid.errors);
            eprintln!(
                "error: invalid desired state: {} error(s); nothing was written",
                invalid.errors.len()
            );
            return ExitCode::FAILURE;
        }
    };
    if stack {
        // What the swarm target refuses, the stack cannot carry either.
        let swarm = desired_state::validate::validate_for_swarm(&state);
        output::print_diagnostics(&swarm);
        let errors = swarm.iter().filter(|d| d.is_error()).count();
        if errors > 0 {
            eprintln!("error: invalid for a swarm: {errors} error(s); nothing was written");
            return ExitCode::FAILURE;
        }
    }
    if !args.selector.is_empty() {
        let chosen = desired_state::selected(&state, &args.selector);
        if !state
            .resources
            .iter()
            .enumerate()
            .any(|(i, r)| r.spec.workload().is_some() && chosen.contains(&i))
        {
            eprintln!("error: no Service or Job matches the selector; nothing was written");
            return ExitCode::FAILURE;
        }
    }
    let secrets_dir = args.secrets_dir.clone().unwrap_or_else(|| {
        default_secrets_dir(
            args.source
                .paths
                .first()
                .map(PathBuf::as_path)
                .unwrap_or(Path::new(".")),
        )
    });
    let dir = args
        .output_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(default_dir));
    let (output_dir, deprecation) = controller::cli::output_dir(&dir, &args.deprecated_output_dir);
    if let Some(warning) = deprecation {
        eprintln!("warning: {warning}");
    }
    let options = export::ExportOptions {
        output_dir: output_dir.clone(),
        secrets_dir,
        selector: args.selector.clone(),
        sources: args
            .source
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        name_prefix: args.name_prefix.clone(),
    };
    let files = if stack {
        export::stack::export_stack(&state, &options)
    } else {
        export::export(&state, &options)
    };
    for f in &files {
        let path = output_dir.join(&f.path);
        if let Err(e) = write(&path, &f.content) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}

/// For output in no git work tree: the deepest directory that holds the
/// output and every compose file's directory (None when a work tree exists,
/// whose root the loader takes by default).
pub fn state_root_outside_git(output_dir: &Path, compose_files: &[PathBuf]) -> Option<PathBuf> {
    let canonical = |p: &Path| std::fs::canonicalize(p).ok();
    let out = canonical(output_dir)?;
    if out.ancestors().any(|a| a.join(".git").exists()) {
        return None;
    }
    let mut root = out.clone();
    for f in compose_files {
        let dir = f
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = canonical(dir)?;
        while !dir.starts_with(&root) {
            root = root.parent()?.to_path_buf();
        }
    }
    (root != out).then_some(root)
}

/// The one atomic write (temp file, fsync, rename), mode 0644.
fn write(path: &Path, content: &str) -> Result<(), reconcilers::hostfiles::FilesError> {
    reconcilers::hostfiles::write_local(path, content.as_bytes(), 0o644).map(|_| ())
}

pub fn import(cmd: ImportCommand) -> ExitCode {
    let ImportCommand::Compose(args) = cmd;
    let (output_dir, deprecation) =
        controller::cli::output_dir(&args.output_dir, &args.deprecated_output_dir);
    if let Some(warning) = deprecation {
        eprintln!("warning: {warning}");
    }
    let options = import::ImportOptions {
        output_dir: output_dir.clone(),
        env: std::env::vars().collect(),
        project: None,
    };
    let imported = match import::import(&args.files, &options) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("error: nothing was written");
            return ExitCode::FAILURE;
        }
    };
    for f in &imported.findings {
        eprintln!("{f}");
    }
    let blocking = imported.findings.iter().filter(|f| f.blocks()).count();
    if blocking > 0 && !args.allow_unsupported {
        eprintln!(
            "error: {blocking} unsupported key(s) or value(s); nothing was written (pass --allow-unsupported to convert the rest and leave these out)"
        );
        return ExitCode::FAILURE;
    }
    let mut written = Vec::new();
    for f in &imported.files {
        let path = output_dir.join(&f.path);
        if let Err(e) = write(&path, &f.content) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        println!("wrote {} ({})", path.display(), imported.summary());
        written.push(path);
    }
    // What was written must load and validate like any desired state. Outside
    // a git work tree the default root would be the output directory alone,
    // and every bind or build context beside the compose file would leave it.
    let root = args
        .state_root
        .clone()
        .or_else(|| state_root_outside_git(&output_dir, &args.files));
    if let (Some(root), None) = (&root, &args.state_root) {
        println!(
            "note: {} is in no git work tree; checked with --state-root {}, which validate and apply need too: lucidctl validate -f {} --state-root {}",
            output_dir.display(),
            root.display(),
            output_dir.display(),
            root.display()
        );
    }
    let check = desired_state::LoadOptions {
        paths: written,
        recursive: false,
        root,
    };
    match desired_state::load_valid(&check) {
        Ok((_, warnings)) => {
            output::print_diagnostics(&warnings);
            if blocking > 0 {
                eprintln!(
                    "converted with {blocking} unsupported item(s) left out (--allow-unsupported)"
                );
            }
            ExitCode::SUCCESS
        }
        Err(invalid) => {
            output::print_diagnostics(&invalid.warnings);
            output::print_diagnostics(&invalid.errors);
            eprintln!("error: the imported state does not validate ({} error(s)); fix the compose file or the output", invalid.errors.len());
            ExitCode::FAILURE
        }
    }
}
