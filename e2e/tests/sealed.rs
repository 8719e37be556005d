//! Sealed SecretSets and secretFiles against the real engine: the env files are
//! sealed with a key made here, the plaintext directory is removed, and apply
//! converges with only the identity, the values nowhere in output, labels or
//! `docker inspect` of the service that takes them as files.

use age::secrecy::ExposeSecret;
use lucid_e2e::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const TLS_SET: &str = "---\napiVersion: lucid/v1alpha1\nkind: SecretSet\nmetadata: {name: tls}\nspec: {file: .env.tls, generate: [{key: TLS_KEY, bytes: 24, encoding: hex}]}\n";
const APP_SET: &str = "---\napiVersion: lucid/v1alpha1\nkind: SecretSet\nmetadata: {name: app}\nspec: {file: .env.app, generate: [{key: API_TOKEN, bytes: 24, encoding: hex}]}\n";

fn system() -> String {
    [
        network("net"),
        TLS_SET.to_string(),
        APP_SET.to_string(),
        standin_service(
            "files",
            "net",
            8080,
            &[],
            "user: \"4242:4242\"\nsecretFiles: [{secretSet: tls, target: /run/secrets}]\n",
        ),
        standin_service("envs", "net", 8081, &[], "envFrom: [{secretSet: app}]\n"),
    ]
    .concat()
}

fn key_file(dir: &Path, name: &str) -> (PathBuf, String) {
    let id = age::x25519::Identity::generate();
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", id.to_string().expose_secret())).unwrap();
    (path, id.to_public().to_string())
}

fn env_values(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Files under `dir` (not following links) whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str, skip: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.starts_with(skip) {
            continue;
        }
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            found.extend(files_containing(&path, needle, skip));
        } else if kind.is_file()
            && std::fs::read(&path).is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle))
        {
            found.push(path);
        }
    }
    found
}

/// Fails naming the lines that hold a value, with the value masked.
#[track_caller]
fn assert_absent(text: &str, values: &[&str], what: &str) {
    let lines: Vec<String> = text
        .lines()
        .filter(|l| values.iter().any(|v| l.contains(v)))
        .map(|l| {
            let masked = values
                .iter()
                .fold(l.to_string(), |l, v| l.replace(v, "<VALUE>"));
            masked.chars().take(400).collect()
        })
        .collect();
    assert!(lines.is_empty(), "a secret value is in {what}: {lines:#?}");
}

fn secret_file(t: &TestEnv, key: &str) -> Output {
    docker(&[
        "exec",
        &t.obj("files"),
        "/standin",
        "cat",
        &format!("/run/secrets/{key}"),
    ])
}

