//! Which compose keys lucidctl can carry over. Every other key is reported at
//! its own line and column; `x-` extension fields are ignored, as compose does.

use super::{FindingKind, Findings};
use desired_state::pointer::pointer as ptr;
use serde_json::Value;

pub(crate) const TOP: &[&str] = &[
    "version", "services", "networks", "volumes", "configs", "secrets", "name",
];

pub(crate) const SERVICE: &[&str] = &[
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "networks",
    "network_mode",
    "volumes",
    "healthcheck",
    "depends_on",
    "restart",
    "mem_limit",
    "cpus",
    "pids_limit",
    "read_only",
    "cap_drop",
    "cap_add",
    "security_opt",
    "privileged",
    "user",
    "working_dir",
    "init",
    "stop_grace_period",
    "container_name",
    "labels",
    "platform",
    "deploy",
    "logging",
    "ulimits",
    "shm_size",
    "hostname",
    "extra_hosts",
    "dns",
    "tmpfs",
    "sysctls",
    "stop_signal",
    "pid",
    "devices",
    "profiles",
    "configs",
    "secrets",
    "extends",
];

const BUILD: &[&str] = &["context", "dockerfile", "args", "target"];
const HEALTHCHECK: &[&str] = &[
    "test",
    "interval",
    "timeout",
    "retries",
    "start_period",
    "disable",
];
const DEPLOY: &[&str] = &["resources", "restart_policy"];
const RESOURCES: &[&str] = &["limits"];
const LIMITS: &[&str] = &["memory", "cpus", "pids"];
const RESTART_POLICY: &[&str] = &["condition"];
const LOGGING: &[&str] = &["driver", "options"];
const ATTACHMENT: &[&str] = &["aliases", "ipv4_address"];
const DEPENDENCY: &[&str] = &["condition"];
const PORT: &[&str] = &["target", "published", "host_ip", "protocol", "mode"];
const VOLUME_MOUNT: &[&str] = &[
    "type",
    "source",
    "target",
    "read_only",
    "consistency",
    "bind",
    "volume",
];
const BIND_OPTIONS: &[&str] = &["create_host_path", "selinux"];
const ENV_FILE: &[&str] = &["path", "required"];
const NETWORK: &[&str] = &["name", "driver", "internal", "ipam", "labels", "external"];
const IPAM: &[&str] = &["driver", "config"];
const IPAM_CONFIG: &[&str] = &["subnet", "gateway"];
const VOLUME: &[&str] = &["name", "driver", "driver_opts", "labels", "external"];
/// Top-level configs and secrets: where the content comes from. `external`
/// and `name` are read by the converter (a finding each); swarm-only fields
/// (driver, template_driver, labels) are listed here.
const CONFIG: &[&str] = &["file", "content", "environment", "external", "name"];
const SECRET: &[&str] = &["file", "environment", "external", "name"];
/// A service's long-form config or secret reference.
const REFERENCE: &[&str] = &["source", "target", "uid", "gid", "mode"];
const EXTENDS: &[&str] = &["service", "file"];

fn keys(file: usize, at: &str, v: &Value, allowed: &[&str], out: &mut Findings<'_>) {
    let Value::Object(map) = v else { return };
    for k in map.keys() {
        if allowed.contains(&k.as_str()) || k.starts_with("x-") {
            continue;
        }
        out.at(
            FindingKind::Unsupported,
            file,
            &format!("{at}{}", ptr([k])),
            true,
            "not supported by lucidctl",
        );
    }
}

fn each_entry(v: Option<&Value>) -> Vec<(String, &Value)> {
    match v {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
        _ => Vec::new(),
    }
}

