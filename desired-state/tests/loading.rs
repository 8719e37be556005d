//! One test per load-time rule: each shows the message a user sees.

use desired_state::{load_sources, validate::validate, Source};
use std::path::PathBuf;

const H: &str = "apiVersion: lucid/v1alpha1\n";

fn load(files: &[(usize, &str, &str)]) -> (desired_state::DesiredState, Vec<String>) {
    let sources: Vec<Source> = files
        .iter()
        .map(|(group, name, text)| Source {
            group: *group,
            file: PathBuf::from(name),
            text: text.to_string(),
        })
        .collect();
    let loaded = load_sources(&sources, PathBuf::from("/nonexistent-root"));
    (
        loaded.state,
        loaded.diagnostics.iter().map(|d| d.to_string()).collect(),
    )
}

fn errors(text: &str) -> Vec<String> {
    load(&[(0, "a.yaml", text)]).1
}

fn assert_one(errs: &[String], want: &str) {
    assert!(
        errs.iter().any(|e| e.contains(want)),
        "wanted {want:?} in {errs:#?}"
    );
}

#[test]
fn syntax_error_names_line_and_column() {
    let errs = errors(&format!("{H}kind: Service\nmetadata: {{name: a\n"));
    assert_one(&errs, "a.yaml:4:1:");
    assert_one(&errs, "YAML syntax error");
}

#[test]
fn unknown_field_suggests_the_right_one() {
    let errs = errors(&format!(
        "{H}kind: Service\nmetadata: {{name: a}}\nspec:\n  image: app\n  enviroment: {{A: b}}\n"
    ));
    assert_one(
        &errs,
        "a.yaml:6:3: Service/a: spec.enviroment: unknown field `enviroment`",
    );
    assert_one(&errs, "fix: expected one of `image`, `command`");
}

#[test]
fn wrong_type_says_to_quote() {
    let errs = errors(&format!(
        "{H}kind: Service\nmetadata: {{name: a}}\nspec:\n  image: app\n  env: {{MIN_PAYOUT: 10}}\n"
    ));
    assert_one(&errs, "a.yaml:6:21: Service/a: spec.env.MIN_PAYOUT: invalid type: integer `10`, expected a string");
    assert_one(&errs, "fix: quote the value");
}

#[test]
fn missing_required_field() {
    let errs = errors(&format!(
        "{H}kind: Service\nmetadata: {{name: a}}\nspec: {{command: [x]}}\n"
    ));
    assert_one(&errs, "Service/a: spec: missing field `image`");
    assert_one(&errs, "fix: add `image`");
}

#[test]
fn unknown_kind_and_api_version() {
    let errs = errors(&format!("{H}kind: Servise\nmetadata: {{name: a}}\n---\napiVersion: v1\nkind: Network\nmetadata: {{name: n}}\n"));
    assert_one(
        &errs,
        "a.yaml:2:7: kind: unknown kind \"Servise\"\n  fix: did you mean Service?",
    );
    assert_one(
        &errs,
        "a.yaml:5:13: apiVersion: unknown apiVersion \"v1\"\n  fix: use apiVersion: lucid/v1alpha1",
    );
}

#[test]
fn bad_scalars_durations_sizes_cidrs_ips_images() {
    let doc = format!(
        "{H}kind: Service\nmetadata: {{name: a}}\nspec:\n  image: app\n  healthcheck: {{test: [CMD, x], interval: 10x}}\n---\n{H}kind: Service\nmetadata: {{name: b}}\nspec:\n  image: app\n  resources: {{memory: 12 parsecs}}\n---\n{H}kind: Network\nmetadata: {{name: n}}\nspec: {{subnet: 172.20.0.0/33}}\n---\n{H}kind: Service\nmetadata: {{name: c}}\nspec:\n  image: app\n  ports: [{{containerPort: 1, hostIP: 300.1.1.1}}]\n---\n{H}kind: Service\nmetadata: {{name: d}}\nspec: {{image: Pickme/Redis}}\n"
    );
    let errs = errors(&doc);
    assert_one(
        &errs,
        "Service/a: spec.healthcheck.interval: invalid duration \"10x\"",
    );
    assert_one(
        &errs,
        "Service/b: spec.resources.memory: invalid size \"12 parsecs\"",
    );
    assert_one(
        &errs,
        "Network/n: spec.subnet: invalid CIDR \"172.20.0.0/33\"",
    );
    assert_one(
        &errs,
        "Service/c: spec.ports[0].hostIP: invalid IP address syntax",
    );
    assert_one(
        &errs,
        "Service/d: spec.image: invalid image reference \"Pickme/Redis\"",
    );
}

#[test]
fn duplicate_resources_in_one_layer_are_errors() {
    let doc = format!(
        "{H}kind: Network\nmetadata: {{name: n}}\n---\n{H}kind: Network\nmetadata: {{name: n}}\n"
    );
    let errs = load(&[(0, "a.yaml", &doc)]).1;
    assert_one(
        &errs,
        "a.yaml:5:1: duplicate resource Network/n\n  fix: it is already declared at a.yaml:1:1",
    );
}

