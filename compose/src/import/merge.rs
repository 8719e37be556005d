//! Several compose files merged as `docker-compose -f a -f b` merges them,
//! into normalized forms (environment, labels, networks and depends_on as
//! mappings; build and healthcheck as mappings), remembering for every merged
//! element which file and pointer it came from.

use super::extends::ServiceRef;
use desired_state::pointer::pointer as ptr;
use serde_json::{Map, Value};
use std::collections::HashMap;

// The rules below are compose v2's (checked against `docker compose config`
// of an `extends` touching each key); they serve override files and `extends`.

/// Keys whose entries merge by name: later files win per entry.
const BY_ENTRY: &[&str] = &[
    "environment",
    "labels",
    "networks",
    "depends_on",
    "sysctls",
    "ulimits",
];
/// Mappings merged deeply.
const DEEP: &[&str] = &["build", "healthcheck", "deploy", "logging"];
/// Lists whose items accumulate, without repeats.
const ACCUMULATE: &[&str] = &[
    "ports",
    "expose",
    "cap_add",
    "cap_drop",
    "security_opt",
    "env_file",
    "dns",
    "extra_hosts",
    "tmpfs",
    "devices",
    "profiles",
];

/// Lists of references to top-level configs and secrets: a later file's entry
/// for the same path in the container replaces the earlier one.
const BY_TARGET: &[&str] = &["configs", "secrets"];

#[derive(Debug, Default)]
pub(crate) struct Merged {
    /// In order of first appearance.
    pub services: Vec<(String, Map<String, Value>)>,
    pub networks: Vec<(String, Map<String, Value>)>,
    pub volumes: Vec<(String, Map<String, Value>)>,
    pub configs: Vec<(String, Map<String, Value>)>,
    pub secrets: Vec<(String, Map<String, Value>)>,
    /// Merged pointer to (file index, pointer in that file).
    pub origins: HashMap<String, (usize, String)>,
}

impl Merged {
    /// The file and pointer a merged pointer came from (the nearest recorded ancestor, plus the rest).
    pub fn origin(&self, pointer: &str) -> (usize, String) {
        let mut p = pointer;
        loop {
            if let Some((f, src)) = self.origins.get(p) {
                return (*f, format!("{src}{}", &pointer[p.len()..]));
            }
            if p.is_empty() {
                return (0, pointer.to_string());
            }
            p = &p[..p.rfind('/').unwrap_or(0)];
        }
    }
}

fn slot<'a>(
    list: &'a mut Vec<(String, Map<String, Value>)>,
    name: &str,
) -> &'a mut Map<String, Value> {
    let i = match list.iter().position(|(n, _)| n == name) {
        Some(i) => i,
        None => {
            list.push((name.to_string(), Map::new()));
            list.len() - 1
        }
    };
    &mut list[i].1
}

/// Merges the compose files `files[..top]` in order; `files[top..]` are read
/// for `extends` only. `bases` says which service each service extends.
pub(crate) fn merge(
    files: &[Value],
    top: usize,
    bases: &HashMap<ServiceRef, ServiceRef>,
) -> Merged {
    let mut m = Merged::default();
    for (f, doc) in files.iter().enumerate().take(top) {
        for section in ["networks", "volumes", "configs", "secrets"] {
            let Some(Value::Object(items)) = doc.get(section) else {
                continue;
            };
            for (name, v) in items {
                let at = ptr([section, name]);
                m.origins.entry(at.clone()).or_insert((f, at.clone()));
                let list = match section {
                    "networks" => &mut m.networks,
                    "volumes" => &mut m.volumes,
                    "configs" => &mut m.configs,
                    _ => &mut m.secrets,
                };
                let target = slot(list, name);
                if let Value::Object(entries) = v {
                    for (k, val) in entries {
                        let p = format!("{at}{}", ptr([k]));
                        target.insert(k.clone(), val.clone());
                        m.origins.insert(p.clone(), (f, p));
                    }
                }
            }
        }
        let Some(Value::Object(services)) = doc.get("services") else {
            continue;
        };
        for name in services.keys() {
            let at = ptr(["services", name]);
            m.origins.entry(at.clone()).or_insert((f, at.clone()));
            let mut origins = Vec::new();
            let target = slot(&mut m.services, name);
            merge_service(target, &at, files, bases, (f, name), &mut origins);
            m.origins.extend(origins);
        }
    }
    m
}

type Origins = Vec<(String, (usize, String))>;

