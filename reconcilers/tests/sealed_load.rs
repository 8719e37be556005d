//! Loading a desired state whose SecretSets are sealed: what apply, diff and
//! run (files or `--git`) see before any engine call.

use age::secrecy::ExposeSecret;
use desired_state::LoadOptions;
use reconcilers::context::{load, LoadError, Target};
use reconcilers::run::{DesiredSource, GitRepoSource, GitSource};
use reconcilers::sealed::{keys, write_sealed};
use std::path::{Path, PathBuf};
use std::process::Command;

const STATE: &str = "---
apiVersion: lucid/v1alpha1
kind: SecretSet
metadata: {name: core}
spec: {file: .env.core, generate: [{key: TOKEN, bytes: 16}], values: {MODE: prod}}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: web}
spec:
  image: web:1
  user: \"1000\"
  secretFiles: [{secretSet: core, target: /run/secrets}]
";
const ENV: &str = "TOKEN=s3cret-token-value\nMODE=prod\n";

/// `root/configs/app/state.yaml` and `root/configs/sealed/core.env.age` sealed
/// for a new key; returns the identity file.
fn sealed_tree(root: &Path) -> PathBuf {
    std::fs::create_dir_all(root.join("configs/app")).unwrap();
    std::fs::write(root.join("configs/app/state.yaml"), STATE).unwrap();
    let id = age::x25519::Identity::generate();
    let recipients = keys::parse_all(&[id.to_public().to_string()], "test").unwrap();
    write_sealed(&root.join("configs/sealed/core.env.age"), ENV, &recipients).unwrap();
    key_file(root, "key.txt", &id)
}

fn key_file(dir: &Path, name: &str, id: &age::x25519::Identity) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, id.to_string().expose_secret()).unwrap();
    path
}

fn options(root: &Path) -> LoadOptions {
    LoadOptions {
        paths: vec![root.join("configs/app")],
        recursive: false,
        root: Some(root.to_path_buf()),
    }
}

fn target(identity: Option<PathBuf>) -> Target {
    Target {
        project: "t".into(),
        files_dir: PathBuf::from("/nonexistent-files"),
        age_identity: identity,
        ..Target::default()
    }
}

fn error(e: LoadError) -> String {
    let text = e.to_string();
    assert!(
        !text.contains("s3cret-token-value"),
        "a value leaked: {text}"
    );
    text
}

#[test]
fn only_the_sealed_copy_and_the_identity_are_enough() {
    let t = tempfile::tempdir().unwrap();
    let key = sealed_tree(t.path());
    let loaded = load(&options(t.path()), &target(Some(key))).unwrap_or_else(|e| panic!("{e}"));
    let core = &loaded.inputs.secrets["core"];
    assert_eq!(core["TOKEN"].expose(), "s3cret-token-value");
    let file = loaded
        .host_files()
        .iter()
        .find(|f| f.path.ends_with("secrets/web/core/TOKEN"))
        .expect("the secret file is a host file");
    assert_eq!((file.mode, file.owner), (0o400, Some((1000, 0))));
    // Decrypted in memory only: no env file appeared beside the state.
    assert!(!t.path().join("configs/environment").exists());
}

#[test]
fn a_wrong_or_missing_identity_names_the_sealed_file() {
    let t = tempfile::tempdir().unwrap();
    sealed_tree(t.path());
    let sealed = t.path().join("configs/sealed/core.env.age");
    let wrong = key_file(t.path(), "wrong.txt", &age::x25519::Identity::generate());
    let e = error(
        load(&options(t.path()), &target(Some(wrong)))
            .err()
            .unwrap(),
    );
    assert!(
        e.contains(&format!(
            "cannot decrypt the sealed file {}",
            sealed.display()
        )),
        "{e}"
    );
    let e = error(load(&options(t.path()), &target(None)).err().unwrap());
    assert!(
        e.contains(&sealed.display().to_string()) && e.contains("--age-identity"),
        "{e}"
    );
}

#[test]
fn plaintext_and_sealed_copy_that_differ_stop_naming_the_keys() {
    let t = tempfile::tempdir().unwrap();
    let key = sealed_tree(t.path());
    let env = t.path().join("configs/environment");
    std::fs::create_dir_all(&env).unwrap();
    std::fs::write(env.join(".env.core"), ENV).unwrap();
    assert!(load(&options(t.path()), &target(Some(key.clone()))).is_ok());
    std::fs::write(env.join(".env.core"), "TOKEN=other-value\nMODE=prod\n").unwrap();
    let e = error(load(&options(t.path()), &target(Some(key))).err().unwrap());
    assert!(e.contains("differ in TOKEN"), "{e}");
    assert!(!e.contains("other-value"), "{e}");
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .status()
        .expect("git runs")
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn run_git_reads_the_sealed_copies_committed_beside_the_state() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    let key = sealed_tree(&repo);
    let outside = t.path().join("key.txt");
    std::fs::rename(&key, &outside).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "sealed"]);
    let url = format!("file://{}", repo.display());
    let git_source = GitSource::new(&url, "main", &t.path().join("cache"));
    let mut source = GitRepoSource::new(
        git_source,
        vec![PathBuf::from("configs/app")],
        false,
        target(Some(outside)),
    );
    let (loaded, revision) = source.load().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(revision.map(|r| r.len()), Some(40));
    assert_eq!(
        loaded.inputs.secrets["core"]["TOKEN"].expose(),
        "s3cret-token-value"
    );
}
