//! `lucidctl import compose` as a user runs it from a project directory that
//! is in no git work tree (issue 19): the project is named after the working
//! directory, and the output, written beside it, validates.

use std::path::{Path, PathBuf};
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../compose/tests/fixtures")
        .join(name)
}

#[test]
fn import_outside_a_git_work_tree_names_the_project_after_the_directory_and_validates() {
    let base = std::env::temp_dir().join(format!("lucid-import-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    assert!(
        !base.ancestors().any(|a| a.join(".git").exists()),
        "the temp directory must be outside any git work tree"
    );
    // shop has a build context and config files beside the compose file.
    let project = base.join("myshop");
    copy_dir(&fixture("shop"), &project);
    let out = Command::new(env!("CARGO_BIN_EXE_lucidctl"))
        .args(["import", "compose", "docker-compose.yml", "-d", "../lucid"])
        .current_dir(&project)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let written = std::fs::read_to_string(base.join("lucid/imported.yaml")).unwrap();
    assert!(
        written.contains("name: myshop-default"),
        "the project is the working directory's name:\n{written}"
    );
    assert!(stdout.contains("--state-root"), "{stdout}");

    // The printed command validates what was written.
    let out = Command::new(env!("CARGO_BIN_EXE_lucidctl"))
        .args(["validate", "-f", "../lucid", "--state-root", ".."])
        .current_dir(&project)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&base);
}

/// Compose secrets, configs and extends through the command: the wiki and the
/// workers import and validate; an extends cycle is an error with its
/// file:line:col (exit 1, never a panic), and nothing is written.
#[test]
fn secrets_configs_and_extends_import_and_a_cycle_is_refused() {
    let base = std::env::temp_dir().join(format!("lucid-import-cli-x-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let run = |dir: &Path, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lucidctl"))
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    for name in ["wiki", "workers"] {
        let project = base.join(name);
        copy_dir(&fixture(name), &project);
        let out = run(
            &project,
            &["import", "compose", "docker-compose.yml", "-d", "lucid"],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        let out = run(&project, &["validate", "-f", "lucid", "--state-root", "."]);
        assert!(
            out.status.success(),
            "{name}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let written = std::fs::read_to_string(base.join("wiki/lucid/imported.yaml")).unwrap();
    assert!(!written.contains("fixture-not-a-secret"), "{written}");
    assert!(
        written.contains("target: /run/secrets\n      keys:\n        - db_password"),
        "{written}"
    );

    let cycle = base.join("cycle");
    std::fs::create_dir_all(&cycle).unwrap();
    std::fs::write(
        cycle.join("docker-compose.yml"),
        "services:\n  a:\n    image: x\n    extends: b\n  b:\n    extends: a\n",
    )
    .unwrap();
    let out = run(
        &cycle,
        &["import", "compose", "docker-compose.yml", "-d", "lucid"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("docker-compose.yml:4:14") && stderr.contains("a cycle (a -> b -> a)"),
        "{stderr}"
    );
    assert!(!cycle.join("lucid").exists(), "nothing is written");
    let _ = std::fs::remove_dir_all(&base);
}
