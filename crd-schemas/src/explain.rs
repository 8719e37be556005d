//! `lucidctl explain KIND[.field.path]`: walks the same schema that
//! [`crate::kind_schema`] writes to disk, so the explanation can never
//! disagree with what editors and validators see.

use desired_state::model::Kind;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// What a query could not find; each names what exists instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExplainError {
    #[error("unknown kind {given:?}; the kinds are: {}", known.join(", "))]
    UnknownKind { given: String, known: Vec<String> },
    #[error("{parent} has no field {field:?}; its fields are: {}", known.join(", "))]
    UnknownField {
        parent: String,
        field: String,
        known: Vec<String>,
    },
    #[error("{parent} ({type_name}) has no fields, so {field:?} cannot be one of them")]
    NoFields {
        parent: String,
        type_name: String,
        field: String,
    },
    #[error("empty field name in {query:?}; write KIND or KIND.field.path, e.g. Service.spec.healthcheck")]
    EmptySegment { query: String },
}

/// One child field, as listed under its parent.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSummary {
    pub name: String,
    pub type_name: String,
    pub required: bool,
    /// The first line of the description, if any.
    pub summary: Option<String>,
}

/// One allowed value and what it means, if the schema says.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowedValue {
    pub value: Value,
    pub description: Option<String>,
}

/// Everything the schema states about one field (or a whole kind).
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The canonical path, e.g. `Service.spec.healthcheck.interval`.
    pub path: String,
    pub type_name: String,
    /// Whether the parent requires the field; `None` for a kind itself.
    pub required: Option<bool>,
    pub default: Option<Value>,
    pub allowed: Vec<AllowedValue>,
    pub pattern: Option<String>,
    pub description: Option<String>,
    pub fields: Vec<FieldSummary>,
}

/// The kinds by name, for error messages.
fn known_kinds() -> Vec<String> {
    Kind::ALL.iter().map(|k| k.as_str().to_string()).collect()
}

/// Explains `query`: a kind (case-insensitive), then field names separated by
/// dots (exact, as written in files). Lists are walked into their items.
pub fn explain(query: &str) -> Result<Explanation, ExplainError> {
    let mut segments = query.split('.');
    let kind_name = segments.next().unwrap_or_default();
    let kind = Kind::ALL
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(kind_name))
        .ok_or_else(|| ExplainError::UnknownKind {
            given: kind_name.to_string(),
            known: known_kinds(),
        })?;
    let root = crate::kind_schema(kind);
    let empty = Map::new();
    let defs = root
        .get("$defs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let walker = Walker { defs };

    let mut path = kind.as_str().to_string();
    let mut node = &root;
    let mut required = None;
    for field in segments {
        if field.is_empty() {
            return Err(ExplainError::EmptySegment {
                query: query.to_string(),
            });
        }
        let object = walker.object_of(node);
        let Some(props) = object
            .and_then(|o| o.get("properties"))
            .and_then(Value::as_object)
        else {
            return Err(ExplainError::NoFields {
                parent: path,
                type_name: walker.type_name(node),
                field: field.to_string(),
            });
        };
        let Some(child) = props.get(field) else {
            return Err(ExplainError::UnknownField {
                parent: path,
                field: field.to_string(),
                known: props.keys().cloned().collect(),
            });
        };
        required = Some(is_required(object, field));
        node = child;
        path.push('.');
        path.push_str(field);
    }
    Ok(walker.explanation(path, node, required))
}

fn is_required(object: Option<&Value>, field: &str) -> bool {
    object
        .and_then(|o| o.get("required"))
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|f| f.as_str() == Some(field)))
}

struct Walker<'a> {
    defs: &'a Map<String, Value>,
}

impl<'a> Walker<'a> {
    /// The definition a `$ref` names, if `node` is one.
    fn target(&self, node: &'a Value) -> Option<(&'a str, &'a Value)> {
        let name = node.get("$ref")?.as_str()?.strip_prefix("#/$defs/")?;
        self.defs.get(name).map(|d| (name, d))
    }

    /// `node` without the `Option` wrapping schemars adds (`anyOf [X, null]`)
    /// and with `$ref`s followed. Returns the definition name when one was followed.
    fn resolve(&self, mut node: &'a Value) -> (Option<&'a str>, &'a Value) {
        let mut name = None;
        for _ in 0..16 {
            if let Some((n, def)) = self.target(node) {
                name = Some(n);
                node = def;
            } else if let Some(inner) = non_null_branch(node) {
                node = inner;
            } else {
                break;
            }
        }
        (name, node)
    }