fn each_item(v: Option<&Value>) -> Vec<(usize, &Value)> {
    match v {
        Some(Value::Array(a)) => a.iter().enumerate().collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn scan(file: usize, doc: &Value, out: &mut Findings<'_>) {
    let Value::Object(root) = doc else { return };
    if !root.contains_key("services")
        && root
            .keys()
            .any(|k| !TOP.contains(&k.as_str()) && !k.starts_with("x-"))
    {
        out.at(
            FindingKind::Unsupported,
            file,
            "",
            false,
            "compose file format 1 (services at the top level) is not supported by lucidctl; convert it to format 2 or later",
        );
        return;
    }
    if let Some(v) = root.get("version").and_then(|v| {
        v.as_str()
            .map(str::to_string)
            .or_else(|| v.as_f64().map(|f| f.to_string()))
    }) {
        if v.starts_with('1') {
            out.at(
                FindingKind::Unsupported,
                file,
                "/version",
                false,
                format!("compose file format {v} is not supported by lucidctl"),
            );
        }
    }
    keys(file, "", doc, TOP, out);
    for (name, svc) in each_entry(root.get("services")) {
        let at = ptr(["services", &name]);
        scan_service(file, &at, svc, out);
    }
    for (name, net) in each_entry(root.get("networks")) {
        let at = ptr(["networks", &name]);
        keys(file, &at, net, NETWORK, out);
        if let Some(ipam) = net.get("ipam") {
            keys(file, &format!("{at}/ipam"), ipam, IPAM, out);
            for (i, c) in each_item(ipam.get("config")) {
                keys(file, &format!("{at}/ipam/config/{i}"), c, IPAM_CONFIG, out);
            }
        }
    }
    for (name, vol) in each_entry(root.get("volumes")) {
        keys(file, &ptr(["volumes", &name]), vol, VOLUME, out);
    }
    for (name, c) in each_entry(root.get("configs")) {
        keys(file, &ptr(["configs", &name]), c, CONFIG, out);
    }
    for (name, c) in each_entry(root.get("secrets")) {
        keys(file, &ptr(["secrets", &name]), c, SECRET, out);
    }
}

pub(crate) fn scan_service(file: usize, at: &str, svc: &Value, out: &mut Findings<'_>) {
    keys(file, at, svc, SERVICE, out);
    let Value::Object(s) = svc else { return };
    let sub = |k: &str| format!("{at}/{k}");
    if let Some(b) = s.get("build") {
        keys(file, &sub("build"), b, BUILD, out);
    }
    if let Some(h) = s.get("healthcheck") {
        keys(file, &sub("healthcheck"), h, HEALTHCHECK, out);
    }
    if let Some(l) = s.get("logging") {
        keys(file, &sub("logging"), l, LOGGING, out);
    }
    if let Some(d) = s.get("deploy") {
        keys(file, &sub("deploy"), d, DEPLOY, out);
        if let Some(r) = d.get("resources") {
            keys(file, &sub("deploy/resources"), r, RESOURCES, out);
            if let Some(l) = r.get("limits") {
                keys(file, &sub("deploy/resources/limits"), l, LIMITS, out);
            }
        }
        if let Some(r) = d.get("restart_policy") {
            keys(file, &sub("deploy/restart_policy"), r, RESTART_POLICY, out);
        }
    }
    for (name, a) in each_entry(s.get("networks")) {
        keys(
            file,
            &format!("{at}/networks{}", ptr([&name])),
            a,
            ATTACHMENT,
            out,
        );
    }
    for (name, d) in each_entry(s.get("depends_on")) {
        keys(
            file,
            &format!("{at}/depends_on{}", ptr([&name])),
            d,
            DEPENDENCY,
            out,
        );
    }
    for (i, p) in each_item(s.get("ports")) {
        keys(file, &format!("{at}/ports/{i}"), p, PORT, out);
    }
    for (i, v) in each_item(s.get("volumes")) {
        let vat = format!("{at}/volumes/{i}");
        keys(file, &vat, v, VOLUME_MOUNT, out);
        if let Some(b) = v.get("bind") {
            keys(file, &format!("{vat}/bind"), b, BIND_OPTIONS, out);
        }
        if let Some(b) = v.get("volume") {
            keys(file, &format!("{vat}/volume"), b, &[], out);
        }
    }
    for section in ["configs", "secrets"] {
        for (i, r) in each_item(s.get(section)) {
            keys(file, &format!("{at}/{section}/{i}"), r, REFERENCE, out);
        }
    }
    if let Some(e) = s.get("extends") {
        keys(file, &sub("extends"), e, EXTENDS, out);
    }
    for (i, e) in each_item(s.get("env_file")) {
        keys(file, &format!("{at}/env_file/{i}"), e, ENV_FILE, out);
    }
}
