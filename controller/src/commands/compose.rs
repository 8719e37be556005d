//! `lucidctl export compose` and `lucidctl import compose`.

use crate::cli::{ExportCommand, ImportCommand};
use crate::output;
use lucid_compose::{export, import};
use reconcilers::prepare::default_secrets_dir;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn export(cmd: ExportCommand) -> ExitCode {
    let ExportCommand::Compose(args) = cmd;
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
    let (output_dir, deprecation) =
        controller::cli::output_dir(&args.output_dir, &args.deprecated_output_dir);
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
    let files = export::export(&state, &options);
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
    // What was written must load and validate like any desired state.
    let check = desired_state::LoadOptions {
        paths: written,
        recursive: false,
        root: None,
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
