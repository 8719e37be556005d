//! `lucidctl secrets seal|reseal|check|generate` with sealed copies, and the
//! load-time checks of `diff`, as a user runs them: the built binary on a temp
//! directory, with age keys made here. No engine is needed: every failure
//! shown here happens before lucidctl would connect to one.

use age::secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

const STATE: &str = "---
apiVersion: lucid/v1alpha1
kind: SecretSet
metadata: {name: core}
spec:
  file: .env.core
  generate:
    - {key: DB_PASSWORD, bytes: 32, encoding: hex}
    - {key: SIGNING_KEY, bytes: 32, encoding: hex}
  values: {DB_HOST: lucid-db}
";

#[derive(Debug)]
struct Out {
    code: i32,
    all: String,
}

struct World {
    _tmp: tempfile::TempDir,
    state: PathBuf,
    env: PathBuf,
    sealed: PathBuf,
    keys: PathBuf,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::Builder::new()
            .prefix("lucid-sealed-cli-")
            .tempdir()
            .unwrap();
        let state = tmp.path().join("configs/app");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(state.join("secrets.yaml"), STATE).unwrap();
        let keys = tmp.path().join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        World {
            env: tmp.path().join("configs/environment"),
            sealed: tmp.path().join("configs/sealed"),
            state,
            keys,
            _tmp: tmp,
        }
    }

    /// A new age key pair: the identity file and the public key.
    fn key(&self, name: &str) -> (String, String) {
        let id = age::x25519::Identity::generate();
        let path = self.keys.join(name);
        std::fs::write(&path, format!("{}\n", id.to_string().expose_secret())).unwrap();
        (path.display().to_string(), id.to_public().to_string())
    }

    fn run(&self, args: &[&str]) -> Out {
        let out = Command::new(env!("CARGO_BIN_EXE_lucidctl"))
            .args(args)
            .arg("-f")
            .arg(&self.state)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "trace")
            .env_remove("LUCID_AGE_IDENTITY")
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            all: format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    fn values(&self) -> BTreeMap<String, String> {
        std::fs::read_to_string(self.env.join(".env.core"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sealed_bytes(&self) -> Vec<u8> {
        std::fs::read(self.sealed.join("core.env.age")).unwrap()
    }
}

#[track_caller]
fn assert_no_value(values: &BTreeMap<String, String>, out: &Out) {
    for (k, v) in values {
        if k != "DB_HOST" {
            assert!(!out.all.contains(v.as_str()), "{k}'s value was printed");
        }
    }
}

#[test]
fn seal_check_restore_rotate_and_reseal_keep_sealed_copies_in_step() {
    let w = World::new();
    let (key_a, public_a) = w.key("a.txt");
    let (key_b, public_b) = w.key("b.txt");

    let out = w.run(&["secrets", "generate"]);
    assert_eq!(out.code, 0, "{out:?}");
    let values = w.values();
    let out = w.run(&["secrets", "seal", "--recipient", &public_a]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_no_value(&values, &out);
    let sealed = String::from_utf8(w.sealed_bytes()).unwrap();
    assert!(
        sealed.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "{sealed}"
    );
    assert!(!sealed.contains(&values["DB_PASSWORD"]));
    let recipients = std::fs::read_to_string(w.sealed.join(".lucid-recipients")).unwrap();
    assert!(recipients.contains(&public_a), "{recipients}");

    let out = w.run(&["secrets", "check", "--age-identity", &key_a]);
    assert_eq!(out.code, 0, "{out:?}");

    // Both present and different: check and diff name the key, never a value.
    let text = std::fs::read_to_string(w.env.join(".env.core")).unwrap();
    let edited = text.replace(&values["DB_PASSWORD"], "0123456789abcdef-edited");
    std::fs::write(w.env.join(".env.core"), edited).unwrap();
    let out = w.run(&["secrets", "check", "--age-identity", &key_a]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.all.contains("differ in DB_PASSWORD"), "{out:?}");
    assert!(!out.all.contains("0123456789abcdef-edited"), "{out:?}");
    let nowhere = ["-H", "unix:///nonexistent/lucid-sealed-cli.sock"];
    let out = w.run(&[&["diff", "--age-identity", &key_a][..], &nowhere].concat());
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.all.contains("differ in DB_PASSWORD"), "{out:?}");
    assert!(
        !out.all.contains("lucid-sealed-cli.sock"),
        "no engine call: {out:?}"
    );
    assert_no_value(&values, &out);

    // No env file: generate without an identity refuses to make new values;
    // with one it restores them and leaves the sealed copy as it was.
    std::fs::remove_dir_all(&w.env).unwrap();
    let before = w.sealed_bytes();
    let out = w.run(&["secrets", "generate"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.all.contains("core.env.age"), "{out:?}");
    assert!(!w.env.join(".env.core").exists());
    let out = w.run(&["secrets", "generate", "--age-identity", &key_a]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.all.contains("restored from the sealed copy"), "{out:?}");
    assert_eq!(w.values(), values);
    assert_eq!(
        w.sealed_bytes(),
        before,
        "an unchanged set was sealed again"
    );
    assert_no_value(&values, &out);

    let out = w.run(&[
        "secrets",
        "generate",
        "--age-identity",
        &key_a,
        "--rotate",
        "SIGNING_KEY",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let rotated = w.values();
    assert_ne!(rotated["SIGNING_KEY"], values["SIGNING_KEY"]);
    assert_ne!(w.sealed_bytes(), before, "the rotated value was not sealed");
    let out = w.run(&["secrets", "check", "--age-identity", &key_a]);
    assert_eq!(out.code, 0, "{out:?}");

    // Reseal for B only, from the sealed copy: A can no longer open it.
    std::fs::remove_dir_all(&w.env).unwrap();
    let out = w.run(&[
        "secrets",
        "reseal",
        "--age-identity",
        &key_a,
        "--recipient",
        &public_b,
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!w.env.exists(), "reseal wrote plaintext");
    let out = w.run(&["secrets", "check", "--age-identity", &key_b]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = w.run(&[&["diff", "--age-identity", &key_a][..], &nowhere].concat());
    assert_eq!(out.code, 1, "{out:?}");
    let sealed_path = w.sealed.join("core.env.age").display().to_string();
    assert!(
        out.all
            .contains(&format!("cannot decrypt the sealed file {sealed_path}")),
        "{out:?}"
    );
    assert_no_value(&rotated, &out);
    let out = w.run(&[&["diff"][..], &nowhere].concat());
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.all.contains("no identity was given"), "{out:?}");
}