    /// The object whose properties are `node`'s children: through lists.
    fn object_of(&self, node: &'a Value) -> Option<&'a Value> {
        let (_, node) = self.resolve(node);
        match node.get("items") {
            Some(items) if types(node).contains(&"array") => self.object_of(items),
            _ => node.get("properties").map(|_| node),
        }
    }

    fn type_name(&self, node: &'a Value) -> String {
        let (name, resolved) = self.resolve(node);
        let kinds = types(resolved);
        if kinds.contains(&"array") {
            let item = resolved
                .get("items")
                .map(|i| self.type_name(i))
                .unwrap_or_else(|| "any".into());
            return format!("[]{item}");
        }
        if kinds.contains(&"object") {
            if resolved.get("properties").is_some() {
                return name.map_or_else(|| "object".into(), |n| format!("object ({n})"));
            }
            let value = match resolved.get("additionalProperties") {
                Some(v @ Value::Object(_)) => self.type_name(v),
                _ => "any".into(),
            };
            return format!("map[string]{value}");
        }
        if let Some(first) = kinds.first() {
            return (*first).to_string();
        }
        let values = allowed_values(resolved);
        match values.first().map(|a| &a.value) {
            Some(Value::String(_)) => "string".into(),
            Some(Value::Bool(_)) => "boolean".into(),
            Some(Value::Number(_)) => "number".into(),
            _ => "any".into(),
        }
    }

    fn explanation(&self, path: String, node: &'a Value, required: Option<bool>) -> Explanation {
        let (_, resolved) = self.resolve(node);
        // The property's own words win over its type's.
        let pick = |key: &str| node.get(key).or_else(|| resolved.get(key)).cloned();
        let fields = self
            .object_of(node)
            .map(|object| self.fields(object))
            .unwrap_or_default();
        Explanation {
            path,
            type_name: self.type_name(node),
            required,
            default: pick("default"),
            allowed: allowed_values(resolved),
            pattern: pick("pattern").and_then(|p| p.as_str().map(String::from)),
            description: pick("description").and_then(|d| d.as_str().map(String::from)),
            fields,
        }
    }

    fn fields(&self, object: &'a Value) -> Vec<FieldSummary> {
        let Some(props) = object.get("properties").and_then(Value::as_object) else {
            return Vec::new();
        };
        props
            .iter()
            .map(|(name, schema)| {
                let (_, resolved) = self.resolve(schema);
                let description = schema
                    .get("description")
                    .or_else(|| resolved.get("description"))
                    .and_then(Value::as_str);
                FieldSummary {
                    name: name.clone(),
                    type_name: self.type_name(schema),
                    required: is_required(Some(object), name),
                    summary: description.and_then(|d| d.lines().next()).map(String::from),
                }
            })
            .collect()
    }
}

/// The JSON types a schema allows, `null` left out.
fn types(node: &Value) -> Vec<&str> {
    match node.get("type") {
        Some(Value::String(t)) if t != "null" => vec![t.as_str()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => Vec::new(),
    }
}

/// `X` from `anyOf: [X, {type: null}]`.
fn non_null_branch(node: &Value) -> Option<&Value> {
    let branches = node.get("anyOf")?.as_array()?;
    let mut rest = branches
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"));
    let only = rest.next()?;
    (rest.next().is_none() && branches.len() == 2).then_some(only)
}

/// From `enum`, `const`, or a `oneOf` of `const`s (unit enums with doc comments).
fn allowed_values(node: &Value) -> Vec<AllowedValue> {
    if let Some(Value::Array(values)) = node.get("enum") {
        return values
            .iter()
            .map(|v| AllowedValue {
                value: v.clone(),
                description: None,
            })
            .collect();
    }
    if let Some(value) = node.get("const") {
        return vec![AllowedValue {
            value: value.clone(),
            description: None,
        }];
    }
    let Some(Value::Array(branches)) = node.get("oneOf") else {
        return Vec::new();
    };
    branches
        .iter()
        .filter_map(|b| {
            Some(AllowedValue {
                value: b.get("const")?.clone(),
                description: b
                    .get("description")
                    .and_then(Value::as_str)
                    .map(String::from),
            })
        })
        .collect()
}

/// The text `lucidctl explain` prints.
pub fn render(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "FIELD:    {}", e.path);
    let _ = writeln!(out, "TYPE:     {}", e.type_name);
    if let Some(required) = e.required {
        let _ = writeln!(out, "REQUIRED: {}", if required { "yes" } else { "no" });
    }
    if let Some(default) = &e.default {
        let _ = writeln!(out, "DEFAULT:  {default}");
    }
    if let Some(pattern) = &e.pattern {
        let _ = writeln!(out, "PATTERN:  {pattern}");
    }
    if !e.allowed.is_empty() {
        let _ = writeln!(out, "VALUES:");
        // Meanings start in one column, so the values read as a table.
        let width = e
            .allowed
            .iter()
            .map(|a| a.value.to_string().chars().count())
            .max()
            .unwrap_or(0);
        for a in &e.allowed {
            match &a.description {
                Some(d) => {
                    let _ = writeln!(out, "  {:width$}  {}", a.value.to_string(), one_line(d));
                }
                None => {
                    let _ = writeln!(out, "  {}", a.value);
                }
            }
        }
    }
    if let Some(d) = &e.description {
        let _ = writeln!(out, "\nDESCRIPTION:");
        for line in d.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !e.fields.is_empty() {
        let _ = writeln!(out, "\nFIELDS:");
        for f in &e.fields {
            let req = if f.required { " (required)" } else { "" };
            let _ = writeln!(out, "  {}\t<{}>{req}", f.name, f.type_name);
            if let Some(s) = &f.summary {
                let _ = writeln!(out, "    {s}");
            }
        }
    }
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<'a>(e: &'a Explanation, name: &str) -> &'a FieldSummary {
        e.fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{} lists no field {name}: {:?}", e.path, e.fields))
    }

