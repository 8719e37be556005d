//! Compose `configs` and `secrets`: files a service reads, declared at the
//! top level and referenced by services.
//!
//! A config becomes a ConfigFile mounted read-only at its target (`/<name>`
//! unless given). The project's secrets become one SecretSet whose keys are
//! the secret names; a service gets `secretFiles` at /run/secrets with the
//! keys it names, so each file lands where compose puts it
//! (`/run/secrets/<name>`) and the service sees only its own secrets. Secret
//! values are never read into the output: the note says which file's content
//! goes under which key of the env file in the secrets directory.

use super::{bool_of, string_of, Converter, Doc};
use crate::text::relative;
use desired_state::diagnostics::escape_controls;
use desired_state::model::{
    numeric_user, ConfigFileSpec, Encoding, FileMode, GeneratedKey, Kind, Mount, SecretFiles,
    SecretSetSpec,
};
use desired_state::pointer::pointer as ptr;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Where compose mounts a service's secrets.
const SECRETS_DIR: &str = "/run/secrets";

/// A file mode as compose reads it: YAML `0440` is octal to compose, while
/// this reader (YAML 1.2) sees the number 440, so digits 0-7 are read as the
/// octal that was written; a string is octal too.
fn mode_of(v: &Value) -> Option<FileMode> {
    let text = string_of(v)?;
    let digits = text.trim();
    if digits.chars().all(|c| ('0'..='7').contains(&c)) {
        return u32::from_str_radix(digits, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .map(FileMode);
    }
    digits
        .parse::<u32>()
        .ok()
        .filter(|m| *m <= 0o7777)
        .map(FileMode)
}

/// A service's reference: the source and the long form's mapping, if any.
fn reference(v: &Value) -> Option<(String, Option<&Map<String, Value>>)> {
    match v {
        Value::String(s) => Some((s.clone(), None)),
        Value::Object(m) => Some((
            m.get("source").and_then(Value::as_str)?.to_string(),
            Some(m),
        )),
        _ => None,
    }
}

impl Converter<'_, '_> {
    /// Compose's swarm-only `external: true`, and `name:`, which compose
    /// ignores outside a swarm for a file: a finding each. True when external.
    fn swarm_fields(&mut self, what: &str, key: &str, c: &Map<String, Value>) -> bool {
        let at = ptr([what, key]);
        if c.get("external")
            .is_some_and(|e| bool_of(e) == Some(true) || e.is_object())
        {
            self.unsupported(
                &format!("{at}/external"),
                format!("an external {} lives in a swarm, which lucidctl does not manage; declare it with `file:` instead", &what[..what.len() - 1]),
            );
            return true;
        }
        if c.get("name").is_some() {
            self.note(
                &format!("{at}/name"),
                "`name` names the object in a swarm only; compose and lucidctl ignore it here",
            );
        }
        false
    }

    /// Top-level `configs`: each that can be read becomes a ConfigFile.
    pub(super) fn plan_configs(&mut self) {
        for i in 0..self.m.configs.len() {
            let (key, c) = &self.m.configs[i];
            let at = ptr(["configs", key]);
            let name = if self.swarm_fields("configs", key, c) {
                None
            } else if let Some(path) = c.get("file").and_then(Value::as_str) {
                let abs = crate::text::absolute(&self.base_dir.join(path));
                match super::super::read_text(&abs) {
                    Ok(_) => Some(self.config_file(&abs, key)),
                    Err(e) => {
                        let shown = relative(&self.base_dir, &abs);
                        self.unsupported(
                            &format!("{at}/file"),
                            format!("{shown}: {e}; compose would fail too"),
                        );
                        None
                    }
                }
            } else if let Some(text) = c.get("content").and_then(string_of) {
                Some(self.inline_config(
                    key,
                    text,
                    format!("compose config {key:?} (inline content)."),
                ))
            } else if let Some(var) = c.get("environment").and_then(Value::as_str) {
                match self.env.get(var).cloned() {
                    Some(text) => {
                        self.note(&format!("{at}/environment"), format!("the value of {var} at import time is written in as the content; import again when it changes"));
                        Some(self.inline_config(
                            key,
                            text,
                            format!("compose config {key:?} (from the variable {var} at import)."),
                        ))
                    }
                    None => {
                        self.unsupported(
                            &format!("{at}/environment"),
                            format!("{var} is set neither in the environment nor in .env: set it and import again"),
                        );
                        None
                    }
                }
            } else {
                self.unsupported(&at, "a config needs `file`, `content` or `environment`");
                None
            };
            self.configs.insert(key.clone(), name);
        }
    }

    fn inline_config(&mut self, key: &str, text: String, comment: String) -> String {
        let name = self.claim(Kind::ConfigFile, key);
        let spec = ConfigFileSpec {
            file: None,
            content: Some(text),
            mode: None,
        };
        self.docs.push(Doc {
            kind: Kind::ConfigFile,
            name: name.clone(),
            labels: BTreeMap::new(),
            spec: serde_json::to_value(&spec).unwrap_or_default(),
            comment: vec![comment],
        });
        name
    }

    /// A service's `configs`, as read-only ConfigFile mounts.
    pub(super) fn service_configs(&mut self, s: &Map<String, Value>, at: &str) -> Vec<Mount> {
        let mut out = Vec::new();
        let Some(Value::Array(items)) = s.get("configs") else {
            return out;
        };
        for (i, item) in items.iter().enumerate() {
            let p = format!("{at}/configs/{i}");
            let Some((source, long)) = reference(item) else {
                self.unsupported(&p, "expected a config name or a mapping with `source`");
                continue;
            };
            let name = match self.configs.get(&source) {
                Some(Some(n)) => n.clone(),
                Some(None) => continue,
                None => {
                    self.unsupported(
                        &p,
                        format!("config {source:?} is not declared under the top-level configs"),
                    );
                    continue;
                }
            };
            // Compose mounts a config at /<source>, and a relative target under /.
            let target = match long.and_then(|m| m.get("target")).and_then(Value::as_str) {
                Some(t) if t.starts_with('/') => t.to_string(),
                Some(t) => format!("/{t}"),
                None => format!("/{source}"),
            };
            if let Some(m) = long {
                if let Some(v) = m.get("mode") {
                    self.config_mode(&name, v, &format!("{p}/mode"));
                }
                for id in ["uid", "gid"] {
                    if m.contains_key(id) {
                        self.note(&format!("{p}/{id}"), format!("{id}: compose ignores it for a config it bind-mounts, and lucidctl's ConfigFile belongs to the user that writes it on the host; the mode decides who reads it"));
                    }
                }
            }
            out.push(Mount {
                volume: None,
                config_file: Some(name),
                bind: None,
                target,
                read_only: true,
                anonymous: false,
                selinux: None,
            });
        }
        out
    }

    /// A service's `mode` is the ConfigFile's mode on the host, which the
    /// bind mount shows in the container; two services asking for two modes
    /// of one file cannot both have theirs.
    fn config_mode(&mut self, name: &str, v: &Value, at: &str) {
        let Some(mode) = mode_of(v) else {
            self.unsupported(
                at,
                format!(
                    "invalid mode {}: expected octal such as 0440",
                    escape_controls(&v.to_string())
                ),
            );
            return;
        };
        let Some(doc) = self
            .docs
            .iter_mut()
            .find(|d| d.kind == Kind::ConfigFile && d.name == name)
        else {
            return;
        };
        let current = doc
            .spec
            .get("mode")
            .and_then(Value::as_str)
            .map(str::to_string);
        match current {
            None => {
                if let Value::Object(spec) = &mut doc.spec {
                    spec.insert("mode".into(), Value::String(mode.to_string()));
                }
            }
            Some(m) if m == mode.to_string() => {}
            Some(m) => self.unsupported(
                at,
                format!("mode {mode} differs from {m}, which another service asked for: a ConfigFile has one mode; give both the same"),
            ),
        }
    }

    /// Top-level `secrets`: one SecretSet holds the project's secrets, one key
    /// each, named after the secret.
    pub(super) fn plan_secrets(&mut self) {
        if self.m.secrets.is_empty() {
            return;
        }
        let set = self.claim(Kind::SecretSet, &format!("{}-secrets", self.project));
        let file = format!(".env.{set}");
        let mut keys: Vec<(String, String)> = Vec::new();
        for i in 0..self.m.secrets.len() {
            let (key, c) = &self.m.secrets[i];
            let at = ptr(["secrets", key]);
            if self.swarm_fields("secrets", key, c) {
                continue;
            }
            if !desired_state::validate::is_env_name(key) {
                self.report(
                    super::FindingKind::Unsupported,
                    &at,
                    true,
                    format!("secret name {key:?} cannot be a key of lucidctl's SecretSet (letters, digits, '_', '.' and '-', starting with a letter or '_'); rename the secret, and the path /run/secrets/{key} the service reads"),
                );
                continue;
            }
            let from = if let Some(path) = c.get("file").and_then(Value::as_str) {
                let abs = crate::text::absolute(&self.base_dir.join(path));
                let shown = relative(&self.base_dir, &abs);
                match super::super::read_text(&abs) {
                    Ok(text) => {
                        // The env file holds one `KEY=value` line per key.
                        let body = text.strip_suffix('\n').unwrap_or(&text);
                        let body = body.strip_suffix('\r').unwrap_or(body);
                        if body.contains(['\n', '\r']) {
                            self.unsupported(
                                &format!("{at}/file"),
                                format!("{shown} has several lines (a PEM key or certificate?): a SecretSet env file holds one line per key, so lucidctl cannot carry it; mount it as a bind (read-only) from outside the repository instead"),
                            );
                            continue;
                        }
                        if body.chars().any(char::is_control) {
                            self.unsupported(
                                &format!("{at}/file"),
                                format!("{shown} holds control characters, which a SecretSet env file line cannot carry"),
                            );
                            continue;
                        }
                        // The env file reader trims a value and drops matching
                        // quotes around it: such a value would change on the way.
                        let quoted = body.len() >= 2
                            && ['"', '\'']
                                .iter()
                                .any(|q| body.starts_with(*q) && body.ends_with(*q));
                        if body.trim() != body || quoted {
                            self.unsupported(
                                &format!("{at}/file"),
                                format!("{shown} begins or ends with spaces or quotes, which a SecretSet env file line does not keep: the service would read another value; mount it as a bind (read-only) from outside the repository instead"),
                            );
                            continue;
                        }
                        format!("the content of {shown} (one line, without its final newline)")
                    }
                    Err(e) => {
                        self.unsupported(
                            &format!("{at}/file"),
                            format!("{shown}: {e}; compose would fail too"),
                        );
                        continue;
                    }
                }
            } else if let Some(var) = c.get("environment").and_then(Value::as_str) {
                format!("the value of the variable {var}")
            } else {
                self.unsupported(&at, "a secret needs `file` or `environment`");
                continue;
            };
            self.note(
                &at,
                format!("secret {key}: put {from} into the secrets directory's {file} as {key}=...; the value is never copied here"),
            );
            self.secrets.insert(key.clone());
            keys.push((key.clone(), from));
        }
        if keys.is_empty() {
            return;
        }
        let spec = SecretSetSpec {
            file: file.clone(),
            generate: keys
                .iter()
                .map(|(k, _)| GeneratedKey {
                    key: k.clone(),
                    bytes: 32,
                    encoding: Encoding::Base64,
                })
                .collect(),
            values: BTreeMap::new(),
        };
        let mut comment = vec![
            format!("compose's secrets, one key each: write {file} (mode 0600) in the secrets directory with"),
        ];
        comment.extend(keys.iter().map(|(k, from)| format!("  {k}=<{from}>")));
        comment.push("`lucidctl secrets generate` keeps the values it finds there and generates only missing ones.".into());
        self.secret_set_name = Some(set.clone());
        self.docs.push(Doc {
            kind: Kind::SecretSet,
            name: set,
            labels: BTreeMap::new(),
            spec: serde_json::to_value(&spec).unwrap_or_default(),
            comment,
        });
    }

    /// A service's `secrets`: the keys it names, as files in /run/secrets.
    pub(super) fn service_secrets(
        &mut self,
        s: &Map<String, Value>,
        at: &str,
        user: Option<&str>,
    ) -> Vec<SecretFiles> {
        let Some(Value::Array(items)) = s.get("secrets") else {
            return Vec::new();
        };
        let mut keys: Vec<String> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{at}/secrets/{i}");
            let Some((source, long)) = reference(item) else {
                self.unsupported(&p, "expected a secret name or a mapping with `source`");
                continue;
            };
            if !self.m.secrets.iter().any(|(k, _)| *k == source) {
                self.unsupported(
                    &p,
                    format!("secret {source:?} is not declared under the top-level secrets"),
                );
                continue;
            }
            if !self.secrets.contains(&source) {
                // Not carried over; the top-level secret has the finding.
                continue;
            }
            if let Some(m) = long {
                if let Some(t) = m.get("target").and_then(Value::as_str) {
                    let in_dir = format!("{SECRETS_DIR}/{source}");
                    if t != source && t != in_dir {
                        self.unsupported(
                            &format!("{p}/target"),
                            format!("target {t:?}: lucidctl writes each secret as {SECRETS_DIR}/<name>, here {in_dir}; read it there, or rename the secret to {t:?}"),
                        );
                        continue;
                    }
                }
                // Without a user the files belong to root, as the container's default user.
                let owner = user.map_or(Some((0, 0)), numeric_user);
                for (id, have) in [("uid", owner.map(|o| o.0)), ("gid", owner.map(|o| o.1))] {
                    let Some(v) = m.get(id) else { continue };
                    let wanted = string_of(v).and_then(|t| t.trim().parse::<u32>().ok());
                    if wanted.is_none() || wanted != have {
                        self.note(
                            &format!("{p}/{id}"),
                            format!("{id}: lucidctl's secret files belong to the service's numeric user (`user:`), or to root without one; set `user` to give them another owner"),
                        );
                    }
                }
                if let Some(v) = m.get("mode") {
                    if mode_of(v) != Some(FileMode(0o400)) {
                        self.note(
                            &format!("{p}/mode"),
                            "mode: lucidctl writes secret files 0400, readable by their owner only",
                        );
                    }
                }
            }
            if !keys.contains(&source) {
                keys.push(source);
            }
        }
        let Some(set) = self.secret_set_name.clone() else {
            return Vec::new();
        };
        if keys.is_empty() {
            return Vec::new();
        }
        if let Some(u) = user.filter(|u| numeric_user(u).is_none()) {
            self.unsupported(
                &format!("{at}/user"),
                format!("user {u:?}: lucidctl's secret files belong to the service's user, which must be numeric; write its uid[:gid] (see /etc/passwd in the image)"),
            );
        }
        vec![SecretFiles {
            secret_set: set,
            target: SECRETS_DIR.to_string(),
            keys,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn modes_read_as_compose_reads_them() {
        assert_eq!(mode_of(&json!(440)), Some(FileMode(0o440)), "YAML 0440");
        assert_eq!(mode_of(&json!("0400")), Some(FileMode(0o400)));
        assert_eq!(mode_of(&json!(288)), Some(FileMode(0o440)), "decimal 288");
        assert_eq!(mode_of(&json!("rw")), None);
        assert_eq!(mode_of(&json!(99999)), None);
    }
}
