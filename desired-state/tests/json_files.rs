//! `.json` desired-state files: strict JSON, the same state as YAML, and
//! messages that point into the JSON text.

use desired_state::validate::validate;
use desired_state::yaml::parse_documents;
use desired_state::{load_sources, DesiredState, Source};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(files: &[(usize, &str, &str)]) -> (DesiredState, Vec<String>) {
    let sources: Vec<Source> = files
        .iter()
        .map(|(group, name, text)| Source {
            group: *group,
            file: PathBuf::from(name),
            text: text.to_string(),
        })
        .collect();
    let loaded = load_sources(&sources, PathBuf::from("/nonexistent-root"));
    let mut messages: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    messages.extend(validate(&loaded.state).iter().map(|d| d.to_string()));
    (loaded.state, messages)
}

fn assert_one(errs: &[String], want: &str) {
    assert!(
        errs.iter().any(|e| e.contains(want)),
        "wanted {want:?} in {errs:#?}"
    );
}

#[test]
fn trailing_comma_and_comments_are_refused_with_line_and_column() {
    let text = "{\n  \"apiVersion\": \"lucid/v1alpha1\",\n  \"kind\": \"Volume\",\n  \"metadata\": {\"name\": \"data\"},\n}\n";
    let (state, errs) = load(&[(0, "v.json", text)]);
    assert!(state.resources.is_empty());
    assert_one(&errs, "v.json:5:1: JSON syntax error: trailing comma");
    assert_one(&errs, "fix: remove the comma after the last item");

    let text =
        "{\n  \"apiVersion\": \"lucid/v1alpha1\", // the version\n  \"kind\": \"Volume\"\n}\n";
    let (_, errs) = load(&[(0, "v.json", text)]);
    assert_one(&errs, "v.json:2:35: JSON syntax error");
    assert_one(&errs, "fix: JSON has no comments");
}

#[test]
fn the_same_text_is_lenient_yaml_but_strict_json() {
    let text = "{\"apiVersion\": \"lucid/v1alpha1\", \"kind\": \"Volume\", \"metadata\": {\"name\": \"data\"},}";
    let (state, errs) = load(&[(0, "v.yaml", text)]);
    assert!(errs.is_empty(), "{errs:#?}");
    assert_eq!(state.resources.len(), 1);
    let (state, errs) = load(&[(0, "v.json", text)]);
    assert!(state.resources.is_empty());
    assert_one(&errs, "v.json:1:81: JSON syntax error: trailing comma");
}

#[test]
fn duplicate_keys_are_refused_as_in_yaml() {
    let text =
        "{\"apiVersion\": \"lucid/v1alpha1\",\n \"kind\": \"Volume\",\n \"kind\": \"Network\"}";
    let (_, errs) = load(&[(0, "v.json", text)]);
    assert_one(
        &errs,
        "v.json:3:2: duplicate key \"kind\" in the same mapping",
    );
}