    #[test]
    fn every_kind_explains_with_its_envelope_and_spec() {
        for kind in Kind::ALL {
            let e = explain(kind.as_str()).unwrap();
            assert_eq!(e.path, kind.as_str());
            assert_eq!(e.type_name, "object");
            assert_eq!(e.required, None);
            assert!(e.description.is_some(), "{kind:?}");
            assert!(field(&e, "apiVersion").required);
            assert!(field(&e, "metadata").required);
            assert!(!field(&e, "spec").required);
            let spec = explain(&format!("{}.spec", kind.as_str())).unwrap();
            assert!(spec.type_name.starts_with("object ("), "{spec:?}");
            assert!(!spec.fields.is_empty(), "{kind:?} spec has no fields");
            assert!(render(&spec).contains("FIELDS:"));
        }
    }

    #[test]
    fn each_kind_lists_its_own_spec_fields() {
        let cases = [
            ("Network", "internal"),
            ("Volume", "driverOpts"),
            ("Image", "ref"),
            ("Service", "healthcheck"),
            ("Job", "image"),
            ("ConfigFile", "mode"),
            ("SecretSet", "generate"),
            ("IsolationPolicy", "network"),
        ];
        for (kind, name) in cases {
            let spec = explain(&format!("{kind}.spec")).unwrap();
            let names: Vec<&str> = spec.fields.iter().map(|f| f.name.as_str()).collect();
            assert!(names.contains(&name), "{kind}.spec: {names:?}");
        }
    }

    #[test]
    fn kind_is_case_insensitive_fields_are_not() {
        assert_eq!(explain("service").unwrap().path, "Service");
        let err = explain("Service.Spec").unwrap_err();
        assert!(matches!(err, ExplainError::UnknownField { .. }), "{err:?}");
    }

    #[test]
    fn nested_duration_field() {
        let e = explain("Service.spec.healthcheck.interval").unwrap();
        assert_eq!(e.path, "Service.spec.healthcheck.interval");
        assert_eq!(e.type_name, "string");
        assert_eq!(e.required, Some(false));
        assert!(e.description.unwrap().contains("duration"));
        assert!(e.pattern.is_some());
        assert!(e.fields.is_empty());
        let hc = explain("Service.spec.healthcheck").unwrap();
        assert_eq!(hc.type_name, "object (Healthcheck)");
        assert!(field(&hc, "test").required);
        assert_eq!(field(&hc, "interval").type_name, "string");
    }

    #[test]
    fn enums_defaults_and_required_through_lists() {
        let ports = explain("Service.spec.ports").unwrap();
        assert_eq!(ports.type_name, "[]object (Port)");
        assert!(field(&ports, "containerPort").required);
        let protocol = explain("Service.spec.ports.protocol").unwrap();
        assert_eq!(protocol.default, Some(Value::from("tcp")));
        assert_eq!(protocol.required, Some(false));
        let values: Vec<&Value> = protocol.allowed.iter().map(|a| &a.value).collect();
        assert_eq!(values, ["tcp", "udp", "sctp"]);
        assert!(render(&protocol).contains("DEFAULT:  \"tcp\""));
        assert_eq!(explain("Job.spec.image").unwrap().required, Some(true));
    }

    #[test]
    fn documented_enum_values_keep_their_meaning() {
        let rollout = explain("Service.spec.rollout").unwrap();
        let auto = rollout
            .allowed
            .iter()
            .find(|a| a.value == "auto")
            .expect("auto is allowed");
        assert!(auto.description.is_some());
        assert!(render(&rollout).contains("\"startFirst\""));
    }

    #[test]
    fn unknown_kind_lists_the_kinds() {
        let err = explain("Pod.spec").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"Pod\""), "{text}");
        for kind in Kind::ALL {
            assert!(text.contains(kind.as_str()), "{text}");
        }
    }

    #[test]
    fn unknown_field_names_the_parent_and_lists_its_fields() {
        let err = explain("Service.spec.healthcheck.intervall").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("Service.spec.healthcheck has no field \"intervall\""),
            "{text}"
        );
        assert!(text.contains("interval, timeout"), "{text}");
    }

    #[test]
    fn scalars_have_no_children_and_empty_segments_are_refused() {
        let err = explain("Service.spec.healthcheck.interval.seconds").unwrap_err();
        assert!(matches!(err, ExplainError::NoFields { .. }), "{err:?}");
        assert!(err.to_string().contains("has no fields"));
        for bad in ["Service.", "Service..spec", "."] {
            assert!(explain(bad).is_err(), "{bad}");
        }
    }
}
