//! JSON Schemas (draft 2020-12) for lucidctl's resource files, generated from
//! the `desired-state` model types with schemars, for editors (the
//! yaml-language-server `$schema` comment) and for independent validation.
//!
//! Files produced by [`schemas`]:
//! - `<kind>.schema.json`, one per kind: a whole document of that kind.
//! - `lucid.schema.json`: any one document of any kind. A `oneOf` over the
//!   eight per-kind document schemas, each pinned by its `kind` const, so an
//!   editor offers the kinds and, once `kind` is set, that kind's `spec` fields.
//! - `lucid-overlay.schema.json`: the same for overlay documents, which are
//!   RFC 7386 merge patches: no field of `spec` is required (they merge into
//!   the base), an optional field or map entry may be `null` (which deletes
//!   it), unknown fields and wrong types are still errors, and lists, which
//!   replace the base's list whole, are as strict as in a base document.
//!
//! The committed copies live in `crd-schemas/schemas/`; regenerate them with
//! `cargo run -p crd-schemas --bin generate-schemas`.

pub mod explain;

use desired_state::model::{
    ConfigFileSpec, ImageSpec, IsolationPolicySpec, Kind, Metadata, NetworkSpec, SecretSetSpec,
    VolumeSpec, WorkloadSpec, API_VERSION,
};
use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The combined schema for base documents.
pub const COMBINED: &str = "lucid.schema.json";
/// The combined schema for overlay (merge patch) documents.
pub const OVERLAY: &str = "lucid-overlay.schema.json";
/// The command that rewrites the committed schema files.
pub const REGENERATE: &str = "cargo run -p crd-schemas --bin generate-schemas";

/// `metadata.name` as `validate` checks it: a DNS label (lowercase letters,
/// digits and '-', not at either end, 1 to 63 characters).
const NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// Where the committed schema files live.
pub fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

/// The file name of a kind's own schema, e.g. `isolationpolicy.schema.json`.
pub fn kind_file_name(kind: Kind) -> String {
    format!("{}.schema.json", kind.as_str().to_ascii_lowercase())
}

/// Every schema file, by file name: one per kind (in `Kind::ALL` order), then
/// the combined base and overlay schemas.
pub fn schemas() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Kind::ALL
        .into_iter()
        .map(|k| (kind_file_name(k), kind_schema(k)))
        .collect();
    out.push((COMBINED.to_string(), combined_schema()));
    out.push((OVERLAY.to_string(), overlay_schema()));
    out
}

/// The text written to disk: pretty-printed JSON with a trailing newline.
pub fn render(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a JSON value always serializes");
    text.push('\n');
    text
}

/// Writes every schema into `dir`, removing `*.schema.json` files that are no
/// longer generated. Returns the paths written.
pub fn write_all(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let generated = schemas();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.ends_with(".schema.json") && !generated.iter().any(|(n, _)| *n == name) {
            std::fs::remove_file(&path)?;
        }
    }
    let mut written = Vec::new();
    for (name, schema) in &generated {
        let path = dir.join(name);
        std::fs::write(&path, render(schema))?;
        written.push(path);
    }
    Ok(written)
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12().into_generator()
}

fn meta_schema() -> Value {
    Value::String(
        SchemaSettings::draft2020_12()
            .meta_schema
            .expect("draft 2020-12 names its meta-schema")
            .into(),
    )
}

/// A `$ref` to the spec type of `kind`, adding its definitions to `gen`.
fn spec_ref(kind: Kind, gen: &mut SchemaGenerator) -> Schema {
    match kind {
        Kind::Network => gen.subschema_for::<NetworkSpec>(),
        Kind::Volume => gen.subschema_for::<VolumeSpec>(),
        Kind::ConfigFile => gen.subschema_for::<ConfigFileSpec>(),
        Kind::SecretSet => gen.subschema_for::<SecretSetSpec>(),
        Kind::Image => gen.subschema_for::<ImageSpec>(),
        Kind::IsolationPolicy => gen.subschema_for::<IsolationPolicySpec>(),
        Kind::Job | Kind::Service => gen.subschema_for::<WorkloadSpec>(),
    }
}

fn kind_description(kind: Kind) -> &'static str {
    match kind {
        Kind::Network => "A Docker network.",
        Kind::Volume => "A Docker named volume.",
        Kind::ConfigFile => "A file from the state directory, mounted into services and hashed into them.",
        Kind::SecretSet => "A named env file of generated or given keys, kept in the secrets directory.",
        Kind::Image => "An image that lucidctl builds (with `build`) or pulls (without).",
        Kind::IsolationPolicy => "Who may join an isolated network, who may bridge it, and what must never appear in given source paths.",
        Kind::Job => "A container that runs to completion once per spec hash.",
        Kind::Service => "A long-running container.",
    }
}

