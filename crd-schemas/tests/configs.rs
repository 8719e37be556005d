//! Every YAML document in configs/ against the committed schemas, with an
//! independent validator and YAML parser (not lucidctl's loader).
//!
//! Base documents must match `lucid.schema.json`. Overlay documents (files
//! with an `overlays` directory in their path) are RFC 7386 merge patches, so
//! they are checked against `lucid-overlay.schema.json`: the same envelope,
//! kinds and field types, unknown fields still rejected, but nothing in
//! `spec` required and `null` allowed where it deletes a merged field.

mod common;

use common::*;
use serde_json::Value;

const HEADER: &str = "# yaml-language-server: $schema=";

/// Fewer documents than this means configs/ is missing or unread, not valid.
const MIN_DOCUMENTS: usize = 10;

#[test]
fn every_config_document_matches_the_schema() {
    let base_schema = committed(crd_schemas::COMBINED);
    let overlay_schema = committed(crd_schemas::OVERLAY);
    let base = validator(&base_schema);
    let overlay = validator(&overlay_schema);
    let files = config_files();
    let (mut base_docs, mut overlay_docs) = (0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let shown = relative(file);
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{shown}: cannot read: {e}"));
                continue;
            }
        };
        let docs = match yaml_documents(&text) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{shown}: not YAML: {e}"));
                continue;
            }
        };
        let is_overlay = is_overlay(file);
        let (validator, schema) = if is_overlay {
            (&overlay, &overlay_schema)
        } else {
            (&base, &base_schema)
        };
        for (i, doc) in docs.iter().enumerate() {
            if is_overlay {
                overlay_docs += 1;
            } else {
                base_docs += 1;
            }
            if validator.is_valid(doc) {
                continue;
            }
            let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("?");
            let name = doc
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let mut errs = errors(validator, doc);
            if desired_state::model::Kind::parse(kind).is_some() {
                errs = errors(&common::validator(&narrowed(schema, kind, is_overlay)), doc);
            }
            failures.push(format!(
                "{shown}: document {} ({kind}/{name}):\n      {}",
                i + 1,
                errs.join("\n      ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} document(s) in configs/ do not match the schema:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    let total = base_docs + overlay_docs;
    assert!(
        total >= MIN_DOCUMENTS && base_docs > 0,
        "only {total} document(s) ({base_docs} base, {overlay_docs} overlay) in {} YAML file(s) under configs/; \
         expected at least {MIN_DOCUMENTS}, so the check cannot pass vacuously",
        files.len()
    );
    println!(
        "validated {base_docs} base and {overlay_docs} overlay documents in {} files",
        files.len()
    );
}

/// For editors: base files point at `lucid.schema.json`, overlay files at
/// `lucid-overlay.schema.json`, by a path relative to the file that resolves.
#[test]
fn every_config_file_names_the_schema_on_its_first_line() {
    let files = config_files();
    assert!(!files.is_empty(), "no YAML files under configs/");
    let base = std::fs::canonicalize(crd_schemas::schema_dir().join(crd_schemas::COMBINED))
        .expect("lucid.schema.json is generated");
    let overlay = std::fs::canonicalize(crd_schemas::schema_dir().join(crd_schemas::OVERLAY))
        .expect("lucid-overlay.schema.json is generated");
    let mut failures = Vec::new();
    for file in &files {
        let shown = relative(file);
        let dir = file.parent().expect("files have a directory");
        // Overlays are partial: the strict schema would flag every missing field.
        let schema = if is_overlay(file) { &overlay } else { &base };
        let want = relative_path(dir, schema);
        let first = std::fs::read_to_string(file)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_string))
            .unwrap_or_default();
        let Some(rel) = first.strip_prefix(HEADER).map(str::trim) else {
            failures.push(format!(
                "{shown}: the first line is {first:?}; it must be `{HEADER}{want}`"
            ));
            continue;
        };
        let resolved = std::fs::canonicalize(dir.join(rel));
        let ok = match &resolved {
            Ok(p) => p == schema,
            Err(_) => false,
        };
        if !ok {
            let what = match resolved {
                Ok(p) => format!("resolves to {}", p.display()),
                Err(_) => "does not exist".to_string(),
            };
            failures.push(format!(
                "{shown}: $schema={rel} {what}; use `{HEADER}{want}`"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} file(s) under configs/ lack a working schema line:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// `target` relative to `from` (both absolute), for the hint.
fn relative_path(from: &std::path::Path, target: &std::path::Path) -> String {
    let from = std::fs::canonicalize(from).unwrap_or_else(|_| from.to_path_buf());
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = target.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
    parts.extend(
        b[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}
