//! The runtime fields of a WorkloadSpec as compose service keys.

use desired_state::model::WorkloadSpec;
use serde_json::{json, Map, Value};

pub(super) fn insert(w: &WorkloadSpec, s: &mut Map<String, Value>) {
    if let Some(l) = &w.logging {
        let mut m = Map::new();
        m.insert("driver".into(), json!(l.driver));
        if !l.options.is_empty() {
            m.insert("options".into(), json!(l.options));
        }
        s.insert("logging".into(), Value::Object(m));
    }
    if !w.ulimits.is_empty() {
        let m: Map<String, Value> = w
            .ulimits
            .iter()
            .map(|(k, u)| (k.clone(), json!({"soft": u.soft, "hard": u.hard})))
            .collect();
        s.insert("ulimits".into(), Value::Object(m));
    }
    if let Some(size) = w.shm_size {
        s.insert("shm_size".into(), super::compose_size(size.0));
    }
    if let Some(h) = &w.hostname {
        s.insert("hostname".into(), json!(h));
    }
    if !w.extra_hosts.is_empty() {
        let hosts: Vec<String> = w
            .extra_hosts
            .iter()
            .map(|(h, a)| format!("{h}:{a}"))
            .collect();
        s.insert("extra_hosts".into(), json!(hosts));
    }
    if !w.dns.is_empty() {
        let dns: Vec<String> = w.dns.iter().map(|d| d.to_string()).collect();
        s.insert("dns".into(), json!(dns));
    }
    if !w.tmpfs.is_empty() {
        let items: Vec<String> = w
            .tmpfs
            .iter()
            .map(|t| {
                let mut opts = Vec::new();
                if let Some(size) = t.size {
                    opts.push(format!("size={}", size.0));
                }
                if let Some(m) = t.mode {
                    opts.push(format!("mode={:o}", m.0));
                }
                match opts.is_empty() {
                    true => t.target.clone(),
                    false => format!("{}:{}", t.target, opts.join(",")),
                }
            })
            .collect();
        s.insert("tmpfs".into(), json!(items));
    }
    if !w.sysctls.is_empty() {
        s.insert("sysctls".into(), json!(w.sysctls));
    }
    if !w.devices.is_empty() {
        let items: Vec<String> = w
            .devices
            .iter()
            .map(|d| format!("{}:{}:{}", d.host_path, d.container_path(), d.permissions()))
            .collect();
        s.insert("devices".into(), json!(items));
    }
    if let Some(p) = w.pid {
        s.insert("pid".into(), json!(p.as_str()));
    }
    if let Some(sig) = &w.stop_signal {
        s.insert("stop_signal".into(), json!(sig));
    }
}