/// The properties every document has, around the given metadata and spec schemas.
fn document(kind: Kind, metadata: Value, spec: Value, overlay: bool) -> Value {
    let what = if overlay {
        "overlay document"
    } else {
        "document"
    };
    json!({
        "title": format!("{} {what}", kind.as_str()),
        "description": kind_description(kind),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "The version of the lucidctl file format.",
                "const": API_VERSION,
            },
            "kind": {
                "description": "What the document declares.",
                "const": kind.as_str(),
            },
            "metadata": metadata,
            "spec": spec,
            "$patch": {
                "description": "Only in an overlay (a later -f): `delete` removes the resource of this kind and name that an earlier -f declares.",
                "const": "delete",
            },
        },
        "required": ["apiVersion", "kind", "metadata"],
        "additionalProperties": false,
    })
}

/// The strict document schema of `kind`, its definitions added to `gen`.
fn document_in(kind: Kind, gen: &mut SchemaGenerator) -> Value {
    let metadata = gen.subschema_for::<Metadata>().to_value();
    let spec = spec_ref(kind, gen).to_value();
    document(kind, metadata, spec, false)
}

/// The generator's definitions, sorted by name and with the checks that the
/// Rust types cannot state added.
fn finish_definitions(gen: &mut SchemaGenerator) -> Map<String, Value> {
    let mut defs = gen.take_definitions(true);
    if let Some(name) = defs
        .get_mut("Metadata")
        .and_then(|m| m.pointer_mut("/properties/name"))
        .and_then(Value::as_object_mut)
    {
        name.insert("minLength".into(), json!(1));
        name.insert("maxLength".into(), json!(63));
        name.insert("pattern".into(), json!(NAME_PATTERN));
    }
    sorted(defs)
}

fn sorted(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

/// `$schema` and `title` first, `$defs` last, the body in between.
fn root(title: &str, description: &str, body: Value, defs: Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert("$schema".into(), meta_schema());
    out.insert("title".into(), json!(title));
    out.insert("description".into(), json!(description));
    let Value::Object(body) = body else {
        unreachable!("document bodies are objects")
    };
    for (k, v) in body {
        if k != "title" && k != "description" {
            out.insert(k, v);
        }
    }
    out.insert("$defs".into(), Value::Object(defs));
    Value::Object(out)
}

/// One kind's document, self-contained.
pub fn kind_schema(kind: Kind) -> Value {
    let mut gen = generator();
    let body = document_in(kind, &mut gen);
    let defs = finish_definitions(&mut gen);
    let title = format!("lucidctl {}", kind.as_str());
    root(&title, kind_description(kind), body, defs)
}

fn kind_names() -> Vec<&'static str> {
    Kind::ALL.iter().map(|k| k.as_str()).collect()
}

/// The shared top of both combined schemas: the alternatives, plus the
/// envelope stated once so that tools which don't look into `oneOf` still
/// complete `apiVersion` and `kind` and report an unknown kind plainly.
fn combined_body(alternatives: Vec<Value>) -> Value {
    json!({
        "type": "object",
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"enum": kind_names()},
        },
        "required": ["apiVersion", "kind", "metadata"],
        "oneOf": alternatives,
    })
}

fn insert_new(defs: &mut Map<String, Value>, name: String, schema: Value) {
    assert!(
        !defs.contains_key(&name),
        "definition {name} is generated twice"
    );
    defs.insert(name, schema);
}

/// Any one document of any kind: `oneOf` the per-kind documents in `$defs`,
/// each told apart by its `kind` const.
pub fn combined_schema() -> Value {
    let mut gen = generator();
    let docs: Vec<(Kind, Value)> = Kind::ALL
        .into_iter()
        .map(|k| (k, document_in(k, &mut gen)))
        .collect();
    let mut defs = finish_definitions(&mut gen);
    let mut alternatives = Vec::new();
    for (kind, doc) in docs {
        let name = format!("{}Document", kind.as_str());
        alternatives.push(json!({"$ref": format!("#/$defs/{name}")}));
        insert_new(&mut defs, name, doc);
    }
    root(
        "lucidctl resource",
        "One document of a lucidctl desired-state file (apiVersion lucid/v1alpha1), of any kind.",
        combined_body(alternatives),
        sorted(defs),
    )
}

/// Any one overlay document: an RFC 7386 merge patch onto the document of the
/// same kind and name given by an earlier -f, or `$patch: delete`.
pub fn overlay_schema() -> Value {
    let mut gen = generator();
    for kind in Kind::ALL {
        document_in(kind, &mut gen);
    }
    let strict = finish_definitions(&mut gen);
    let mut patches = Patches {
        strict: &strict,
        out: Map::new(),
    };
    let mut alternatives = Vec::new();
    let mut docs = Vec::new();
    for kind in Kind::ALL {
        let metadata = json!({"$ref": format!("#/$defs/{}", patches.patch_def("Metadata"))});
        let spec_name = spec_def_name(kind);
        let spec = json!({"$ref": format!("#/$defs/{}", patches.patch_def(spec_name))});
        let name = format!("{}OverlayDocument", kind.as_str());
        alternatives.push(json!({"$ref": format!("#/$defs/{name}")}));
        docs.push((name, document(kind, metadata, spec, true)));
    }
    let mut defs = strict.clone();
    for (name, schema) in patches.out.into_iter().chain(docs) {
        insert_new(&mut defs, name, schema);
    }
    root(
        "lucidctl overlay resource",
        "One document of a lucidctl overlay file: a merge patch (RFC 7386) onto the resource of the same kind and name from an earlier -f. Fields merge into the base, `null` deletes a field, lists replace the base's list whole; or `$patch: delete` removes the resource.",
        combined_body(alternatives),
        sorted(defs),
    )
}