#[test]
fn overlays_merge_patch_and_delete() {
    let base = format!(
        "{H}kind: Service\nmetadata: {{name: a, labels: {{phase: core}}}}\nspec:\n  image: app\n  env: {{A: '1', B: '2'}}\n---\n{H}kind: Image\nmetadata: {{name: i}}\nspec: {{ref: app}}\n"
    );
    let overlay = format!(
        "{H}kind: Service\nmetadata: {{name: a}}\nspec:\n  image: standin\n  env: {{B: null, C: '3'}}\n---\n{H}kind: Image\nmetadata: {{name: i}}\n$patch: delete\n"
    );
    let (state, errs) = load(&[(0, "base/a.yaml", &base), (1, "overlay/a.yaml", &overlay)]);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(state.resources.len(), 1);
    let svc = &state.resources[0];
    let w = svc.spec.workload().unwrap();
    assert_eq!(w.image.as_str(), "standin");
    assert_eq!(w.env.keys().collect::<Vec<_>>(), ["A", "C"]);
    assert_eq!(svc.metadata.labels["phase"], "core");
    // A field set by the overlay is located in the overlay; the rest in the base.
    assert_eq!(
        svc.locate("/spec/image").unwrap().to_string(),
        "overlay/a.yaml:5:10"
    );
    assert_eq!(
        svc.locate("/spec/env/A").unwrap().file,
        PathBuf::from("base/a.yaml")
    );
    assert_eq!(svc.origin.base_dir("/spec/image"), PathBuf::from("overlay"));
}

#[test]
fn deleting_what_does_not_exist_is_an_error() {
    let errs = load(&[(
        1,
        "o.yaml",
        &format!("{H}kind: Image\nmetadata: {{name: x}}\n$patch: delete\n"),
    )])
    .1;
    assert_one(
        &errs,
        "$patch: delete names Image/x, which no earlier -f declares",
    );
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let doc = format!(
        "{H}kind: Service\nmetadata: {{name: a}}\nspec: {{image: app, bogus: 1}}\n---\n{H}kind: Service\nmetadata: {{name: b}}\nspec: {{image: app, networks: [{{name: nowhere}}]}}\n"
    );
    let (state, mut errs) = load(&[(0, "a.yaml", &doc)]);
    errs.extend(validate(&state).iter().map(|d| d.to_string()));
    assert_one(&errs, "Service/a: spec.bogus: unknown field");
    assert_one(
        &errs,
        "Service/b: spec.networks[0].name: refers to Network \"nowhere\"",
    );
}

#[test]
fn non_mapping_documents_and_garbage_do_not_panic() {
    for text in [
        "- a\n- b\n",
        "42",
        "{",
        "\t\tx: y",
        "a: *nope",
        "---\n---\n",
        "kind: [\n",
        "\u{0}\u{1}",
    ] {
        let _ = errors(text);
    }
    assert_one(&errors("- a\n"), "a document must be a mapping");
}

/// Issue 18, defect 4: a FIFO named `x.yaml` in a `-f` directory hung the
/// loader, and a `.yaml` symlink to /dev/zero read until memory ran out.
#[test]
fn special_files_are_refused_with_their_path_not_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("x.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg("--")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.yaml")).expect("symlink");
    let started = std::time::Instant::now();
    let loaded = desired_state::load(&desired_state::LoadOptions {
        paths: vec![dir.path().to_path_buf()],
        recursive: false,
        root: None,
    });
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the loader hung"
    );
    let text: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    for name in ["x.yaml", "zero.yaml"] {
        assert!(
            text.iter()
                .any(|d| d.contains(name) && d.contains("not a regular file")),
            "{name}: {text:?}"
        );
    }
    // The FIFO itself as -f: named, not "Not a directory".
    let direct = desired_state::load(&desired_state::LoadOptions {
        paths: vec![fifo.clone()],
        recursive: false,
        root: None,
    });
    let text: Vec<String> = direct.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(
        text.iter().any(|d| d.contains("not a regular file")),
        "{text:?}"
    );
}

/// Issue 18, defect 10: a NUL byte was reported as "unexpected end of
/// stream", and invalid UTF-8 at :0:0 with no fix line.
#[test]
fn nul_bytes_and_invalid_utf8_are_named_with_their_line_and_column() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("nul.yaml"),
        b"apiVersion: lucid/v1alpha1\nkind: Vo\0lume\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("latin1.yaml"), b"a: 1\nb: caf\xe9\n").expect("write");
    let loaded = desired_state::load(&desired_state::LoadOptions {
        paths: vec![dir.path().to_path_buf()],
        recursive: false,
        root: None,
    });
    let text: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(text.iter().any(|d| d.contains("nul.yaml:2:9: the file contains a NUL byte") && d.contains("fix:")), "{text:?}");
    assert!(
        text.iter().any(
            |d| d.contains("latin1.yaml:2:7: the file is not valid UTF-8")
                && d.contains("fix: save the file as UTF-8")
        ),
        "{text:?}"
    );
}
