//! secretFiles `keys` against the real engine (issue 19): a service given
//! some keys of a SecretSet finds those files in its directory and no other,
//! and a change to a key it does not take leaves its container alone.

use lucid_e2e::*;
use std::collections::BTreeMap;
use std::path::Path;

const SET: &str = "---\napiVersion: lucid/v1alpha1\nkind: SecretSet\nmetadata: {name: db}\nspec: {file: .env.db, generate: [{key: DB_PASSWORD, bytes: 24, encoding: hex}, {key: ADMIN_TOKEN, bytes: 24, encoding: hex}]}\n";

fn env_values(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn cat(t: &TestEnv, key: &str) -> Output {
    docker(&[
        "exec",
        &t.obj("app"),
        "/standin",
        "cat",
        &format!("/run/secrets/{key}"),
    ])
}

#[test]
fn secret_files_with_keys_hold_only_those_keys() {
    let Some(t) = TestEnv::new("secretkeys") else {
        return;
    };
    let system = |keys: &str| {
        [
            network("net"),
            SET.to_string(),
            standin_service(
                "app",
                "net",
                8080,
                &[],
                &format!("user: \"4242:4242\"\nsecretFiles: [{{secretSet: db, target: /run/secrets, keys: [{keys}]}}]\n"),
            ),
        ]
        .concat()
    };
    t.write("system.yaml", &system("DB_PASSWORD"));
    let generated = t.secrets_generate(std::slice::from_ref(&t.state_dir), &[]);
    assert!(generated.success(), "{generated:?}");
    let env = t.secrets_dir.join(".env.db");
    let values = env_values(&env);
    t.apply_ok(&[]);

    let read = cat(&t, "DB_PASSWORD");
    assert!(read.success(), "{read:?}");
    assert_eq!(read.stdout, values["DB_PASSWORD"]);
    assert!(
        !cat(&t, "ADMIN_TOKEN").success(),
        "a key the service does not take is no file in its directory"
    );
    let host_dir = t.files_dir.join(&t.project).join("secrets/app/db");
    let names = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&host_dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(), ["DB_PASSWORD"], "{}", host_dir.display());
    t.assert_converged();

    // Rotating the key it does not take leaves the container alone;
    // rotating the one it takes recreates it with the new file.
    let before = t.ids(&["app"]);
    let out = t.secrets_generate(
        std::slice::from_ref(&t.state_dir),
        &["--rotate", "ADMIN_TOKEN"],
    );
    assert!(out.success(), "{out:?}");
    t.apply_ok(&[]);
    assert_eq!(before, t.ids(&["app"]), "ADMIN_TOKEN is not the app's");
    let out = t.secrets_generate(
        std::slice::from_ref(&t.state_dir),
        &["--rotate", "DB_PASSWORD"],
    );
    assert!(out.success(), "{out:?}");
    t.apply_ok(&[]);
    assert_ne!(before, t.ids(&["app"]), "DB_PASSWORD changed");
    assert_eq!(
        cat(&t, "DB_PASSWORD").stdout,
        env_values(&env)["DB_PASSWORD"]
    );

    // Given ADMIN_TOKEN too, then narrowed again: the dropped key's file is
    // removed, so the container can no longer read it.
    t.write("system.yaml", &system("DB_PASSWORD, ADMIN_TOKEN"));
    t.apply_ok(&[]);
    assert!(cat(&t, "ADMIN_TOKEN").success(), "widened: readable");
    t.write("system.yaml", &system("DB_PASSWORD"));
    t.apply_ok(&[]);
    assert!(
        !cat(&t, "ADMIN_TOKEN").success(),
        "narrowed: a key no longer given is not readable any more"
    );
    assert_eq!(names(), ["DB_PASSWORD"], "{}", host_dir.display());
    t.assert_converged();
}
