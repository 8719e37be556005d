//! Builds states from YAML text for rule tests, with no files involved.

use crate::load::{load_sources, Source};
use crate::state::DesiredState;
use crate::Diagnostic;
use std::path::PathBuf;

pub const HEADER: &str = "apiVersion: lucid/v1alpha1\n";

/// Loads one file's worth of YAML; panics on load errors since tests give valid YAML.
pub fn state(yaml: &str) -> DesiredState {
    let sources = [Source {
        group: 0,
        file: PathBuf::from("test.yaml"),
        text: yaml.to_string(),
    }];
    let loaded = load_sources(&sources, PathBuf::from("/nonexistent-root"));
    assert!(
        loaded.diagnostics.is_empty(),
        "load failed: {:?}",
        loaded.diagnostics
    );
    loaded.state
}

/// The messages one rule produces, rendered as the user sees them.
pub fn messages(diags: &[Diagnostic]) -> Vec<String> {
    diags.iter().map(|d| d.to_string()).collect()
}

pub fn service(name: &str, body: &str) -> String {
    format!("---\n{HEADER}kind: Service\nmetadata: {{name: {name}}}\nspec:\n  image: app\n{body}")
}

pub fn network(name: &str, body: &str) -> String {
    format!("---\n{HEADER}kind: Network\nmetadata: {{name: {name}}}\nspec: {body}\n")
}
