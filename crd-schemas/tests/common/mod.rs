//! Shared by the schema tests: the committed schemas, an independent JSON
//! Schema validator (the `jsonschema` crate) and an independent YAML parser
//! (`serde_yaml_ng`, libyaml-based), so that nothing here goes through the
//! loader whose input the schemas describe.

#![allow(dead_code)]

use serde_json::{Map, Number, Value};
use std::path::{Path, PathBuf};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crd-schemas sits in the workspace")
        .to_path_buf()
}

/// A committed schema file, parsed.
pub fn committed(name: &str) -> Value {
    let path = crd_schemas::schema_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run `{}`",
            path.display(),
            crd_schemas::REGENERATE
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

pub fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("the schema does not compile: {e}"))
}

/// Every error, as `pointer: message`; empty when the instance is valid.
pub fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| {
            format!(
                "{}: {e}",
                if e.instance_path().as_str().is_empty() {
                    "/"
                } else {
                    e.instance_path().as_str()
                }
            )
        })
        .collect()
}

/// A combined schema narrowed to the document of one kind, for precise
/// messages where the `oneOf` can only say "no alternative matched".
pub fn narrowed(combined: &Value, kind: &str, overlay: bool) -> Value {
    let mut s = combined.clone();
    let obj = s.as_object_mut().expect("schemas are objects");
    obj.remove("oneOf");
    let def = if overlay {
        format!("{kind}OverlayDocument")
    } else {
        format!("{kind}Document")
    };
    obj.insert("$ref".into(), Value::String(format!("#/$defs/{def}")));
    s
}

/// The documents of a YAML stream as JSON values; empty documents are left
/// out, as the loader does.
pub fn yaml_documents(text: &str) -> Result<Vec<Value>, String> {
    use serde::Deserialize;
    let mut docs = Vec::new();
    for (i, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let yaml = serde_yaml_ng::Value::deserialize(de)
            .map_err(|e| format!("document {}: {e}", i + 1))?;
        let json = to_json(yaml).map_err(|e| format!("document {}: {e}", i + 1))?;
        if !json.is_null() {
            docs.push(json);
        }
    }
    Ok(docs)
}

fn to_json(v: serde_yaml_ng::Value) -> Result<Value, String> {
    use serde_yaml_ng::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Number(u.into())
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                Value::Number(Number::from_f64(f).ok_or_else(|| format!("{f} has no JSON form"))?)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_string(),
                    other => return Err(format!("mapping key {other:?} is not a scalar")),
                };
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => to_json(t.value)?,
    })
}

/// The YAML files under `configs/`, recursively, sorted.
pub fn config_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in rd.flatten() {
            let p = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&p, out);
            } else if p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e == "yaml" || e == "yml")
            {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&workspace_root().join("configs"), &mut files);
    files.sort();
    files
}

/// Overlay files are those with an `overlays` directory in their path under configs/.
pub fn is_overlay(file: &Path) -> bool {
    let configs = workspace_root().join("configs");
    file.strip_prefix(&configs)
        .unwrap_or(file)
        .components()
        .any(|c| c.as_os_str() == "overlays")
}

pub fn relative(file: &Path) -> String {
    file.strip_prefix(workspace_root())
        .unwrap_or(file)
        .display()
        .to_string()
}