/// A JSON twin of a YAML file: each YAML document becomes one `.json` file in
/// the same directory (a JSON file holds one document).
fn json_twin(file: &Path, text: &str) -> Vec<(PathBuf, String)> {
    let docs = parse_documents(file, text).unwrap_or_else(|e| panic!("{e}"));
    docs.iter()
        .enumerate()
        .map(|(i, d)| {
            let stem = file.file_stem().unwrap().to_string_lossy();
            let name = file.with_file_name(format!("{stem}.{i}.json"));
            (name, serde_json::to_string_pretty(&d.value).unwrap())
        })
        .collect()
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// configs/lucid with its local overlay, once as YAML and once as JSON.
#[test]
fn json_twins_of_the_lucid_configs_load_to_the_same_state() {
    let base = repo().join("configs/lucid");
    let overlay = base.join("overlays/local");
    let mut yaml = Vec::new();
    let mut json = Vec::new();
    for (group, dir) in [(0, &base), (1, &overlay)] {
        for file in yaml_files(dir) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (name, text) in json_twin(&file, &text) {
                json.push(Source {
                    group,
                    file: name,
                    text,
                });
            }
            yaml.push(Source { group, file, text });
        }
    }
    assert!(
        yaml.len() >= 10 && json.len() > yaml.len(),
        "configs/lucid not read"
    );
    let root = repo();
    let from_yaml = load_sources(&yaml, root.clone());
    let from_json = load_sources(&json, root);
    assert!(
        from_yaml.diagnostics.is_empty(),
        "{:#?}",
        from_yaml.diagnostics
    );
    assert!(
        from_json.diagnostics.is_empty(),
        "{:#?}",
        from_json.diagnostics
    );
    let strip = |s: &DesiredState| -> Vec<_> {
        s.resources
            .iter()
            .map(|r| (r.metadata.clone(), r.spec.clone()))
            .collect()
    };
    assert!(from_yaml.state.resources.len() > 30);
    assert_eq!(strip(&from_yaml.state), strip(&from_json.state));
    // Validation reads config files relative to the declaring file; the twins
    // sit in the same directories, so it must agree too (locations aside).
    let messages = |s: &DesiredState| -> Vec<String> {
        validate(s)
            .into_iter()
            .map(|mut d| {
                d.location = None;
                d.to_string()
            })
            .collect()
    };
    assert_eq!(messages(&from_yaml.state), messages(&from_json.state));
}

const SERVICE: &str = r#"{
  "apiVersion": "lucid/v1alpha1",
  "kind": "Service",
  "metadata": {"name": "a"},
  "spec": {
    "image": "app",
    "env": {"MIN_PAYOUT": 10},
    "enviroment": {"A": "b"},
    "ports": [{"containerPort": 80, "hostPort": 8080}]
  }
}
"#;

#[test]
fn load_errors_point_into_the_json_text() {
    let (_, errs) = load(&[(0, "a.json", &SERVICE.replace("10", "\"10\""))]);
    assert_one(
        &errs,
        "a.json:8:5: Service/a: spec.enviroment: unknown field `enviroment`",
    );
    let fixed = SERVICE.replace("    \"enviroment\": {\"A\": \"b\"},\n", "");
    let (_, errs) = load(&[(0, "a.json", &fixed)]);
    assert_one(
        &errs,
        "a.json:7:27: Service/a: spec.env.MIN_PAYOUT: invalid type: integer `10`, expected a string",
    );
}

#[test]
fn validation_errors_point_into_the_json_text() {
    let a = SERVICE
        .replace("    \"enviroment\": {\"A\": \"b\"},\n", "")
        .replace("{\"MIN_PAYOUT\": 10}", "{}");
    let b = a.replace("{\"name\": \"a\"}", "{\"name\": \"b\"}");
    let (state, errs) = load(&[(0, "a.json", &a), (0, "b.json", &b)]);
    assert_eq!(state.resources.len(), 2);
    let clash: Vec<&String> = errs.iter().filter(|e| e.contains("8080")).collect();
    assert!(!clash.is_empty(), "no host-port clash in {errs:#?}");
    assert!(
        clash
            .iter()
            .any(|e| e.starts_with("b.json:8:49:") && e.contains("(a.json:8:15)")),
        "the clash should point at hostPort in b.json: {clash:#?}"
    );
}

#[test]
fn a_yaml_overlay_patches_a_json_base() {
    let base = SERVICE
        .replace("    \"enviroment\": {\"A\": \"b\"},\n", "")
        .replace("{\"MIN_PAYOUT\": 10}", "{}");
    let overlay = "apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: a}\nspec:\n  image: other\n  enviroment: {}\n";
    let (state, errs) = load(&[(0, "a.json", &base), (1, "o.yaml", overlay)]);
    assert_one(
        &errs,
        "o.yaml:6:3: Service/a: spec.enviroment: unknown field",
    );
    assert!(state.resources.is_empty());
}
