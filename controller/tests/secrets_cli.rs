//! `lucidctl secrets generate|list|check` as a user runs them (issue 8): the built
//! binary on a temp directory. Values never reach stdout or stderr, and a secrets
//! directory inside a git work tree that does not ignore it draws a warning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh directory per test (tests run in parallel), removed on drop.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("lucid-secrets-cli-{name}-"))
        .tempdir()
        .unwrap()
}

const STATE: &str = "---
apiVersion: lucid/v1alpha1
kind: SecretSet
metadata: {name: core}
spec:
  file: .env.core
  generate:
    - {key: DB_PASSWORD, bytes: 32, encoding: base64}
    - {key: SIGNING_KEY, bytes: 64, encoding: base64}
    - {key: SESSION_KEY, bytes: 16, encoding: hex}
  values: {DB_HOST: lucid-db}
";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `lucidctl secrets <action> -f <state> --secrets-dir <env> <extra>`, from `cwd`.
fn secrets(cwd: &Path, action: &str, state: &Path, env: &Path, extra: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_lucidctl"))
        .current_dir(cwd)
        .args(["secrets", action, "-f"])
        .arg(state)
        .arg("--secrets-dir")
        .arg(env)
        .args(extra)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write_state(dir: &Path) -> PathBuf {
    let path = dir.join("state/secrets.yaml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, STATE).unwrap();
    path
}

/// The generated values in the env file by key (the given DB_HOST is no secret).
fn secret_values(env: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(env.join(".env.core")).unwrap();
    let values: BTreeMap<String, String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("DB_HOST="))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(values.len(), 3, "{text}");
    values
}

/// No value, and no 12-character piece of one, appears in the output.
#[track_caller]
fn assert_no_value(values: &BTreeMap<String, String>, out: &Out, what: &str) {
    let all = format!("{}\n{}", out.stdout, out.stderr);
    for v in values.values() {
        for start in 0..=v.len() - 12 {
            let piece = &v[start..start + 12];
            assert!(
                !all.contains(piece),
                "{what} printed part of a secret ({piece:?}): {out:?}"
            );
        }
    }
}

#[test]
fn generate_list_and_check_never_print_a_secret_value() {
    let tmp = temp_dir("noleak");
    let state = write_state(&tmp.path());
    let env = tmp.path().join("env");

    let generate = secrets(&tmp.path(), "generate", &state, &env, &[]);
    assert_eq!(generate.code, 0, "{generate:?}");
    assert!(
        generate
            .stdout
            .contains("generated DB_PASSWORD, SIGNING_KEY, SESSION_KEY"),
        "{generate:?}"
    );
    let values = secret_values(&env);
    assert_no_value(&values, &generate, "secrets generate");

    let rotate = secrets(
        &tmp.path(),
        "generate",
        &state,
        &env,
        &["--rotate", "SIGNING_KEY"],
    );
    assert_eq!(rotate.code, 0, "{rotate:?}");
    assert!(rotate.stdout.contains("rotated SIGNING_KEY"), "{rotate:?}");
    let rotated = secret_values(&env);
    assert_eq!(rotated["DB_PASSWORD"], values["DB_PASSWORD"]);
    assert_ne!(rotated["SIGNING_KEY"], values["SIGNING_KEY"]);
    assert_no_value(&values, &rotate, "secrets generate --rotate (old values)");
    assert_no_value(&rotated, &rotate, "secrets generate --rotate (new values)");

    // list: keys, lengths and age; never values.
    let list = secrets(&tmp.path(), "list", &state, &env, &[]);
    assert_eq!(list.code, 0, "{list:?}");
    for line in [
        "DB_PASSWORD: 44 chars",
        "SIGNING_KEY: 88 chars",
        "SESSION_KEY: 32 chars",
        "DB_HOST: 8 chars",
    ] {
        assert!(list.stdout.contains(line), "{line:?} missing: {list:?}");
    }
    assert!(list.stdout.contains("0h old"), "{list:?}");
    assert_no_value(&rotated, &list, "secrets list");

    let check = secrets(&tmp.path(), "check", &state, &env, &[]);
    assert_eq!(check.code, 0, "{check:?}");
    assert_no_value(&rotated, &check, "secrets check");

    // A broken file: check names the key and the problem, still without values.
    let text = std::fs::read_to_string(env.join(".env.core")).unwrap();
    let broken = text.replace(
        &format!("SESSION_KEY={}", rotated["SESSION_KEY"]),
        "SESSION_KEY=",
    );
    assert_ne!(broken, text);
    std::fs::write(env.join(".env.core"), broken).unwrap();
    let check = secrets(&tmp.path(), "check", &state, &env, &[]);
    assert_eq!(check.code, 1, "{check:?}");
    assert!(check.stderr.contains("SESSION_KEY is empty"), "{check:?}");
    assert_no_value(&rotated, &check, "secrets check of a broken file");
}

#[test]
fn generate_warns_when_the_secrets_dir_is_in_a_git_work_tree_and_not_ignored() {
    let tmp = temp_dir("git");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = Command::new("git")
        .args(["init", "-q"])
        .arg(&repo)
        .status()
        .expect("git is installed");
    assert!(git.success());
    let state = write_state(&repo);
    let env = repo.join("configs/environment");
    std::fs::create_dir_all(&env).unwrap();

    let unignored = secrets(&repo, "generate", &state, &env, &[]);
    assert_eq!(unignored.code, 0, "{unignored:?}");
    assert!(
        unignored
            .stderr
            .contains("is inside a git work tree and not ignored"),
        "{unignored:?}"
    );

    std::fs::write(repo.join(".gitignore"), "configs/environment/\n").unwrap();
    let ignored = secrets(&repo, "generate", &state, &env, &[]);
    assert_eq!(ignored.code, 0, "{ignored:?}");
    assert!(!ignored.stderr.contains("warning"), "{ignored:?}");

    // Outside any work tree there is nothing to warn about.
    let outside = tmp.path().join("elsewhere/env");
    std::fs::create_dir_all(&outside).unwrap();
    let plain = secrets(&tmp.path(), "generate", &state, &outside, &[]);
    assert_eq!(plain.code, 0, "{plain:?}");
    assert!(!plain.stderr.contains("warning"), "{plain:?}");
}
