use crate::cli::{SecretsArgs, SecretsCommand};
use crate::output;
use desired_state::diagnostics::escape_controls;
use desired_state::model::{Kind, Spec};
use reconcilers::prepare::{default_secrets_dir, parse_env_file};
use reconcilers::sealed::ops as sealed_ops;
use reconcilers::sealed::{default_sealed_dir, Sealing};
use reconcilers::secrets;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

pub fn run(cmd: SecretsCommand) -> ExitCode {
    let (args, action, recipients) = match &cmd {
        SecretsCommand::Generate(a) => (a, "generate", &[][..]),
        SecretsCommand::Check(a) => (a, "check", &[][..]),
        SecretsCommand::List(a) => (a, "list", &[][..]),
        SecretsCommand::Seal(a) => (&a.common, "seal", &a.recipient[..]),
        SecretsCommand::Reseal(a) => (&a.common, "reseal", &a.recipient[..]),
    };
    let state = match desired_state::load_valid(&args.source.load_options()) {
        Ok((state, warnings)) => {
            output::print_diagnostics(&warnings);
            state
        }
        Err(invalid) => {
            output::print_diagnostics(&invalid.errors);
            eprintln!("error: invalid desired state; nothing was written");
            return ExitCode::FAILURE;
        }
    };
    let dir = secrets_dir(args);
    let sealing = Sealing {
        dir: default_sealed_dir(first_path(args)),
        identity: args.age_identity.clone(),
    };
    match action {
        "generate" => generate(&state, &dir, &sealing, &args.rotate),
        "check" => {
            let problems = secrets::check(&state, &dir, &sealing);
            for p in &problems {
                eprintln!("{}", escape_controls(p));
            }
            if sealing.identity.is_none()
                && state
                    .of_kind(Kind::SecretSet)
                    .any(|r| sealing.has(r.name()))
            {
                eprintln!("note: sealed copies were not compared with the env files; pass --age-identity to compare them");
            }
            if problems.is_empty() {
                println!(
                    "secrets ok: every SecretSet in {} is complete",
                    dir.display()
                );
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        "seal" | "reseal" => {
            if action == "reseal" && recipients.is_empty() {
                eprintln!("error: reseal needs the new recipients\n  fix: pass --recipient once per key (age1... or ssh-ed25519 ...)");
                return ExitCode::FAILURE;
            }
            let result = if action == "seal" {
                sealed_ops::seal_all(&state, &dir, &sealing, recipients)
            } else {
                sealed_ops::reseal_all(&state, &dir, &sealing, recipients)
            };
            match result {
                Ok(written) => {
                    for p in written {
                        println!("sealed {}", p.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {}", escape_controls(&e.to_string()));
                    ExitCode::FAILURE
                }
            }
        }
        _ => list(&state, &dir, &sealing),
    }
}

fn first_path(args: &SecretsArgs) -> &Path {
    args.source
        .paths
        .first()
        .map(PathBuf::as_path)
        .unwrap_or(Path::new("."))
}

fn secrets_dir(args: &SecretsArgs) -> PathBuf {
    args.secrets_dir
        .clone()
        .unwrap_or_else(|| default_secrets_dir(first_path(args)))
}

fn generate(
    state: &desired_state::DesiredState,
    dir: &Path,
    sealing: &Sealing,
    rotate: &[String],
) -> ExitCode {
    match secrets::prepare_dir(dir) {
        Ok(Some(warning)) => eprintln!("warning: {warning}"),
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    warn_if_tracked(dir);
    // An absent env file with a sealed copy is restored from it, not generated
    // anew: new values would silently replace the committed ones.
    let recovered = match sealed_ops::recover(state, dir, sealing) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", escape_controls(&e.to_string()));
            eprintln!("  nothing was written: generating would replace the sealed values");
            return ExitCode::FAILURE;
        }
    };
    match secrets::generate(state, dir, rotate, &recovered) {
        Ok(reports) => {
            let mut changed = Vec::new();
            for r in reports {
                if r.written {
                    changed.push(r.set.clone());
                }
                let mut parts = Vec::new();
                if recovered.contains_key(&r.set) {
                    parts.push("restored from the sealed copy".to_string());
                }
                if !r.generated.is_empty() {
                    parts.push(format!("generated {}", r.generated.join(", ")));
                }
                if !r.rotated.is_empty() {
                    parts.push(format!("rotated {}", r.rotated.join(", ")));
                }
                if !r.kept.is_empty() {
                    parts.push(format!("kept {}", r.kept.len()));
                }
                let what = if parts.is_empty() {
                    "values only".to_string()
                } else {
                    parts.join("; ")
                };
                println!(
                    "{} ({}): {what}{}",
                    r.path.display(),
                    r.set,
                    if r.written { "" } else { " (unchanged)" }
                );
            }
            match sealed_ops::keep_in_step(state, dir, sealing, &changed, &recovered) {
                Ok(sealed) => {
                    for p in sealed {
                        println!("sealed {}", p.display());
                    }
                }
                Err(e) => {
                    eprintln!(
                        "error: the env files were written, but sealing them failed: {}",
                        escape_controls(&e.to_string())
                    );
                    return ExitCode::FAILURE;
                }
            }
            let problems = secrets::check(state, dir, sealing);
            for p in &problems {
                eprintln!("{}", escape_controls(p));
            }
            if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn list(state: &desired_state::DesiredState, dir: &Path, sealing: &Sealing) -> ExitCode {
    for r in state.of_kind(Kind::SecretSet) {
        let Spec::SecretSet(s) = &r.spec else {
            continue;
        };
        let path = dir.join(&s.file);
        let age = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .map(|d| format!("{}h old", d.as_secs() / 3600))
            .unwrap_or_else(|| {
                if sealing.has(r.name()) {
                    format!("absent; sealed in {}", sealing.path_of(r.name()).display())
                } else {
                    "missing".into()
                }
            });
        println!("{} ({}, {age})", r.name(), path.display());
        let values = std::fs::read_to_string(&path)
            .map(|t| parse_env_file(&t))
            .unwrap_or_default();
        for key in s.keys() {
            let len = values
                .get(key)
                .map(|v| format!("{} chars", v.len()))
                .unwrap_or_else(|| "missing".into());
            println!("  {key}: {len}");
        }
    }
    ExitCode::SUCCESS
}

/// Secrets must stay out of git: warn when the directory is inside a work tree and not ignored.
fn warn_if_tracked(dir: &Path) {
    let probe = dir.join(".env.lucidctl-probe");
    let in_tree = Command::new("git")
        .arg("-C")
        .arg(dir.parent().unwrap_or(Path::new(".")))
        .args(["rev-parse", "--is-inside-work-tree"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !in_tree {
        return;
    }
    let ignored = Command::new("git")
        .arg("-C")
        .arg(dir.parent().unwrap_or(Path::new(".")))
        .args(["check-ignore", "-q", "--no-index", "--"])
        .arg(&probe)
        .status()
        .is_ok_and(|s| s.success());
    if !ignored {
        eprintln!("warning: {} is inside a git work tree and not ignored; add it to .gitignore so secrets are never committed", dir.display());
    }
}
