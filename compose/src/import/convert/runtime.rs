//! Compose's logging, ulimits, shm_size, hostname, extra_hosts, dns, tmpfs,
//! sysctls and stop_signal to the WorkloadSpec fields of the same meaning.

use super::{string_of, strings_of, Converter};
use crate::PROFILE_PREFIX;
use desired_state::model::Kind;
use desired_state::model::{
    ByteSize, Condition, Dependency, Device, FileMode, Logging, PidMode, Tmpfs, Ulimit,
    WorkloadSpec,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// `k=v` items or a mapping, as compose writes sysctls and extra_hosts.
fn pairs(v: &Value, sep: &[char]) -> Option<Vec<(String, String)>> {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| string_of(v).map(|v| (k.clone(), v)))
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                let s = string_of(i)?;
                let (k, v) = s.split_once(sep)?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .collect(),
        _ => None,
    }
}

fn size_of(v: &Value) -> Option<ByteSize> {
    match v {
        Value::Number(n) => n.as_u64().map(ByteSize),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn int_of(v: &Value) -> Option<i64> {
    string_of(v)?.trim().parse().ok()
}

impl Converter<'_, '_> {
    /// Sets the runtime fields of `spec` from the compose service `s` at `at`.
    pub(super) fn runtime(&mut self, s: &Map<String, Value>, at: &str, spec: &mut WorkloadSpec) {
        let sub = |k: &str| format!("{at}/{k}");
        if let Some(v) = s.get("logging") {
            spec.logging = self.logging(v, &sub("logging"));
        }
        if let Some(v) = s.get("ulimits") {
            spec.ulimits = self.ulimits(v, &sub("ulimits"));
        }
        if let Some(v) = s.get("shm_size") {
            spec.shm_size = size_of(v);
            if spec.shm_size.is_none() {
                self.unsupported(&sub("shm_size"), "expected a size such as 256m");
            }
        }
        spec.hostname = s.get("hostname").and_then(string_of);
        if let Some(v) = s.get("extra_hosts") {
            spec.extra_hosts = self.extra_hosts(v, &sub("extra_hosts"));
        }
        if let Some(v) = s.get("dns") {
            for (i, d) in strings_of(v).unwrap_or_default().iter().enumerate() {
                match d.parse::<IpAddr>() {
                    Ok(ip) => spec.dns.push(ip),
                    Err(_) => self.unsupported(
                        &format!("{}/{i}", sub("dns")),
                        format!("DNS server {d:?} is not an IP address"),
                    ),
                }
            }
        }
        if let Some(v) = s.get("tmpfs") {
            for (i, t) in strings_of(v).unwrap_or_default().iter().enumerate() {
                if let Some(t) = self.tmpfs(t, &format!("{}/{i}", sub("tmpfs"))) {
                    spec.tmpfs.push(t);
                }
            }
        }
        if let Some(v) = s.get("sysctls") {
            match pairs(v, &['=']) {
                Some(p) => spec.sysctls = p.into_iter().collect(),
                None => {
                    self.unsupported(&sub("sysctls"), "expected a mapping or a list of key=value")
                }
            }
        }
        spec.stop_signal = s.get("stop_signal").and_then(string_of);
        for (i, d) in s
            .get("devices")
            .and_then(strings_of)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let mut parts = d.splitn(3, ':');
            let host_path = parts.next().unwrap_or_default().to_string();
            let container_path = parts.next().map(str::to_string);
            let permissions = parts.next().map(str::to_string);
            if host_path.is_empty() {
                self.unsupported(
                    &format!("{}/{i}", sub("devices")),
                    format!("device {d:?} has no host path"),
                );
                continue;
            }
            // Compose writes the defaults out; keep the spec minimal so it round-trips.
            let container_path = container_path.filter(|c| *c != host_path);
            let permissions = permissions.filter(|p| p != "rwm");
            spec.devices.push(Device {
                host_path,
                container_path,
                permissions,
            });
        }
        match s.get("network_mode").and_then(Value::as_str) {
            Some(m @ ("host" | "none")) => spec.network_mode = Some(m.to_string()),
            Some(m) => {
                if let Some(target) = m.strip_prefix("service:") {
                    self.network_of(target, &sub("network_mode"), spec);
                }
            }
            None => {}
        }
        if spec.network_mode.is_some() && spec.ports.iter().any(|p| p.host_port.is_some()) {
            self.note(&sub("ports"), "published ports do not apply with this network_mode (compose ignores them too); they are left out");
            spec.ports.clear();
        }
        match s.get("pid").and_then(string_of).as_deref() {
            None => {}
            Some("host") => spec.pid = Some(PidMode::Host),
            Some(other) => self.unsupported(
                &sub("pid"),
                format!("pid {other:?}: lucidctl supports only \"host\""),
            ),
        }
    }

    /// `service:TARGET`: TARGET's stack, after TARGET (the plan recreates
    /// this one whenever TARGET gets a new container).
    fn network_of(&mut self, target: &str, at: &str, spec: &mut WorkloadSpec) {
        let Some(name) = self.names.get(target).cloned() else {
            self.unsupported(
                at,
                format!("network_mode service:{target}: there is no service {target:?}"),
            );
            return;
        };
        spec.network_mode = Some(format!("service:{name}"));
        if !spec.depends_on.iter().any(|d| d.name == name) {
            spec.depends_on.push(Dependency {
                name,
                condition: Condition::Started,
                restart: false,
            });
        }
    }

    /// An external network or volume: used under its Docker name (`name`,
    /// the legacy `external.name`, else the key), never created or removed.
    pub(super) fn external(&mut self, kind: Kind, key: &str, v: &Map<String, Value>) -> String {
        let docker = v
            .get("name")
            .or_else(|| v.get("external").and_then(|e| e.get("name")))
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_string();
        let name = self.claim(kind, &docker);
        let mut spec = json!({"external": true});
        if name != docker {
            spec["name"] = json!(docker);
        }
        let what = kind.as_str().to_ascii_lowercase();
        self.docs.push(super::Doc {
            kind,
            name: name.clone(),
            labels: BTreeMap::new(),
            spec,
            comment: vec![format!(
                "compose external {what} {key:?}: must exist, never created or removed."
            )],
        });
        name
    }

    /// Compose profiles become `profile.<name>: "true"` labels, so `-l
    /// profile.<name>=true` selects the service (with what it depends on).
    pub(super) fn profiles(
        &mut self,
        s: &Map<String, Value>,
        at: &str,
        labels: &mut BTreeMap<String, String>,
    ) {
        let Some(v) = s.get("profiles") else { return };
        for (i, p) in strings_of(v).unwrap_or_default().iter().enumerate() {
            let at = format!("{at}/{i}");
            let ok = !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !ok {
                self.unsupported(&at, format!("profile {p:?}: not usable as a label key"));
                continue;
            }
            labels.insert(format!("{PROFILE_PREFIX}{p}"), "true".into());
            self.note(&at, format!("profile {p}: as with compose's --profile {p}, lucidctl acts on this service only when asked: -l {PROFILE_PREFIX}{p}=true"));
        }
    }

    fn logging(&mut self, v: &Value, at: &str) -> Option<Logging> {
        let m = v.as_object()?;
        let options: Option<BTreeMap<String, String>> = match m.get("options") {
            None | Some(Value::Null) => Some(BTreeMap::new()),
            Some(Value::Object(o)) => o
                .iter()
                .map(|(k, v)| string_of(v).map(|v| (k.clone(), v)))
                .collect(),
            Some(_) => None,
        };
        let Some(options) = options else {
            self.unsupported(&format!("{at}/options"), "expected a mapping of strings");
            return None;
        };
        let driver = match m.get("driver").and_then(string_of) {
            Some(d) => d,
            None if options.is_empty() => return None,
            None => {
                self.note(at, "no driver: compose uses the daemon's default; lucidctl needs one and uses json-file (the daemon's usual default)");
                "json-file".into()
            }
        };
        Some(Logging { driver, options })
    }

    fn ulimits(&mut self, v: &Value, at: &str) -> BTreeMap<String, Ulimit> {
        let mut out = BTreeMap::new();
        for (name, limit) in v.as_object().into_iter().flatten() {
            let both = int_of(limit).map(|n| (n, n));
            let pair = both.or_else(|| {
                let o = limit.as_object()?;
                Some((int_of(o.get("soft")?)?, int_of(o.get("hard")?)?))
            });
            match pair {
                Some((soft, hard)) => {
                    out.insert(name.clone(), Ulimit { soft, hard });
                }
                None => self.unsupported(
                    &format!("{at}{}", desired_state::pointer::pointer([name])),
                    format!("ulimit {name:?} needs a number or soft and hard numbers"),
                ),
            }
        }
        out
    }

    fn extra_hosts(&mut self, v: &Value, at: &str) -> BTreeMap<String, String> {
        match pairs(v, &['=', ':']) {
            Some(p) => p
                .into_iter()
                .map(|(h, a)| {
                    let a = a.trim_start_matches('[').trim_end_matches(']').to_string();
                    (h, a)
                })
                .collect(),
            None => {
                self.unsupported(at, "expected a mapping or a list of host:address");
                BTreeMap::new()
            }
        }
    }

    fn tmpfs(&mut self, text: &str, at: &str) -> Option<Tmpfs> {
        let (target, opts) = text.split_once(':').unwrap_or((text, ""));
        let mut t = Tmpfs {
            target: target.to_string(),
            size: None,
            mode: None,
        };
        for opt in opts.split(',').filter(|o| !o.is_empty()) {
            match opt.split_once('=') {
                Some(("size", v)) if v.parse::<ByteSize>().is_ok() => t.size = v.parse().ok(),
                Some(("mode", v)) if v.parse::<FileMode>().is_ok() => t.mode = v.parse().ok(),
                _ if opt == "rw" => {}
                _ => {
                    self.unsupported(
                        at,
                        format!("tmpfs option {opt:?}: lucidctl supports size and mode"),
                    );
                    return None;
                }
            }
        }
        Some(t)
    }
}