/// Merges the service `name` of file `f` into `target` (at the merged
/// pointer `at`): first what it extends, recursively, then its own keys. The
/// bases have no cycle (extends.rs refuses them), so this ends.
fn merge_service(
    target: &mut Map<String, Value>,
    at: &str,
    files: &[Value],
    bases: &HashMap<ServiceRef, ServiceRef>,
    (f, name): (usize, &str),
    origins: &mut Origins,
) {
    let key = (f, name.to_string());
    if let Some((bf, base)) = bases.get(&key) {
        merge_service(target, at, files, bases, (*bf, base), origins);
    }
    let Some(Value::Object(svc)) = files[f].get("services").and_then(|s| s.get(name)) else {
        return;
    };
    let src = ptr(["services", name]);
    for (k, v) in svc {
        if k == "extends" {
            continue;
        }
        let kp = format!("{at}{}", ptr([k]));
        let sp = format!("{src}{}", ptr([k]));
        merge_key(target, k, v, (&kp, &sp), f, origins);
    }
}

/// Merges one key; `kp` is its merged pointer, `sp` its pointer in file `f`.
fn merge_key(
    target: &mut Map<String, Value>,
    key: &str,
    v: &Value,
    (kp, sp): (&str, &str),
    f: usize,
    origins: &mut Origins,
) {
    let k = key.to_string();
    if BY_ENTRY.contains(&key) {
        let entry = target.entry(k).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let map = entry.as_object_mut().expect("object");
        for (name, val, src) in entries(key, v, sp) {
            let p = format!("{kp}{}", ptr([&name]));
            map.insert(name, val);
            origins.push((p, (f, src)));
        }
    } else if DEEP.contains(&key) {
        let v = match (key, v) {
            ("build", Value::String(s)) => {
                origins.push((format!("{kp}/context"), (f, sp.to_string())));
                Value::Object(Map::from_iter([(
                    "context".to_string(),
                    Value::String(s.clone()),
                )]))
            }
            _ => v.clone(),
        };
        let entry = target.entry(k).or_insert_with(|| Value::Object(Map::new()));
        deep(entry, &v, kp, sp, f, origins);
    } else if ACCUMULATE.contains(&key) || BY_TARGET.contains(&key) || key == "volumes" {
        let items: Vec<Value> = match v {
            Value::Array(a) => a.clone(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        };
        let scalar = !v.is_array();
        let entry = target.entry(k).or_insert_with(|| Value::Array(Vec::new()));
        if !entry.is_array() {
            *entry = Value::Array(Vec::new());
        }
        let list = entry.as_array_mut().expect("array");
        for (i, item) in items.into_iter().enumerate() {
            let src = if scalar {
                sp.to_string()
            } else {
                format!("{sp}/{i}")
            };
            let existing = if key == "volumes" {
                let t = mount_target(&item);
                list.iter()
                    .position(|x| t.is_some() && mount_target(x) == t)
            } else if BY_TARGET.contains(&key) {
                let t = reference_target(key, &item);
                list.iter()
                    .position(|x| t.is_some() && reference_target(key, x) == t)
            } else {
                list.iter().position(|x| *x == item)
            };
            let at = match existing {
                Some(j) => {
                    list[j] = item;
                    j
                }
                None => {
                    list.push(item);
                    list.len() - 1
                }
            };
            origins.push((format!("{kp}/{at}"), (f, src)));
        }
    } else {
        target.insert(k, v.clone());
        origins.push((kp.to_string(), (f, sp.to_string())));
    }
}

/// Entries of a mapping-like key with their source pointers; list forms normalized.
fn entries(key: &str, v: &Value, kp: &str) -> Vec<(String, Value, String)> {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, val)| (k.clone(), val.clone(), format!("{kp}{}", ptr([k]))))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let src = format!("{kp}/{i}");
                let s = match item {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                Some(match key {
                    "environment" | "labels" | "sysctls" => match s.split_once('=') {
                        Some((k, val)) => (k.to_string(), Value::String(val.to_string()), src),
                        None => (s, Value::Null, src),
                    },
                    _ => (s, Value::Null, src),
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn deep(target: &mut Value, v: &Value, at: &str, src: &str, f: usize, origins: &mut Origins) {
    match (target.as_object_mut(), v) {
        (Some(t), Value::Object(m)) => {
            for (k, val) in m {
                let p = format!("{at}{}", ptr([k]));
                let s = format!("{src}{}", ptr([k]));
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && val.is_object() => {
                        deep(existing, val, &p, &s, f, origins)
                    }
                    _ => {
                        t.insert(k.clone(), val.clone());
                        origins.push((p, (f, s)));
                    }
                }
            }
        }
        _ => {
            *target = v.clone();
            origins.push((at.to_string(), (f, src.to_string())));
        }
    }
}

/// Where a service's config or secret entry lands in the container, short
/// (`NAME`) or long (`{source, target}`): a config at `/<name>`, a secret at
/// `/run/secrets/<name>`, unless the target says otherwise.
fn reference_target(key: &str, v: &Value) -> Option<String> {
    let (source, target) = match v {
        Value::String(s) => (s.as_str(), None),
        Value::Object(m) => (
            m.get("source").and_then(Value::as_str)?,
            m.get("target").and_then(Value::as_str),
        ),
        _ => return None,
    };
    let dir = if key == "secrets" {
        "/run/secrets/"
    } else {
        "/"
    };
    Some(match target {
        Some(t) if t.starts_with('/') => t.to_string(),
        Some(t) => format!("{dir}{t}"),
        None => format!("{dir}{source}"),
    })
}

/// The container path of a volume entry, short or long syntax.
pub(crate) fn mount_target(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            match parts.len() {
                1 => Some(parts[0].to_string()),
                _ => Some(parts[1].to_string()),
            }
        }
        Value::Object(m) => m.get("target").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn later_files_override_and_accumulate_like_compose() {
        let a = json!({"services": {"web": {"image": "a", "environment": ["A=1", "B=2"], "ports": ["80:80"], "volumes": ["d:/data"], "command": ["x"]}}});
        let b = json!({"services": {"web": {"image": "b", "environment": {"B": "3"}, "ports": ["443:443"], "volumes": ["e:/data"], "build": "."}}});
        let m = merge(&[a, b], 2, &HashMap::new());
        let web = &m.services[0].1;
        assert_eq!(web["image"], "b");
        assert_eq!(web["environment"], json!({"A": "1", "B": "3"}));
        assert_eq!(web["ports"], json!(["80:80", "443:443"]));
        assert_eq!(web["volumes"], json!(["e:/data"]));
        assert_eq!(web["build"], json!({"context": "."}));
        assert_eq!(
            m.origin("/services/web/environment/A"),
            (0, "/services/web/environment/0".into())
        );
        assert_eq!(
            m.origin("/services/web/environment/B"),
            (1, "/services/web/environment/B".into())
        );
        assert_eq!(
            m.origin("/services/web/ports/1"),
            (1, "/services/web/ports/0".into())
        );
        assert_eq!(
            m.origin("/services/web/command/0"),
            (0, "/services/web/command/0".into())
        );
    }

    /// What `docker compose config` (v2.26) makes of an `extends` that
    /// touches each key: lists append, mappings merge per entry, configs and
    /// secrets merge by their path in the container.
    #[test]
    fn extends_merges_runtime_keys_as_compose_v2_does() {
        let doc = json!({"services": {
            "base": {"image": "x", "dns": ["1.1.1.1"], "tmpfs": ["/tmp"], "profiles": ["p1"],
                     "sysctls": ["a=1"], "ulimits": {"nofile": {"soft": 1, "hard": 2}, "nproc": 5},
                     "logging": {"driver": "json-file", "options": {"max-size": "1m"}},
                     "configs": [{"source": "c", "target": "/c"}], "secrets": ["s"]},
            "child": {"dns": ["8.8.8.8"], "tmpfs": ["/run"], "profiles": ["p2"],
                      "sysctls": {"b": "2"}, "ulimits": {"nofile": {"soft": 3, "hard": 4}},
                      "logging": {"options": {"max-file": "3"}},
                      "configs": [{"source": "c", "target": "/d"}, "c"],
                      "secrets": [{"source": "s", "target": "/run/secrets/s"}, {"source": "s", "target": "other"}]}
        }});
        let bases = HashMap::from([((0, "child".to_string()), (0, "base".to_string()))]);
        let m = merge(&[doc], 1, &bases);
        let child = &m.services.iter().find(|(n, _)| n == "child").unwrap().1;
        assert_eq!(child["image"], "x");
        assert_eq!(child["dns"], json!(["1.1.1.1", "8.8.8.8"]));
        assert_eq!(child["tmpfs"], json!(["/tmp", "/run"]));
        assert_eq!(child["profiles"], json!(["p1", "p2"]));
        assert_eq!(child["sysctls"], json!({"a": "1", "b": "2"}));
        assert_eq!(
            child["ulimits"],
            json!({"nofile": {"soft": 3, "hard": 4}, "nproc": 5})
        );
        assert_eq!(
            child["logging"],
            json!({"driver": "json-file", "options": {"max-size": "1m", "max-file": "3"}})
        );
        assert_eq!(
            child["configs"],
            json!(["c", {"source": "c", "target": "/d"}]),
            "the short form lands at /c too, so it replaces the base's entry"
        );
        assert_eq!(
            child["secrets"],
            json!([{"source": "s", "target": "/run/secrets/s"}, {"source": "s", "target": "other"}])
        );
        assert_eq!(
            m.origin("/services/child/dns/0"),
            (0, "/services/base/dns/0".into()),
            "what is inherited points at the base"
        );
    }
}
