//! Merged compose services, networks and volumes to lucid/v1alpha1 resources.

use super::merge::Merged;
use super::{FindingKind, Findings};
use crate::text::{
    absolute, dns_label, is_dns_label, parse_compose_duration, relative, split_words,
};
use crate::yaml_out::to_yaml;
use desired_state::envfile::parse_env_file;
use desired_state::model::{
    BuildSpec, ByteSize, Cidr, Condition, ConfigFileSpec, Dependency, DurationSpec, Encoding,
    EnvFrom, GeneratedKey, Healthcheck, ImageRef, ImageSpec, Kind, Mount, NetworkAttachment,
    NetworkSpec, Platform, Port, Protocol, Resources, RestartPolicy, SecretSetSpec, Security,
    SelinuxLabel, VolumeSpec, WorkloadSpec, API_VERSION,
};
use desired_state::pointer::pointer as ptr;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

mod files;
mod runtime;

struct Doc {
    kind: Kind,
    name: String,
    labels: BTreeMap<String, String>,
    spec: Value,
    comment: Vec<String>,
}

pub(crate) struct Converter<'a, 'f> {
    m: &'a Merged,
    findings: &'a mut Findings<'f>,
    project: String,
    base_dir: PathBuf,
    out_dir: PathBuf,
    env: &'a HashMap<String, String>,
    /// Compose network key to the lucid Network name; None when it cannot be used.
    networks: BTreeMap<String, Option<String>>,
    volumes: BTreeMap<String, Option<String>>,
    /// Compose service key to the lucid Service or Job name.
    names: BTreeMap<String, String>,
    jobs: BTreeSet<String>,
    healthy: BTreeSet<String>,
    docs: Vec<Doc>,
    config_files: Vec<(PathBuf, String)>,
    secret_sets: Vec<(PathBuf, String)>,
    /// Image ref (with tag) to the index of its Image document.
    images: BTreeMap<String, usize>,
    taken: BTreeSet<(Kind, String)>,
    default_network_used: bool,
    /// Compose config key to the ConfigFile name; None when it cannot be used.
    configs: BTreeMap<String, Option<String>>,
    /// Compose secrets carried over as keys of the project's SecretSet.
    secrets: BTreeSet<String>,
    secret_set_name: Option<String>,
}

fn string_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An integer written as a number or as text (`"5"`, or what `${P:-100}` gave).
fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A JSON pointer into a service mapping.
fn dig<'v>(m: &'v Map<String, Value>, pointer: &str) -> Option<&'v Value> {
    let rest = pointer.strip_prefix('/')?;
    let (first, tail) = rest
        .split_once('/')
        .map(|(a, b)| (a, format!("/{b}")))
        .unwrap_or((rest, String::new()));
    m.get(first)?.pointer(&tail)
}

fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "y" => Some(true),
            "false" | "no" | "off" | "n" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn strings_of(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(a) => a.iter().map(string_of).collect(),
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

impl<'a, 'f> Converter<'a, 'f> {
    pub fn new(
        m: &'a Merged,
        findings: &'a mut Findings<'f>,
        project: String,
        base_dir: PathBuf,
        out_dir: PathBuf,
        env: &'a HashMap<String, String>,
    ) -> Self {
        Converter {
            m,
            findings,
            project,
            base_dir,
            out_dir,
            env,
            networks: BTreeMap::new(),
            volumes: BTreeMap::new(),
            names: BTreeMap::new(),
            jobs: BTreeSet::new(),
            healthy: BTreeSet::new(),
            docs: Vec::new(),
            config_files: Vec::new(),
            secret_sets: Vec::new(),
            images: BTreeMap::new(),
            taken: BTreeSet::new(),
            default_network_used: false,
            configs: BTreeMap::new(),
            secrets: BTreeSet::new(),
            secret_set_name: None,
        }
    }

    fn report(
        &mut self,
        kind: FindingKind,
        merged_pointer: &str,
        key: bool,
        msg: impl Into<String>,
    ) {
        let (file, src) = self.m.origin(merged_pointer);
        self.findings.at(kind, file, &src, key, msg);
    }

    fn unsupported(&mut self, at: &str, msg: impl Into<String>) {
        self.report(FindingKind::Unsupported, at, false, msg);
    }

    fn note(&mut self, at: &str, msg: impl Into<String>) {
        self.report(FindingKind::Note, at, false, msg);
    }

    /// A boolean as compose writes one (`true`, `"yes"`), or a finding.
    fn boolean(&mut self, v: Option<&Value>, at: &str) -> Option<bool> {
        let v = v?;
        let b = bool_of(v);
        if b.is_none() {
            self.unsupported(
                at,
                format!(
                    "expected true or false, found {}: not imported",
                    desired_state::diagnostics::escape_controls(&v.to_string())
                ),
            );
        }
        b
    }

    /// An integer in `range`, or a finding that says why the value is not carried over.
    fn integer(
        &mut self,
        v: &Value,
        at: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        match int_of(v).filter(|n| range.contains(n)) {
            Some(n) => Some(n),
            None => {
                self.unsupported(
                    at,
                    format!(
                        "expected a whole number from {} to {}, found {}: not imported",
                        range.start(),
                        range.end(),
                        desired_state::diagnostics::escape_controls(&v.to_string())
                    ),
                );
                None
            }
        }
    }

    /// A free name of the kind's namespace (Services and Jobs share one).
    fn claim(&mut self, kind: Kind, wanted: &str) -> String {
        let ns = if kind == Kind::Job {
            Kind::Service
        } else {
            kind
        };
        let base = dns_label(wanted);
        let mut name = base.clone();
        let mut n = 2;
        while self.taken.contains(&(ns, name.clone())) {
            let suffix = format!("-{n}");
            name = format!("{}{suffix}", &base[..base.len().min(63 - suffix.len())]);
            n += 1;
        }
        self.taken.insert((ns, name.clone()));
        name
    }

    fn labels(&mut self, v: Option<&Value>, at: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(Value::Object(map)) = v else {
            return out;
        };
        for (k, val) in map {
            let p = format!("{at}{}", ptr([k]));
            if k.starts_with("com.docker.compose.") {
                continue;
            }
            let key_ok = !k.is_empty()
                && k.len() <= 253
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c));
            match string_of(val) {
                Some(s) if key_ok && !s.chars().any(char::is_control) && s.len() <= 1024 => {
                    out.insert(k.clone(), s);
                }
                _ => self.note(&p, "label not imported: lucidctl labels need a key of letters, digits, '.', '_', '/', '-' and a one-line value"),
            }
        }
        out
    }

    pub fn run(&mut self) {
        self.plan_networks();
        self.plan_volumes();
        self.plan_configs();
        self.plan_secrets();
        self.plan_services();
        for i in 0..self.m.services.len() {
            let (key, svc) = &self.m.services[i];
            self.service(key, svc);
        }
        if self.default_network_used && !self.networks.contains_key("default") {
            let name = self.claim(Kind::Network, &format!("{}-default", self.project));
            let comment = vec![format!(
                "compose's implicit network for services that name none (Docker name {}_default).",
                self.project
            )];
            self.docs.push(Doc {
                kind: Kind::Network,
                name,
                labels: BTreeMap::new(),
                spec: json!({"driver": "bridge"}),
                comment,
            });
        }
    }

    fn default_network(&mut self) -> Option<String> {
        self.default_network_used = true;
        match self.networks.get("default") {
            Some(n) => n.clone(),
            None => Some(format!("{}-default", dns_label(&self.project))),
        }
    }

    fn plan_networks(&mut self) {
        for (key, n) in &self.m.networks {
            let at = ptr(["networks", key]);
            if n.get("external")
                .is_some_and(|e| bool_of(e) == Some(true) || e.is_object())
            {
                let name = self.external(Kind::Network, key, n);
                self.networks.insert(key.clone(), Some(name));
                continue;
            }
            let docker = n
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}_{key}", self.project));
            let name = self.claim(Kind::Network, &docker);
            if key == "default" {
                self.taken.insert((
                    Kind::Network,
                    format!("{}-default", dns_label(&self.project)),
                ));
            }
            let mut spec = NetworkSpec {
                driver: n.get("driver").and_then(Value::as_str).map(str::to_string),
                ..Default::default()
            };
            if let Some(v) = n.get("internal") {
                spec.internal = bool_of(v).unwrap_or(false);
            }
            if let Some(ipam) = n.get("ipam") {
                if let Some(d) = ipam.get("driver").and_then(Value::as_str) {
                    if d != "default" {
                        self.unsupported(
                            &format!("{at}/ipam/driver"),
                            format!(
                                "IPAM driver {d:?}: not supported by lucidctl (only the default)"
                            ),
                        );
                    }
                }
                let configs = ipam
                    .get("config")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if configs.len() > 1 {
                    self.unsupported(
                        &format!("{at}/ipam/config/1"),
                        "a second IPAM config: not supported by lucidctl (one subnet per network)",
                    );
                }
                if let Some(c) = configs.first() {
                    if let Some(s) = c.get("subnet").and_then(Value::as_str) {
                        match s.parse::<Cidr>() {
                            Ok(cidr) => spec.subnet = Some(cidr),
                            Err(e) => self.unsupported(&format!("{at}/ipam/config/0/subnet"), e),
                        }
                    }
                    if let Some(g) = c.get("gateway").and_then(Value::as_str) {
                        match g.parse::<IpAddr>() {
                            Ok(ip) => spec.gateway = Some(ip),
                            Err(_) => self.unsupported(
                                &format!("{at}/ipam/config/0/gateway"),
                                format!("invalid gateway address {g:?}"),
                            ),
                        }
                    }
                }
            }
            let labels = self.labels(n.get("labels"), &format!("{at}/labels"));
            let comment = vec![format!("compose network {key:?} (Docker name {docker}).")];
            self.networks.insert(key.clone(), Some(name.clone()));
            self.docs.push(Doc {
                kind: Kind::Network,
                name,
                labels,
                spec: serde_json::to_value(&spec).unwrap_or_default(),
                comment,
            });
        }
    }

    fn plan_volumes(&mut self) {
        for (key, v) in &self.m.volumes {
            let at = ptr(["volumes", key]);
            if v.get("external")
                .is_some_and(|e| bool_of(e) == Some(true) || e.is_object())
            {
                let name = self.external(Kind::Volume, key, v);
                self.volumes.insert(key.clone(), Some(name));
                continue;
            }
            let docker = v
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}_{key}", self.project));
            let name = self.claim(Kind::Volume, &docker);
            let mut spec = VolumeSpec {
                driver: v.get("driver").and_then(Value::as_str).map(str::to_string),
                ..Default::default()
            };
            if let Some(Value::Object(opts)) = v.get("driver_opts") {
                for (k, o) in opts {
                    if let Some(s) = string_of(o) {
                        spec.driver_opts.insert(k.clone(), s);
                    }
                }
            }
            let mut comment = vec![format!("compose volume {key:?}.")];
            if name != docker {
                comment = vec![format!(
                    "compose volume {key:?}: compose names it {docker}, lucidctl {name}."
                )];
                self.note(
                    &at,
                    format!(
                        "volume {key}: compose's Docker volume is {docker}, lucidctl's is {name} (a new volume); to keep the data, copy it first: docker run --rm -v {docker}:/from -v {name}:/to busybox cp -a /from/. /to/"
                    ),
                );
            }
            let labels = self.labels(v.get("labels"), &format!("{at}/labels"));
            self.volumes.insert(key.clone(), Some(name.clone()));
            self.docs.push(Doc {
                kind: Kind::Volume,
                name,
                labels,
                spec: serde_json::to_value(&spec).unwrap_or_default(),
                comment,
            });
        }
    }

    /// Names, which services become Jobs, which have a health check.
    fn plan_services(&mut self) {
        let mut completed: BTreeSet<String> = BTreeSet::new();
        for (_, s) in &self.m.services {
            if let Some(Value::Object(deps)) = s.get("depends_on") {
                for (d, v) in deps {
                    if v.get("condition").and_then(Value::as_str)
                        == Some("service_completed_successfully")
                    {
                        completed.insert(d.clone());
                    }
                }
            }
        }
        for (key, s) in &self.m.services {
            let at = ptr(["services", key]);
            let health = match s.get("healthcheck") {
                Some(h) => {
                    let disabled = h.get("disable").and_then(bool_of) == Some(true);
                    let none = h
                        .get("test")
                        .and_then(Value::as_array)
                        .and_then(|a| a.first())
                        .and_then(Value::as_str)
                        == Some("NONE");
                    h.get("test").is_some() && !disabled && !none
                }
                None => false,
            };
            if health {
                self.healthy.insert(key.clone());
            }
            let restart_no = match s.get("restart") {
                Some(Value::Bool(false)) => true,
                Some(Value::String(r)) => r == "no",
                Some(_) => false,
                None => {
                    dig(s, "/deploy/restart_policy/condition").and_then(Value::as_str)
                        == Some("none")
                }
            };
            let no_ports = s
                .get("ports")
                .and_then(Value::as_array)
                .is_none_or(|a| a.is_empty())
                && s.get("expose")
                    .and_then(Value::as_array)
                    .is_none_or(|a| a.is_empty());
            let wanted = s
                .get("container_name")
                .and_then(Value::as_str)
                .unwrap_or(key)
                .to_string();
            let kind = if completed.contains(key) || (restart_no && no_ports && !health) {
                Kind::Job
            } else {
                Kind::Service
            };
            if kind == Kind::Job {
                self.jobs.insert(key.clone());
                if !completed.contains(key) {
                    let (file, src) = self.m.origin(&format!("{at}/restart"));
                    self.findings.at(
                        FindingKind::Note,
                        file,
                        &src,
                        false,
                        "imported as a Job (restart \"no\", no ports, no healthcheck: a run-once task); make it a Service if it keeps running",
                    );
                }
            }
            let name = self.claim(kind, &wanted);
            if name != wanted {
                let what = if s.get("container_name").is_some() {
                    "container_name"
                } else {
                    "service name"
                };
                let (file, src) = self.m.origin(&at);
                self.findings.at(
                    FindingKind::Note,
                    file,
                    &src,
                    true,
                    format!(
                        "{what} {wanted:?} is not a DNS label: the container is named {name:?}"
                    ),
                );
            }
            self.names.insert(key.clone(), name);
        }
    }

    fn service(&mut self, key: &str, s: &Map<String, Value>) {
        let at = ptr(["services", key]);
        let sub = |k: &str| format!("{at}/{k}");
        let name = self.names[key].clone();
        let kind = if self.jobs.contains(key) {
            Kind::Job
        } else {
            Kind::Service
        };

        // Image, and an Image resource for builds and platforms.
        let build = s.get("build").and_then(Value::as_object);
        let image_text = match (s.get("image").and_then(string_of), build) {
            (Some(i), _) => i,
            (None, Some(_)) => format!("{}_{}", self.project, key.to_ascii_lowercase()),
            (None, None) => {
                self.unsupported(&at, "a service needs `image` or `build`");
                return;
            }
        };
        let image: ImageRef = match image_text.parse() {
            Ok(r) => r,
            Err(e) => {
                self.unsupported(&sub("image"), e);
                return;
            }
        };
        let platform = match s
            .get("platform")
            .and_then(Value::as_str)
            .map(str::parse::<Platform>)
        {
            Some(Ok(p)) => Some(p),
            Some(Err(e)) => {
                self.unsupported(&sub("platform"), e);
                None
            }
            None => None,
        };
        let build_spec = build.and_then(|b| self.build(b, &sub("build")));
        if build_spec.is_some() || platform.is_some() {
            let spec = ImageSpec {
                reference: image.clone(),
                platform,
                build: build_spec,
                push: false,
            };
            self.add_image(&name, spec, &sub("build"));
        }

        let command = s
            .get("command")
            .and_then(|v| self.words(v, &sub("command")));
        let entrypoint = s
            .get("entrypoint")
            .and_then(|v| self.words(v, &sub("entrypoint")));

        let mut env = BTreeMap::new();
        if let Some(Value::Object(vars)) = s.get("environment") {
            for (k, v) in vars {
                let p = format!("{}{}", sub("environment"), ptr([k]));
                match string_of(v) {
                    Some(val) => {
                        env.insert(k.clone(), val);
                    }
                    // A bare name: compose passes the value from the shell or
                    // `.env`; it is written down now, with a literal `${` escaped.
                    None => match self.env.get(k) {
                        Some(val) => {
                            env.insert(k.clone(), desired_state::literal::escape(val).into_owned());
                            self.note(&p, format!("{k} has no value in the file: the value from the environment or .env at import time is written in"));
                        }
                        None => self.unsupported(
                            &p,
                            format!("{k} has no value and is set neither in the environment nor in .env (compose would leave it out at `up`): write the value, or put it in an env_file"),
                        ),
                    },
                }
            }
        }

        let mut env_from = Vec::new();
        if let Some(Value::Array(files)) = s.get("env_file") {
            for (i, f) in files.iter().enumerate() {
                let p = format!("{}/{i}", sub("env_file"));
                let (path, required) = match f {
                    Value::String(path) => (path.clone(), true),
                    Value::Object(o) => match o.get("path").and_then(Value::as_str) {
                        Some(path) => (
                            path.to_string(),
                            o.get("required").and_then(bool_of).unwrap_or(true),
                        ),
                        None => continue,
                    },
                    _ => continue,
                };
                if let Some(set) = self.secret_set(&path, required, &p) {
                    if !env_from.iter().any(|e: &EnvFrom| e.secret_set == set) {
                        env_from.push(EnvFrom { secret_set: set });
                    }
                }
            }
        }

        let mut ports = Vec::new();
        if let Some(Value::Array(items)) = s.get("ports") {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{}/{i}", sub("ports"));
                match parse_port(item) {
                    Ok(list) => {
                        for mut port in list {
                            // Compose publishes a bare container port on a free host port.
                            port.host_port.get_or_insert(0);
                            ports.push(port);
                        }
                    }
                    Err(e) => self.unsupported(&p, e),
                }
            }
        }
        if let Some(Value::Array(items)) = s.get("expose") {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{}/{i}", sub("expose"));
                let text = string_of(item).unwrap_or_default();
                match parse_expose(&text) {
                    Ok(list) => {
                        for port in list {
                            if !ports.iter().any(|q: &Port| {
                                q.container_port == port.container_port
                                    && q.protocol == port.protocol
                            }) {
                                ports.push(port);
                            }
                        }
                    }
                    Err(e) => self.unsupported(&p, e),
                }
            }
        }

        let networks = self.attachments(key, &name, s, &at);
        let mut mounts = self.mounts(s, &sub("volumes"));
        mounts.extend(self.service_configs(s, &at));
        let healthcheck = self.healthcheck(s.get("healthcheck"), &sub("healthcheck"));
        let depends_on = self.depends_on(s.get("depends_on"), &sub("depends_on"));

        let mut restart = match s.get("restart") {
            Some(Value::Bool(false)) => Some(RestartPolicy::No),
            Some(Value::String(r)) => match r.as_str() {
                "no" => Some(RestartPolicy::No),
                "always" => Some(RestartPolicy::Always),
                "unless-stopped" => Some(RestartPolicy::UnlessStopped),
                "on-failure" => Some(RestartPolicy::OnFailure),
                other if other.starts_with("on-failure:") => {
                    self.note(&sub("restart"), format!("{other}: lucidctl's on-failure has no retry limit; the limit is dropped"));
                    Some(RestartPolicy::OnFailure)
                }
                other => {
                    self.unsupported(
                        &sub("restart"),
                        format!("restart policy {other:?}: not supported by lucidctl"),
                    );
                    None
                }
            },
            Some(_) => {
                self.unsupported(&sub("restart"), "restart must be a string");
                None
            }
            None => match dig(s, "/deploy/restart_policy/condition").and_then(Value::as_str) {
                Some("none") => Some(RestartPolicy::No),
                Some("on-failure") => Some(RestartPolicy::OnFailure),
                Some("any") => Some(RestartPolicy::Always),
                Some(other) => {
                    self.unsupported(
                        &sub("deploy/restart_policy/condition"),
                        format!("restart condition {other:?}: not supported by lucidctl"),
                    );
                    None
                }
                None => None,
            },
        };
        if kind == Kind::Job
            && matches!(
                restart,
                Some(RestartPolicy::Always | RestartPolicy::UnlessStopped)
            )
        {
            self.note(&sub("restart"), "others wait for this service to complete, so it is a Job; a Job is not restarted forever, so the policy becomes \"no\"");
            restart = Some(RestartPolicy::No);
        }

        let resources = self.resources(s, &at);
        let security = self.security(s, &at);
        let user = s.get("user").and_then(string_of);
        let secret_files = self.service_secrets(s, &at, user.as_deref());
        let working_dir = s
            .get("working_dir")
            .and_then(Value::as_str)
            .map(str::to_string);
        let init = self.boolean(s.get("init"), &sub("init"));
        let stop_grace_period = s
            .get("stop_grace_period")
            .and_then(|v| self.duration(v, &sub("stop_grace_period")));
        let mut labels = self.labels(s.get("labels"), &sub("labels"));
        self.profiles(s, &sub("profiles"), &mut labels);

        let mut spec = WorkloadSpec {
            image,
            pull: None,
            command,
            entrypoint,
            env,
            env_from,
            secret_files,
            ports,
            networks,
            mounts,
            healthcheck,
            depends_on,
            restart,
            resources,
            security,
            user,
            working_dir,
            init,
            stop_grace_period,
            rollout: None,
            before_recreate: Vec::new(),
            logging: None,
            ulimits: BTreeMap::new(),
            shm_size: None,
            hostname: None,
            extra_hosts: BTreeMap::new(),
            dns: Vec::new(),
            tmpfs: Vec::new(),
            sysctls: BTreeMap::new(),
            stop_signal: None,
            pid: None,
            devices: Vec::new(),
            network_mode: None,
            replicas: None,
            placement: None,
        };
        self.runtime(s, &at, &mut spec);
        let comment = vec![format!("compose service {key:?}.")];
        self.docs.push(Doc {
            kind,
            name,
            labels,
            spec: serde_json::to_value(&spec).unwrap_or_default(),
            comment,
        });
    }

    fn words(&mut self, v: &Value, at: &str) -> Option<Vec<String>> {
        match v {
            Value::Null => None,
            Value::String(s) => match split_words(s) {
                Ok(w) => Some(w),
                Err(e) => {
                    self.unsupported(at, format!("cannot split {s:?} into words: {e}"));
                    None
                }
            },
            Value::Array(_) => match strings_of(v) {
                Some(w) => Some(w),
                None => {
                    self.unsupported(at, "expected a list of strings");
                    None
                }
            },
            _ => {
                self.unsupported(at, "expected a string or a list of strings");
                None
            }
        }
    }

    fn duration(&mut self, v: &Value, at: &str) -> Option<DurationSpec> {
        let text = string_of(v).unwrap_or_default();
        match parse_compose_duration(&text) {
            Some(d) => Some(DurationSpec(d)),
            None => {
                self.unsupported(at, format!("invalid duration {text:?}"));
                None
            }
        }
    }

    fn build(&mut self, b: &Map<String, Value>, at: &str) -> Option<BuildSpec> {
        let context = b.get("context").and_then(Value::as_str).unwrap_or(".");
        if context.contains("://")
            || context.starts_with("git@")
            || context.starts_with("github.com/")
        {
            self.unsupported(&format!("{at}/context"), "remote build contexts are not supported by lucidctl; check the source out and point at the directory");
            return None;
        }
        let abs = absolute(&self.base_dir.join(context));
        let rel = relative(&self.out_dir, &abs);
        let rel = rel.strip_prefix("./").unwrap_or(&rel).to_string();
        let mut args = BTreeMap::new();
        let raw: Vec<(String, Option<String>)> = match b.get("args") {
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), string_of(v))).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(string_of)
                .map(|s| match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (s, None),
                })
                .collect(),
            _ => Vec::new(),
        };
        for (k, v) in raw {
            match v.or_else(|| self.env.get(&k).cloned()) {
                Some(v) => {
                    args.insert(k, v);
                }
                None => self.unsupported(
                    &format!("{at}/args"),
                    format!("build arg {k} has no value and is not set in the environment"),
                ),
            }
        }
        Some(BuildSpec {
            context: rel,
            dockerfile: b
                .get("dockerfile")
                .and_then(Value::as_str)
                .map(str::to_string),
            args,
            target: b.get("target").and_then(Value::as_str).map(str::to_string),
        })
    }

    fn add_image(&mut self, service: &str, spec: ImageSpec, at: &str) {
        let reference = spec.reference.with_default_tag();
        if let Some(&i) = self.images.get(&reference) {
            let existing: Option<ImageSpec> =
                serde_json::from_value(self.docs[i].spec.clone()).ok();
            if existing.as_ref() != Some(&spec) {
                self.unsupported(at, format!("image {} is also built or pulled differently by another service; lucidctl has one Image per tag", spec.reference));
            }
            return;
        }
        let name = self.claim(Kind::Image, service);
        let comment = vec![if spec.build.is_some() {
            "built by compose's `build:`.".to_string()
        } else {
            "pulled for the platform compose named.".to_string()
        }];
        self.images.insert(reference, self.docs.len());
        self.docs.push(Doc {
            kind: Kind::Image,
            name,
            labels: BTreeMap::new(),
            spec: serde_json::to_value(&spec).unwrap_or_default(),
            comment,
        });
    }

    fn secret_set(&mut self, path: &str, required: bool, at: &str) -> Option<String> {
        let abs = absolute(&self.base_dir.join(path));
        if let Some((_, name)) = self.secret_sets.iter().find(|(p, _)| *p == abs) {
            return Some(name.clone());
        }
        let text = match super::read_text(&abs) {
            Ok(t) => t,
            Err(e) => {
                if required {
                    self.unsupported(
                        at,
                        format!(
                            "env file {} cannot be read ({e}); compose would fail too",
                            abs.display()
                        ),
                    );
                }
                return None;
            }
        };
        let keys: Vec<String> = parse_env_file(&text).into_keys().collect();
        let base = abs
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "env".into());
        let name = self.claim(Kind::SecretSet, base.trim_start_matches('.'));
        let file_taken = |f: &str, docs: &[Doc]| {
            docs.iter().any(|d| {
                d.kind == Kind::SecretSet && d.spec.get("file").and_then(Value::as_str) == Some(f)
            })
        };
        let file = if file_taken(&base, &self.docs) {
            format!(".env.{name}")
        } else {
            base.clone()
        };
        let spec = SecretSetSpec {
            file: file.clone(),
            generate: keys
                .iter()
                .map(|k| GeneratedKey {
                    key: k.clone(),
                    bytes: 32,
                    encoding: Encoding::Base64,
                })
                .collect(),
            values: BTreeMap::new(),
        };
        let shown = relative(&self.base_dir, &abs);
        let comment = vec![
            format!("From the env file {shown}: copy it into the secrets directory as {file} (mode 0600)."),
            "Every key in it is listed under `generate`: `lucidctl secrets generate` keeps the values it".to_string(),
            "finds there and generates only missing ones. Values never belong in this file.".to_string(),
        ];
        self.note(at, format!("env file {shown} becomes SecretSet {name}: copy it into the secrets directory as {file}; its values are kept, never copied here"));
        self.secret_sets.push((abs, name.clone()));
        self.docs.push(Doc {
            kind: Kind::SecretSet,
            name: name.clone(),
            labels: BTreeMap::new(),
            spec: serde_json::to_value(&spec).unwrap_or_default(),
            comment,
        });
        Some(name)
    }

    fn attachments(
        &mut self,
        key: &str,
        name: &str,
        s: &Map<String, Value>,
        at: &str,
    ) -> Vec<NetworkAttachment> {
        let mut out = Vec::new();
        let service_alias = dns_label(key);
        let attach = |out: &mut Vec<NetworkAttachment>,
                      network: String,
                      mut aliases: Vec<String>,
                      ip: Option<std::net::Ipv4Addr>| {
            // compose makes the service name resolvable on every network it joins.
            if service_alias != name && !aliases.contains(&service_alias) {
                aliases.insert(0, service_alias.clone());
            }
            out.push(NetworkAttachment {
                name: network,
                aliases,
                ipv4_address: ip,
            });
        };
        if let Some(mode) = s.get("network_mode") {
            match mode.as_str() {
                // host, none and service:NAME become networkMode (runtime.rs).
                Some("bridge" | "host" | "none") => {}
                Some(m) if m.starts_with("service:") => {}
                Some(other) => self.unsupported(&format!("{at}/network_mode"), format!("network_mode {other:?}: not supported by lucidctl (only bridge, or networks)")),
                None => self.unsupported(&format!("{at}/network_mode"), "network_mode must be a string"),
            }
            return out;
        }
        let Some(Value::Object(nets)) = s.get("networks") else {
            if let Some(n) = self.default_network() {
                attach(&mut out, n, Vec::new(), None);
            }
            return out;
        };
        for (net, v) in nets {
            let p = format!("{at}/networks{}", ptr([net]));
            let lucid = match self.networks.get(net) {
                Some(Some(n)) => n.clone(),
                Some(None) => continue,
                None if net == "default" => match self.default_network() {
                    Some(n) => n,
                    None => continue,
                },
                None => {
                    self.unsupported(
                        &p,
                        format!("network {net:?} is not declared under the top-level networks"),
                    );
                    continue;
                }
            };
            let mut aliases = Vec::new();
            for (i, a) in v
                .get("aliases")
                .and_then(strings_of)
                .unwrap_or_default()
                .into_iter()
                .enumerate()
            {
                if is_dns_label(&a) {
                    aliases.push(a);
                } else {
                    let fixed = dns_label(&a);
                    self.note(
                        &format!("{p}/aliases/{i}"),
                        format!("alias {a:?} is not a DNS label: imported as {fixed:?}"),
                    );
                    aliases.push(fixed);
                }
            }
            let ip = match v.get("ipv4_address").and_then(Value::as_str) {
                Some(t) => match t.parse() {
                    Ok(ip) => Some(ip),
                    Err(_) => {
                        self.unsupported(
                            &format!("{p}/ipv4_address"),
                            format!("invalid IPv4 address {t:?}"),
                        );
                        None
                    }
                },
                None => None,
            };
            attach(&mut out, lucid, aliases, ip);
        }
        out
    }

    fn mounts(&mut self, s: &Map<String, Value>, at: &str) -> Vec<Mount> {
        let mut out = Vec::new();
        let Some(Value::Array(items)) = s.get("volumes") else {
            return out;
        };
        for (i, item) in items.iter().enumerate() {
            let p = format!("{at}/{i}");
            let mut selinux = None;
            let (kind, source, target, mut read_only) = match item {
                Value::String(text) => {
                    let parts: Vec<&str> = text.split(':').collect();
                    let (src, dst, mode) = match parts.as_slice() {
                        [dst] => {
                            out.push(self.anonymous(dst, false, &p));
                            continue;
                        }
                        [src, dst] => (*src, *dst, ""),
                        [src, dst, mode] => (*src, *dst, *mode),
                        _ => {
                            self.unsupported(&p, format!("cannot read the volume {text:?}"));
                            continue;
                        }
                    };
                    let mut ro = false;
                    for opt in mode.split(',').filter(|o| !o.is_empty()) {
                        match opt {
                            "ro" => ro = true,
                            "z" => selinux = Some(SelinuxLabel::Shared),
                            "Z" => selinux = Some(SelinuxLabel::Private),
                            "rw" | "cached" | "delegated" | "consistent" => {}
                            other => self.unsupported(
                                &p,
                                format!("mount option {other:?}: not supported by lucidctl"),
                            ),
                        }
                    }
                    let kind =
                        if src.starts_with('/') || src.starts_with('.') || src.starts_with('~') {
                            "bind"
                        } else {
                            "volume"
                        };
                    (kind.to_string(), src.to_string(), dst.to_string(), ro)
                }
                Value::Object(m) => {
                    let kind = m
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("volume")
                        .to_string();
                    if kind != "volume" && kind != "bind" {
                        self.unsupported(
                            &format!("{p}/type"),
                            format!("mount type {kind:?}: not supported by lucidctl"),
                        );
                        continue;
                    }
                    selinux = match dig(m, "/bind/selinux").and_then(Value::as_str) {
                        Some("z") => Some(SelinuxLabel::Shared),
                        Some("Z") => Some(SelinuxLabel::Private),
                        _ => None,
                    };
                    let Some(target) = m.get("target").and_then(Value::as_str) else {
                        self.unsupported(&p, "a mount needs a target");
                        continue;
                    };
                    let Some(source) = m.get("source").and_then(Value::as_str) else {
                        let ro = m.get("read_only").and_then(bool_of).unwrap_or(false);
                        out.push(self.anonymous(target, ro, &p));
                        continue;
                    };
                    (
                        kind,
                        source.to_string(),
                        target.to_string(),
                        m.get("read_only").and_then(bool_of).unwrap_or(false),
                    )
                }
                _ => {
                    self.unsupported(&p, "expected a string or a mapping");
                    continue;
                }
            };
            if selinux.is_some() && kind != "bind" {
                self.unsupported(
                    &p,
                    "SELinux relabeling (z, Z): lucidctl relabels bind mounts only",
                );
                selinux = None;
            }
            if kind == "volume" {
                match self.volumes.get(&source) {
                    Some(Some(v)) => out.push(Mount {
                        volume: Some(v.clone()),
                        config_file: None,
                        bind: None,
                        target,
                        read_only,
                        anonymous: false,
                        selinux: None,
                    }),
                    Some(None) => {}
                    None => self.unsupported(
                        &p,
                        format!("volume {source:?} is not declared under the top-level volumes"),
                    ),
                }
                continue;
            }
            let expanded = match source.strip_prefix('~') {
                Some(rest) => format!(
                    "{}{rest}",
                    self.env.get("HOME").cloned().unwrap_or_default()
                ),
                None => source.clone(),
            };
            let abs = absolute(&self.base_dir.join(&expanded));
            if !source.starts_with('/') && abs.is_file() {
                let wanted = abs
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "config".into());
                let name = self.config_file(&abs, wanted.trim_start_matches('.'));
                if !read_only {
                    self.note(&p, "lucidctl mounts ConfigFiles read-only");
                    read_only = true;
                }
                out.push(Mount {
                    volume: None,
                    config_file: Some(name),
                    bind: None,
                    target,
                    read_only,
                    anonymous: false,
                    selinux,
                });
            } else {
                if !source.starts_with('/') {
                    self.note(
                        &p,
                        format!(
                            "bind source {source:?} becomes the absolute path {}",
                            abs.display()
                        ),
                    );
                }
                out.push(Mount {
                    volume: None,
                    config_file: None,
                    bind: Some(abs.display().to_string()),
                    target,
                    read_only,
                    anonymous: false,
                    selinux,
                });
            }
        }
        out
    }

    /// Compose keeps an anonymous volume's data across recreates by copying
    /// it to the new container; lucidctl starts it empty, so say so.
    fn anonymous(&mut self, target: &str, read_only: bool, at: &str) -> Mount {
        self.note(at, format!("anonymous volume {target:?}: lucidctl starts it empty at every recreate (compose keeps its data); declare a named volume for data worth keeping"));
        Mount {
            volume: None,
            config_file: None,
            bind: None,
            target: target.to_string(),
            read_only,
            anonymous: true,
            selinux: None,
        }
    }

    /// The ConfigFile for the file `abs`, named after `wanted` when new.
    fn config_file(&mut self, abs: &Path, wanted: &str) -> String {
        if let Some((_, name)) = self.config_files.iter().find(|(p, _)| p == abs) {
            return name.clone();
        }
        let name = self.claim(Kind::ConfigFile, wanted);
        let rel = relative(&self.out_dir, abs);
        let spec = ConfigFileSpec {
            file: Some(rel.strip_prefix("./").unwrap_or(&rel).to_string()),
            content: None,
            mode: None,
        };
        self.config_files.push((abs.to_path_buf(), name.clone()));
        let comment = vec![format!(
            "mounted by compose from {}.",
            relative(&self.base_dir, abs)
        )];
        self.docs.push(Doc {
            kind: Kind::ConfigFile,
            name: name.clone(),
            labels: BTreeMap::new(),
            spec: serde_json::to_value(&spec).unwrap_or_default(),
            comment,
        });
        name
    }

    fn healthcheck(&mut self, h: Option<&Value>, at: &str) -> Option<Healthcheck> {
        let h = h?.as_object()?;
        if h.get("disable").and_then(bool_of) == Some(true) {
            return Some(Healthcheck {
                test: vec!["NONE".into()],
                interval: None,
                timeout: None,
                retries: None,
                start_period: None,
                start_interval: None,
                restart_after: None,
            });
        }
        let test = match h.get("test") {
            Some(Value::String(s)) if s.is_empty() => vec!["NONE".to_string()],
            Some(Value::String(s)) => vec!["CMD-SHELL".to_string(), s.clone()],
            Some(v @ Value::Array(_)) => {
                let list = strings_of(v).unwrap_or_default();
                if !matches!(
                    list.first().map(String::as_str),
                    Some("CMD" | "CMD-SHELL" | "NONE")
                ) {
                    self.unsupported(
                        &format!("{at}/test"),
                        "a test list must start with CMD, CMD-SHELL or NONE",
                    );
                    return None;
                }
                list
            }
            _ => {
                self.unsupported(at, "a healthcheck without `test` keeps the image's test under compose; lucidctl needs the test written out");
                return None;
            }
        };
        let interval = h
            .get("interval")
            .and_then(|v| self.duration(v, &format!("{at}/interval")));
        let timeout = h
            .get("timeout")
            .and_then(|v| self.duration(v, &format!("{at}/timeout")));
        let start_period = h
            .get("start_period")
            .and_then(|v| self.duration(v, &format!("{at}/start_period")));
        let retries = h
            .get("retries")
            .and_then(|v| self.integer(v, &format!("{at}/retries"), 0..=i64::from(u32::MAX)))
            .map(|n| n as u32);
        Some(Healthcheck {
            test,
            interval,
            timeout,
            retries,
            start_period,
            start_interval: None,
            restart_after: None,
        })
    }

    fn depends_on(&mut self, v: Option<&Value>, at: &str) -> Vec<Dependency> {
        let mut out = Vec::new();
        let Some(Value::Object(deps)) = v else {
            return out;
        };
        for (dep, val) in deps {
            let p = format!("{at}{}", ptr([dep]));
            let Some(name) = self.names.get(dep).cloned() else {
                self.unsupported(
                    &p,
                    format!("depends on {dep:?}, which is not a service in these files"),
                );
                continue;
            };
            let mut condition = match val.get("condition").and_then(Value::as_str) {
                None | Some("service_started") => Condition::Started,
                Some("service_healthy") => Condition::Healthy,
                Some("service_completed_successfully") => Condition::Completed,
                Some(other) => {
                    self.unsupported(
                        &format!("{p}/condition"),
                        format!("condition {other:?}: not supported by lucidctl"),
                    );
                    Condition::Started
                }
            };
            if condition == Condition::Healthy && !self.healthy.contains(dep) {
                self.unsupported(
                    &format!("{p}/condition"),
                    format!("service_healthy on {dep}, which declares no healthcheck (lucidctl cannot see an image's HEALTHCHECK); imported as started: write the healthcheck into {dep}"),
                );
                condition = Condition::Started;
            }
            out.push(Dependency {
                name,
                condition,
                restart: false,
            });
        }
        out
    }

    fn resources(&mut self, s: &Map<String, Value>, at: &str) -> Option<Resources> {
        let pick = |a: &str, b: &str| -> Option<(Value, String)> {
            s.get(a)
                .map(|v| (v.clone(), format!("{at}/{a}")))
                .or_else(|| dig(s, b).map(|v| (v.clone(), format!("{at}{b}"))))
        };
        let memory = match pick("mem_limit", "/deploy/resources/limits/memory") {
            Some((Value::Number(n), p)) => match n.as_u64() {
                Some(b) => Some(ByteSize(b)),
                None => {
                    self.unsupported(&p, format!("expected a size such as 512m, found {n}"));
                    None
                }
            },
            Some((Value::String(t), p)) => match t.parse::<ByteSize>() {
                Ok(b) => Some(b),
                Err(e) => {
                    self.unsupported(&p, e);
                    None
                }
            },
            Some((_, p)) => {
                self.unsupported(&p, "expected a size such as 512m");
                None
            }
            None => None,
        };
        let cpus = match pick("cpus", "/deploy/resources/limits/cpus") {
            Some((v, p)) => match string_of(&v).and_then(|t| t.parse::<f64>().ok()) {
                Some(c) => Some(c),
                None => {
                    self.unsupported(&p, "expected a number of CPUs such as 0.5");
                    None
                }
            },
            None => None,
        };
        let pids_limit = pick("pids_limit", "/deploy/resources/limits/pids")
            .and_then(|(v, p)| self.integer(&v, &p, -1..=i64::MAX));
        (memory.is_some() || cpus.is_some() || pids_limit.is_some()).then_some(Resources {
            memory,
            cpus,
            pids_limit,
        })
    }

    fn security(&mut self, s: &Map<String, Value>, at: &str) -> Option<Security> {
        let read_only = self.boolean(s.get("read_only"), &format!("{at}/read_only"));
        let privileged = self.boolean(s.get("privileged"), &format!("{at}/privileged"));
        let mut sec = Security {
            read_only_root_filesystem: read_only.unwrap_or(false),
            cap_drop: s.get("cap_drop").and_then(strings_of).unwrap_or_default(),
            cap_add: s.get("cap_add").and_then(strings_of).unwrap_or_default(),
            privileged: privileged.unwrap_or(false),
            ..Default::default()
        };
        if let Some(Value::Array(opts)) = s.get("security_opt") {
            for (i, o) in opts.iter().enumerate() {
                let text = string_of(o).unwrap_or_default();
                match text.as_str() {
                    "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true" => {
                        sec.no_new_privileges = true
                    }
                    "no-new-privileges:false" | "no-new-privileges=false" => {}
                    other => self.unsupported(
                        &format!("{at}/security_opt/{i}"),
                        format!("security option {other:?}: not supported by lucidctl"),
                    ),
                }
            }
        }
        (sec != Security::default()).then_some(sec)
    }

    /// The documents, in the order lucidctl applies kinds, and the count of each kind.
    pub fn finish(self) -> (String, BTreeMap<Kind, usize>) {
        let mut docs = self.docs;
        docs.sort_by_key(|d| Kind::ALL.iter().position(|k| *k == d.kind));
        let mut counts = BTreeMap::new();
        let mut text = String::new();
        for d in docs {
            *counts.entry(d.kind).or_insert(0) += 1;
            text.push_str("---\n");
            for c in &d.comment {
                text.push_str(&format!("# {c}\n"));
            }
            let mut metadata = Map::new();
            metadata.insert("name".into(), json!(d.name));
            if !d.labels.is_empty() {
                metadata.insert("labels".into(), json!(d.labels));
            }
            let doc = json!({"apiVersion": API_VERSION, "kind": d.kind.as_str(), "metadata": Value::Object(metadata), "spec": d.spec});
            text.push_str(&to_yaml(&doc));
        }
        (text, counts)
    }
}