fn spec_def_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Network => "NetworkSpec",
        Kind::Volume => "VolumeSpec",
        Kind::ConfigFile => "ConfigFileSpec",
        Kind::SecretSet => "SecretSetSpec",
        Kind::Image => "ImageSpec",
        Kind::IsolationPolicy => "IsolationPolicySpec",
        Kind::Job | Kind::Service => "WorkloadSpec",
    }
}

/// Derives merge-patch variants (`<Name>Patch`) of the strict object definitions.
struct Patches<'a> {
    strict: &'a Map<String, Value>,
    out: Map<String, Value>,
}

impl Patches<'_> {
    /// The name of the patch variant of the struct definition `name`, creating it.
    fn patch_def(&mut self, name: &str) -> String {
        let patch_name = format!("{name}Patch");
        if self.out.contains_key(&patch_name) {
            return patch_name;
        }
        let mut def = self
            .strict
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no definition {name}"));
        // Reserve the name first, for recursive types.
        self.out.insert(patch_name.clone(), Value::Bool(true));
        let obj = def.as_object_mut().expect("struct definitions are objects");
        // metadata.name identifies the resource the overlay patches: it stays required.
        let keep: &[&str] = if name == "Metadata" { &["name"] } else { &[] };
        let was_required: Vec<String> = obj
            .remove("required")
            .and_then(|r| {
                r.as_array().map(|r| {
                    r.iter()
                        .filter_map(|f| f.as_str().map(String::from))
                        .collect()
                })
            })
            .unwrap_or_default();
        let required: Vec<&String> = was_required
            .iter()
            .filter(|f| keep.contains(&f.as_str()))
            .collect();
        if !required.is_empty() {
            obj.insert("required".into(), json!(required));
        }
        if let Some(Value::Object(props)) = obj.get_mut("properties") {
            for (field, schema) in props.iter_mut() {
                let patched = self.patch_value(schema);
                // Deleting a required field could only leave an invalid resource.
                *schema = if was_required.contains(field) {
                    patched
                } else {
                    nullable(patched)
                };
            }
        }
        self.out.insert(patch_name.clone(), def);
        patch_name
    }

    /// What may stand in a merge patch where `schema` stands in the document.
    fn patch_value(&mut self, schema: &Value) -> Value {
        let Value::Object(obj) = schema else {
            return schema.clone();
        };
        let mut obj = obj.clone();
        if let Some(Value::String(r)) = obj.get("$ref") {
            let target = r.strip_prefix("#/$defs/").unwrap_or(r).to_string();
            if self.is_struct(&target) {
                let patched = self.patch_def(&target);
                obj.insert("$ref".into(), json!(format!("#/$defs/{patched}")));
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = obj.get(key) {
                let patched: Vec<Value> = branches
                    .clone()
                    .iter()
                    .map(|b| self.patch_value(b))
                    .collect();
                obj.insert(key.into(), Value::Array(patched));
            }
        }
        // A map merges key by key; a null value deletes the key.
        if obj.get("type") == Some(&json!("object")) && !obj.contains_key("properties") {
            if let Some(values) = obj
                .get("additionalProperties")
                .filter(|v| v.is_object())
                .cloned()
            {
                obj.insert(
                    "additionalProperties".into(),
                    nullable(self.patch_value(&values)),
                );
            }
        }
        // Lists replace the base's list whole, so their items stay strict.
        Value::Object(obj)
    }

    fn is_struct(&self, name: &str) -> bool {
        self.strict
            .get(name)
            .is_some_and(|d| d.get("properties").is_some())
    }
}

/// `schema`, or `null` (which in a merge patch deletes the field). The
/// description stays outside, where editors look for it.
fn nullable(schema: Value) -> Value {
    let allows_null = |s: &Value| match s.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "null"),
        _ => false,
    };
    if allows_null(&schema)
        || schema
            .get("anyOf")
            .and_then(Value::as_array)
            .is_some_and(|b| b.iter().any(allows_null))
    {
        return schema;
    }
    let Value::Object(mut inner) = schema else {
        return json!({"anyOf": [schema, {"type": "null"}]});
    };
    let mut outer = Map::new();
    if let Some(d) = inner.remove("description") {
        outer.insert("description".into(), d);
    }
    outer.insert("anyOf".into(), json!([inner, {"type": "null"}]));
    Value::Object(outer)
}
