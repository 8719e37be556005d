//! The command reference and man pages are generated from the clap
//! definition (controller/src/cli.rs) and committed; these tests fail when
//! they drift, when a flag has no help text, or when the code reads an
//! environment variable the reference does not document.

use controller::docs;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[test]
fn committed_docs_are_up_to_date() {
    let root = docs::repo_root();
    let fix = format!(
        "run `{}` and commit {} and {}/",
        docs::REGENERATE,
        docs::REFERENCE,
        docs::MAN_DIR
    );
    let generated = docs::generated_files();
    let mut stale = Vec::new();
    for (rel, content) in &generated {
        match std::fs::read(root.join(rel)) {
            Ok(committed) if committed == *content => {}
            Ok(_) => stale.push(format!(
                "{} differs from what controller/src/cli.rs generates",
                rel.display()
            )),
            Err(e) => stale.push(format!("{} cannot be read: {e}", rel.display())),
        }
    }
    let wanted: BTreeSet<&PathBuf> = generated.iter().map(|(p, _)| p).collect();
    for entry in std::fs::read_dir(root.join(docs::MAN_DIR))
        .into_iter()
        .flatten()
        .flatten()
    {
        let rel = Path::new(docs::MAN_DIR).join(entry.file_name());
        if !wanted.contains(&rel) {
            stale.push(format!("{} is no longer generated", rel.display()));
        }
    }
    assert!(
        stale.is_empty(),
        "the generated docs are stale:\n  {}\n{fix}",
        stale.join("\n  ")
    );
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(docs::generated_files(), docs::generated_files());
}

/// A new flag or command without a doc comment would be an empty line in
/// `--help`, the man page and the reference.
#[test]
fn every_command_and_argument_has_help() {
    fn check(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        if cmd.get_about().is_none() {
            missing.push(format!("command `{path}`"));
        }
        for arg in cmd.get_arguments() {
            let own = !matches!(
                arg.get_action(),
                clap::ArgAction::Help
                    | clap::ArgAction::HelpShort
                    | clap::ArgAction::HelpLong
                    | clap::ArgAction::Version
            );
            if own
                && arg
                    .get_help()
                    .is_none_or(|h| h.to_string().trim().is_empty())
            {
                missing.push(format!("`{path}` argument `{}`", arg.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            check(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    check(&docs::command(), "lucidctl", &mut missing);
    assert!(
        missing.is_empty(),
        "add a /// doc comment in controller/src/cli.rs for:\n  {}",
        missing.join("\n  ")
    );
}

/// The names in `env::var("NAME")` / `env::var_os("NAME")` calls of `source`.
fn env_reads(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    for call in ["env::var(\"", "env::var_os(\""] {
        let mut rest = source;
        while let Some(i) = rest.find(call) {
            rest = &rest[i + call.len()..];
            if let Some(end) = rest.find('"') {
                names.push(rest[..end].to_string());
            }
        }
    }
    names
}

#[test]
fn env_reads_are_found() {
    let src =
        r#"let a = std::env::var("LUCID_A"); if env::var_os("B").is_some() {} std::env::vars();"#;
    assert_eq!(env_reads(src), ["LUCID_A", "B"]);
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every variable the shipped code reads directly (LUCID_* and the others)
/// is in the reference's Environment section.
#[test]
fn every_environment_variable_read_is_documented() {
    let root = docs::repo_root();
    let mut files = Vec::new();
    for dir in ["controller/src", "reconcilers/src", "desired-state/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 20, "the sources were not found: {files:?}");
    let reference = docs::reference_markdown();
    let mut undocumented = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for name in env_reads(&text) {
            seen.insert(name.clone());
            let documented = docs::ENVIRONMENT.iter().any(|v| v.name == name)
                && reference.contains(&format!("- `{name}`:"));
            if !documented {
                let rel = file.strip_prefix(&root).unwrap_or(file);
                undocumented.insert(format!("{name} (read in {})", rel.display()));
            }
        }
    }
    assert!(
        seen.contains("LUCID_VERBOSE") && seen.contains("LUCID_ALLOW_EMULATION"),
        "the scan missed known reads: {seen:?}"
    );
    assert!(
        undocumented.is_empty(),
        "environment variables read but not documented:\n  {}\nadd them to ENVIRONMENT in controller/src/docs.rs, then run `{}`",
        undocumented.into_iter().collect::<Vec<_>>().join("\n  "),
        docs::REGENERATE
    );
}

#[test]
fn completions_and_man_work_from_the_binary() {
    let bin = env!("CARGO_BIN_EXE_lucidctl");
    for (shell, marker) in [
        ("bash", "_lucidctl()"),
        ("zsh", "#compdef lucidctl"),
        ("fish", "complete -c lucidctl"),
    ] {
        let out = std::process::Command::new(bin)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell}: no {marker:?}");
        assert!(text.contains("prune-volumes"), "{shell}");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin)
        .arg("man")
        .arg(dir.path().join("man1"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for (rel, content) in docs::generated_files() {
        if rel.starts_with(docs::MAN_DIR) {
            let written = std::fs::read(dir.path().join("man1").join(rel.file_name().unwrap()));
            assert_eq!(written.ok().as_ref(), Some(&content), "{}", rel.display());
        }
    }
}
