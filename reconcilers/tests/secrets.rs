//! The SecretSet generator (issue 8): value lengths and encodings, idempotence,
//! `--rotate`, mode 0600 and atomic writes, and what `check` reports. Real files
//! in a temp directory; no engine.

use base64::Engine as _;
use desired_state::{DesiredState, LoadOptions};
use reconcilers::prepare::parse_env_file;
use reconcilers::secrets::{self, SecretsError};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A fresh directory per test (tests run in parallel), removed on drop.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("lucid-secrets-{name}-"))
        .tempdir()
        .unwrap()
}

/// One SecretSet `app` with a key of every encoding and two declared bytes counts.
const APP: &str = "---
apiVersion: lucid/v1alpha1
kind: SecretSet
metadata: {name: app}
spec:
  file: .env.app
  generate:
    - {key: B64_32, bytes: 32, encoding: base64}
    - {key: B64_64, bytes: 64, encoding: base64}
    - {key: DEFAULT_24, bytes: 24}
    - {key: URL_48, bytes: 48, encoding: base64url}
    - {key: URL_33, bytes: 33, encoding: base64url}
    - {key: HEX_16, bytes: 16, encoding: hex}
    - {key: HEX_32, bytes: 32, encoding: hex}
  values:
    GIVEN: as-declared
    PORT: \"6379\"
";

fn state(dir: &Path, yaml: &str) -> DesiredState {
    let file = dir.join("state/secrets.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, yaml).unwrap();
    let options = LoadOptions {
        paths: vec![file],
        recursive: false,
        root: None,
    };
    match desired_state::load_valid(&options) {
        Ok((state, _)) => state,
        Err(invalid) => panic!("test state does not validate: {:?}", invalid.errors),
    }
}

fn values(path: &Path) -> BTreeMap<String, String> {
    parse_env_file(&std::fs::read_to_string(path).unwrap())
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Decodes a value the way its consumer would, so a wrong alphabet or padding fails.
fn decoded_len(value: &str, encoding: &str) -> usize {
    let bytes = match encoding {
        "base64" => base64::engine::general_purpose::STANDARD.decode(value),
        "base64url" => base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value),
        "hex" => {
            assert!(
                value.len() % 2 == 0
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "not lowercase hex: {value:?}"
            );
            return value.len() / 2;
        }
        other => panic!("unknown encoding {other}"),
    };
    bytes
        .unwrap_or_else(|e| panic!("{value:?} is not {encoding}: {e}"))
        .len()
}

#[test]
fn generated_values_decode_to_the_declared_bytes_in_the_declared_encoding() {
    let tmp = temp_dir("enc");
    let st = state(&tmp.path(), APP);
    let env = tmp.path().join("env");
    let reports = secrets::generate(&st, &env, &[], &Default::default()).unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].generated,
        [
            "B64_32",
            "B64_64",
            "DEFAULT_24",
            "URL_48",
            "URL_33",
            "HEX_16",
            "HEX_32"
        ]
    );
    let v = values(&env.join(".env.app"));
    for (key, encoding, bytes, chars) in [
        ("B64_32", "base64", 32, 44),
        ("B64_64", "base64", 64, 88),
        // base64 is the default encoding.
        ("DEFAULT_24", "base64", 24, 32),
        ("URL_48", "base64url", 48, 64),
        // Unpadded: 33 bytes are 44 characters, no '='.
        ("URL_33", "base64url", 33, 44),
        ("HEX_16", "hex", 16, 32),
        ("HEX_32", "hex", 32, 64),
    ] {
        let value = &v[key];
        assert_eq!(value.len(), chars, "{key}: {value:?}");
        assert_eq!(decoded_len(value, encoding), bytes, "{key}");
    }
    assert!(!v["URL_33"].contains(['+', '/', '=']), "{:?}", v["URL_33"]);
    assert_eq!(v["GIVEN"], "as-declared");
    assert_eq!(v["PORT"], "6379");
    // Random, not derived from the key: seven keys, seven different values.
    let generated: std::collections::BTreeSet<&String> =
        reports[0].generated.iter().map(|k| &v[k]).collect();
    assert_eq!(generated.len(), 7);
    assert!(secrets::check(&st, &env, &Default::default()).is_empty());
}

#[test]
fn a_second_generate_keeps_every_value_and_fills_only_missing_keys() {
    let tmp = temp_dir("idem");
    let st = state(&tmp.path(), APP);
    let env = tmp.path().join("env");
    let path = env.join(".env.app");
    secrets::generate(&st, &env, &[], &Default::default()).unwrap();
    let first = values(&path);
    let text = std::fs::read_to_string(&path).unwrap();

    // Nothing missing: nothing generated, the file is not even rewritten.
    let again = secrets::generate(&st, &env, &[], &Default::default()).unwrap();
    assert!(again[0].generated.is_empty() && again[0].rotated.is_empty());
    assert_eq!(again[0].kept.len(), 7);
    assert!(!again[0].written, "an unchanged file is left alone");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    // One key lost by hand: only it is generated, the others are kept byte for byte.
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("HEX_16="))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, without).unwrap();
    let fill = secrets::generate(&st, &env, &[], &Default::default()).unwrap();
    assert_eq!(fill[0].generated, ["HEX_16"]);
    assert_eq!(fill[0].kept.len(), 6);
    let second = values(&path);
    assert_ne!(second["HEX_16"], first["HEX_16"]);
    assert_eq!(second["HEX_16"].len(), 32);
    for (k, v) in &first {
        if k != "HEX_16" {
            assert_eq!(&second[k], v, "{k} was kept");
        }
    }
}