fn protocol(p: &str) -> Result<Protocol, String> {
    match p {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        "sctp" => Ok(Protocol::Sctp),
        other => Err(format!("protocol {other:?}: expected tcp, udp or sctp")),
    }
}

fn port_range(s: &str) -> Result<Vec<u16>, String> {
    let bad = || format!("invalid port {s:?}");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.trim().parse().map_err(|_| bad())?;
    let b: u16 = b.trim().parse().map_err(|_| bad())?;
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok((a..=b).collect())
}

/// Short (`[ip:][host:]container[/proto]`, ranges too) or long port syntax.
pub fn parse_port(v: &Value) -> Result<Vec<Port>, String> {
    let mk = |c: u16, h: Option<u16>, ip: Option<IpAddr>, proto: Protocol| Port {
        container_port: c,
        host_port: h,
        host_ip: ip,
        protocol: proto,
    };
    match v {
        Value::Number(n) => {
            let c = n
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| *c > 0)
                .ok_or_else(|| format!("invalid port {n}"))?;
            Ok(vec![mk(c, None, None, Protocol::Tcp)])
        }
        Value::String(s) => {
            let (body, proto) = match s.rsplit_once('/') {
                Some((b, p)) => (b, protocol(p)?),
                None => (s.as_str(), Protocol::Tcp),
            };
            let (ip, rest): (Option<&str>, &str) = if let Some(r) = body.strip_prefix('[') {
                let (ip, rest) = r
                    .split_once("]:")
                    .ok_or_else(|| format!("invalid port {s:?}"))?;
                (Some(ip), rest)
            } else {
                let parts: Vec<&str> = body.split(':').collect();
                if parts.len() >= 3 {
                    let split = body.len()
                        - parts[parts.len() - 2].len()
                        - parts[parts.len() - 1].len()
                        - 2;
                    (Some(&body[..split]), &body[split + 1..])
                } else {
                    (None, body)
                }
            };
            let ip = match ip.filter(|i| !i.is_empty()) {
                Some(i) => Some(
                    i.parse::<IpAddr>()
                        .map_err(|_| format!("invalid host address {i:?} in {s:?}"))?,
                ),
                None => None,
            };
            let (host, container) = match rest.split_once(':') {
                Some((h, c)) => (
                    if h.is_empty() {
                        None
                    } else {
                        Some(port_range(h)?)
                    },
                    port_range(c)?,
                ),
                None => (None, port_range(rest)?),
            };
            match host {
                None => Ok(container
                    .into_iter()
                    .map(|c| mk(c, None, ip, proto))
                    .collect()),
                Some(h) if h.len() == container.len() => Ok(h
                    .into_iter()
                    .zip(container)
                    .map(|(h, c)| mk(c, Some(h), ip, proto))
                    .collect()),
                Some(h) if h.len() > 1 && container.len() == 1 => Err(format!(
                    "{s:?} picks one host port from a range: not supported by lucidctl"
                )),
                Some(_) => Err(format!("{s:?}: host and container ranges differ in length")),
            }
        }
        Value::Object(m) => {
            let c = m
                .get("target")
                .and_then(int_of)
                .and_then(|c| u64::try_from(c).ok())
                .and_then(|c| u16::try_from(c).ok())
                .ok_or("a port needs a numeric target")?;
            let host = match m.get("published") {
                None | Some(Value::Null) => None,
                Some(p) => {
                    let text = string_of(p).unwrap_or_default();
                    let r = port_range(&text)?;
                    if r.len() != 1 {
                        return Err(format!(
                            "published range {text:?}: not supported by lucidctl"
                        ));
                    }
                    Some(r[0])
                }
            };
            let ip = match m.get("host_ip").and_then(Value::as_str) {
                Some(i) => Some(
                    i.parse::<IpAddr>()
                        .map_err(|_| format!("invalid host_ip {i:?}"))?,
                ),
                None => None,
            };
            let proto = protocol(m.get("protocol").and_then(Value::as_str).unwrap_or("tcp"))?;
            Ok(vec![mk(c, host, ip, proto)])
        }
        _ => Err("expected a port string, number or mapping".into()),
    }
}