#[test]
fn sealed_secrets_apply_with_only_the_identity_and_files_stay_out_of_inspect() {
    let Some(t) = TestEnv::new("sealed") else {
        return;
    };
    t.write("system.yaml", &system());
    let (identity, public) = key_file(&t.dir, "key.txt");
    let (wrong, _) = key_file(&t.dir, "wrong.txt");
    let identity = identity.display().to_string();
    let state = t.state_dir.display().to_string();
    let secrets = t.secrets_dir.display().to_string();

    let out = t.secrets_generate(std::slice::from_ref(&t.state_dir), &[]);
    assert!(out.success(), "{out:?}");
    let tls = env_values(&t.secrets_dir.join(".env.tls"))["TLS_KEY"].clone();
    let token = env_values(&t.secrets_dir.join(".env.app"))["API_TOKEN"].clone();
    assert_eq!((tls.len(), token.len()), (48, 48));

    let out = t.lucidctl_raw(&[
        "secrets",
        "seal",
        "-f",
        &state,
        "--secrets-dir",
        &secrets,
        "--recipient",
        &public,
    ]);
    assert!(out.success(), "{out:?}");
    let sealed = t.dir.join("sealed");
    for f in ["tls.env.age", "app.env.age", ".lucid-recipients"] {
        assert!(sealed.join(f).is_file(), "{f} missing: {out:?}");
    }
    std::fs::remove_dir_all(&t.secrets_dir).unwrap();

    // A wrong identity fails before any engine call: even with no engine at all.
    let wrong_id = wrong.display().to_string();
    let out = t.lucidctl(
        "apply",
        &[
            "--age-identity",
            &wrong_id,
            "-H",
            "unix:///nonexistent/lucid-e2e.sock",
        ],
    );
    assert_eq!(out.code(), 1, "{out:?}");
    let sealed_tls = sealed.join("tls.env.age").display().to_string();
    let sealed_app = sealed.join("app.env.age").display().to_string();
    assert!(
        out.stderr.contains(&sealed_tls) || out.stderr.contains(&sealed_app),
        "the error should name the sealed file: {out:?}"
    );
    assert!(out.stderr.contains("cannot decrypt"), "{out:?}");
    assert!(
        !out.stderr.contains("nonexistent/lucid-e2e.sock"),
        "{out:?}"
    );
    assert!(project_containers(&t.project).is_empty());

    let mut apply = t.command(&t.args_with(
        "apply",
        std::slice::from_ref(&t.state_dir),
        &["--age-identity", &identity],
    ));
    apply.env("RUST_LOG", "trace");
    let out = run(apply, LUCIDCTL_TIMEOUT);
    assert_eq!(out.code(), 0, "apply with only the identity: {out:?}");
    assert_absent(
        &out.all(),
        &[&tls, &token],
        "apply's output with RUST_LOG=trace",
    );
    assert!(
        !t.secrets_dir.exists(),
        "apply wrote the plaintext env files back"
    );
    let diff = t.diff(&["--age-identity", &identity]);
    assert_eq!(diff.code(), 0, "should be converged: {diff:?}");

    // The files service reads its value from the file, as its own user.
    let cat = secret_file(&t, "TLS_KEY");
    assert!(cat.success(), "{cat:?}");
    assert_eq!(cat.stdout, tls, "the file should hold the value");
    let inspect = docker_ok(&["inspect", &t.obj("files")]);
    assert!(
        !inspect.contains(&tls),
        "the value is visible in docker inspect"
    );
    for c in [t.obj("files"), t.obj("envs")] {
        let labels = docker_ok(&["inspect", "--format", "{{json .Config.Labels}}", &c]);
        assert!(
            !labels.contains(&tls) && !labels.contains(&token),
            "{c}: {labels}"
        );
    }
    let host_dir = t.files_dir.join(&t.project).join("secrets/files/tls");
    let meta = std::fs::metadata(host_dir.join("TLS_KEY")).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(meta.permissions().mode() & 0o7777, 0o400);
    assert_eq!((meta.uid(), meta.gid()), (4242, 4242));

    // Nothing outside the engine host's files holds a plaintext value.
    for value in [&tls, &token] {
        let found = files_containing(&t.dir, value, &t.files_dir);
        assert!(found.is_empty(), "plaintext found in {found:?}");
    }

    // Rotating TLS_KEY (restoring the env files from the sealed copies, which
    // are resealed) recreates exactly the service that takes it.
    let before = t.ids(&["files", "envs"]);
    let out = t.secrets_generate(
        std::slice::from_ref(&t.state_dir),
        &["--age-identity", &identity, "--rotate", "TLS_KEY"],
    );
    assert!(out.success(), "{out:?}");
    assert!(out.stdout.contains("rotated TLS_KEY"), "{out:?}");
    let rotated = env_values(&t.secrets_dir.join(".env.tls"))["TLS_KEY"].clone();
    assert_ne!(rotated, tls);
    assert_eq!(
        env_values(&t.secrets_dir.join(".env.app"))["API_TOKEN"],
        token
    );
    std::fs::remove_dir_all(&t.secrets_dir).unwrap();
    let out = t.apply(&["--age-identity", &identity]);
    assert_eq!(out.code(), 0, "{out:?}");
    let after = t.ids(&["files", "envs"]);
    assert_ne!(before[0], after[0], "files should be recreated");
    assert_eq!(before[1], after[1], "envs takes nothing that changed");
    assert_eq!(secret_file(&t, "TLS_KEY").stdout, rotated);
    assert_absent(&out.all(), &[&rotated], "apply's output");
}