#[test]
fn rotate_replaces_exactly_the_named_value() {
    let tmp = temp_dir("rotate");
    let st = state(&tmp.path(), APP);
    let env = tmp.path().join("env");
    let path = env.join(".env.app");
    secrets::generate(&st, &env, &[], &Default::default()).unwrap();
    let before = values(&path);
    let reports =
        secrets::generate(&st, &env, &["B64_64".to_string()], &Default::default()).unwrap();
    assert_eq!(reports[0].rotated, ["B64_64"]);
    assert!(reports[0].generated.is_empty());
    assert!(reports[0].written);
    let after = values(&path);
    assert_eq!(before.len(), after.len());
    for (k, v) in &before {
        if k == "B64_64" {
            assert_ne!(&after[k], v, "rotated");
            assert_eq!(decoded_len(&after[k], "base64"), 64);
        } else {
            assert_eq!(&after[k], v, "{k} is untouched by --rotate B64_64");
        }
    }
}

#[test]
fn rotating_a_key_no_set_generates_fails_and_writes_nothing() {
    let tmp = temp_dir("unknown");
    let st = state(&tmp.path(), APP);
    let env = tmp.path().join("env");
    secrets::generate(&st, &env, &[], &Default::default()).unwrap();
    let text = std::fs::read_to_string(env.join(".env.app")).unwrap();
    // GIVEN is declared, but as a value: there is nothing to rotate.
    for key in ["NOPE", "GIVEN"] {
        let err =
            secrets::generate(&st, &env, &[key.to_string()], &Default::default()).unwrap_err();
        assert!(
            matches!(&err, SecretsError::UnknownKey(k) if k == key),
            "{err}"
        );
    }
    assert_eq!(std::fs::read_to_string(env.join(".env.app")).unwrap(), text);
}

#[test]
fn env_files_are_mode_0600_and_written_without_leftover_temp_files() {
    let tmp = temp_dir("mode");
    let st = state(&tmp.path(), APP);
    let env = tmp.path().join("env");
    let path = env.join(".env.app");
    secrets::generate(&st, &env, &[], &Default::default()).unwrap();
    assert_eq!(mode(&path), 0o600);

    // A file someone made world-readable, with every value present, is tightened
    // even though no value changes.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = values(&path);
    let reports = secrets::generate(&st, &env, &[], &Default::default()).unwrap();
    assert!(reports[0].written, "the mode alone is a reason to rewrite");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(values(&path), before);

    secrets::generate(&st, &env, &["HEX_32".to_string()], &Default::default()).unwrap();
    assert_eq!(mode(&path), 0o600);
    // Written through a temp file renamed into place: only the env file remains.
    let names: Vec<String> = std::fs::read_dir(&env)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [".env.app"]);
}

#[test]
fn check_reports_missing_files_keys_empty_values_and_placeholders() {
    let tmp = temp_dir("check");
    let st = state(&tmp.path(), APP);
    let env = tmp.path().join("env");
    let path = env.join(".env.app");
    let missing = secrets::check(&st, &env, &Default::default());
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].contains(".env.app is missing"), "{missing:?}");

    secrets::generate(&st, &env, &[], &Default::default()).unwrap();
    assert!(secrets::check(&st, &env, &Default::default()).is_empty());
    let text = std::fs::read_to_string(&path).unwrap();
    let broken: String = text
        .lines()
        .filter(|l| !l.starts_with("HEX_32="))
        .map(|l| {
            if l.starts_with("B64_32=") {
                "B64_32=\n".to_string()
            } else if l.starts_with("URL_48=") {
                "URL_48=${URL_48}\n".to_string()
            } else if l.starts_with("GIVEN=") {
                "GIVEN=<CHANGE_ME>\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&path, broken).unwrap();
    let problems = secrets::check(&st, &env, &Default::default());
    assert_eq!(problems.len(), 4, "{problems:?}");
    for expected in ["has no HEX_32", "B64_32 is empty", "URL_48 in", "GIVEN in"] {
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{expected:?} not in {problems:?}"
        );
    }
    // generate repairs all of it, as the build plan's validation demands: missing,
    // empty and placeholder generated keys get fresh values, given values are rewritten,
    // and the values that were fine are kept.
    let before = values(&path);
    let reports = secrets::generate(&st, &env, &[], &Default::default()).unwrap();
    let mut generated = reports[0].generated.clone();
    generated.sort();
    assert_eq!(generated, ["B64_32", "HEX_32", "URL_48"]);
    assert!(reports[0].rotated.is_empty());
    let after = values(&path);
    assert_eq!(after["GIVEN"], "as-declared");
    assert_eq!(decoded_len(&after["URL_48"], "base64url"), 48);
    assert_eq!(after["B64_64"], before["B64_64"]);
    assert!(secrets::check(&st, &env, &Default::default()).is_empty());
}