/// An `expose` entry: `80`, `80/udp` or a range `8000-8010`.
pub fn parse_expose(s: &str) -> Result<Vec<Port>, String> {
    let (body, proto) = match s.rsplit_once('/') {
        Some((b, p)) => (b, protocol(p)?),
        None => (s, Protocol::Tcp),
    };
    Ok(port_range(body)?
        .into_iter()
        .map(|c| Port {
            container_port: c,
            host_port: None,
            host_ip: None,
            protocol: proto,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: Value) -> (u16, Option<u16>, Option<String>, Protocol) {
        let p = parse_port(&v).unwrap();
        assert_eq!(p.len(), 1);
        (
            p[0].container_port,
            p[0].host_port,
            p[0].host_ip.map(|i| i.to_string()),
            p[0].protocol,
        )
    }

    #[test]
    fn ports_in_every_syntax() {
        assert_eq!(
            one(json!("127.0.0.1:8080:80/tcp")),
            (80, Some(8080), Some("127.0.0.1".into()), Protocol::Tcp)
        );
        assert_eq!(one(json!("8080:80")), (80, Some(8080), None, Protocol::Tcp));
        assert_eq!(one(json!("80")), (80, None, None, Protocol::Tcp));
        assert_eq!(one(json!(53)), (53, None, None, Protocol::Tcp));
        assert_eq!(
            one(json!("5353:53/udp")),
            (53, Some(5353), None, Protocol::Udp)
        );
        assert_eq!(
            one(json!("[::1]:8082:82")),
            (82, Some(8082), Some("::1".into()), Protocol::Tcp)
        );
        assert_eq!(
            one(json!("::1:8082:82")),
            (82, Some(8082), Some("::1".into()), Protocol::Tcp)
        );
        assert_eq!(
            one(json!({"target": 81, "published": "8081", "protocol": "udp"})),
            (81, Some(8081), None, Protocol::Udp)
        );
        assert_eq!(parse_port(&json!("9000-9001:8000-8001")).unwrap().len(), 2);
        assert!(parse_port(&json!("9000-9001:80")).is_err());
        assert!(parse_port(&json!("80/quic")).is_err());
    }
}
