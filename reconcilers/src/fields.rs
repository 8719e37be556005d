//! Field-level differences between a rendered container and `docker inspect`,
//! over declared fields only: what the daemon fills in by itself never shows.

use crate::labels;
use crate::observed::ObservedContainer;
use crate::render::{ContainerSpec, EnvValue, MountFrom};
use serde::Serialize;

mod runtime;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub path: String,
    pub from: String,
    pub to: String,
}

fn change(
    out: &mut Vec<FieldChange>,
    path: impl Into<String>,
    from: impl Into<String>,
    to: impl Into<String>,
) {
    out.push(FieldChange {
        path: path.into(),
        from: from.into(),
        to: to.into(),
    });
}

fn show_list(v: &Option<Vec<String>>) -> String {
    match v {
        Some(items) => format!("{items:?}"),
        None => "(image default)".into(),
    }
}

const ABSENT: &str = "(unset)";

pub fn field_changes(want: &ContainerSpec, have: &ObservedContainer) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let cfg = &have.config;
    if want.image != have.image_ref {
        change(
            &mut out,
            "image",
            format!("{:?}", have.image_ref),
            format!("{:?}", want.image),
        );
    }
    // Env: declared keys now, plus plain keys declared at the last apply (from the label).
    let previously: Vec<&str> = have
        .label(labels::ENV_KEYS)
        .map(|k| k.split(',').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    for (key, value) in &want.env {
        let current = cfg.env.get(key);
        if current.map(String::as_str) != Some(value.expose()) {
            // The current value is shown only when the last apply declared it as a
            // plain `env` key; anything else may have come from a SecretSet.
            let from = match (current, value) {
                (None, _) => ABSENT.to_string(),
                (Some(c), EnvValue::Plain(_)) if previously.contains(&key.as_str()) => {
                    format!("{c:?}")
                }
                (Some(_), _) => "(sensitive)".to_string(),
            };
            change(&mut out, format!("env.{key}"), from, value.shown());
        }
    }
    for key in previously {
        if !want.env.contains_key(key) && cfg.env.contains_key(key) {
            change(
                &mut out,
                format!("env.{key}"),
                format!("{:?}", cfg.env[key]),
                ABSENT,
            );
        }
    }
    if want.command.is_some() && want.command != cfg.cmd {
        change(
            &mut out,
            "command",
            show_list(&cfg.cmd),
            show_list(&want.command),
        );
    }
    if want.entrypoint.is_some() && want.entrypoint != cfg.entrypoint {
        change(
            &mut out,
            "entrypoint",
            show_list(&cfg.entrypoint),
            show_list(&want.entrypoint),
        );
    }
    compare_opt(&mut out, "user", &want.user, &cfg.user);
    compare_opt(&mut out, "workingDir", &want.working_dir, &cfg.working_dir);
    if let Some(h) = &want.healthcheck {
        if Some(&h.test) != cfg.healthcheck_test.as_ref() {
            change(
                &mut out,
                "healthcheck.test",
                show_list(&cfg.healthcheck_test),
                format!("{:?}", h.test),
            );
        }
        if let Some(i) = h.interval {
            if Some(i.0) != cfg.healthcheck_interval {
                let from = cfg
                    .healthcheck_interval
                    .map(|d| format!("{d:?}"))
                    .unwrap_or_else(|| ABSENT.into());
                change(&mut out, "healthcheck.interval", from, format!("{:?}", i.0));
            }
        }
    }
    for p in &want.ports {
        let proto = p.protocol.as_str();
        let found = cfg.ports.iter().any(|o| {
            o.container_port == p.container_port
                && o.protocol == proto
                && o.host_port == p.host_port
                && (p.host_ip.is_none()
                    || o.host_ip.as_deref() == p.host_ip.map(|i| i.to_string()).as_deref())
        });
        if !found && p.host_port.is_some() {
            let host = p.host_port.map(|h| h.to_string()).unwrap_or_default();
            change(
                &mut out,
                format!("ports.{}/{proto}", p.container_port),
                ABSENT,
                format!("published on {host}"),
            );
        }
    }
    for m in &want.mounts {
        let want_source = match &m.from {
            MountFrom::Volume(v) | MountFrom::HostPath(v) => Some(v),
            // Docker names it: any source will do.
            MountFrom::Anonymous => None,
        };
        let shown = || {
            want_source
                .cloned()
                .unwrap_or_else(|| "(anonymous volume)".into())
        };
        match cfg.mounts.get(&m.target) {
            None => change(&mut out, format!("mounts.{}", m.target), ABSENT, shown()),
            Some(o) if want_source.is_some_and(|w| &o.source != w) => change(
                &mut out,
                format!("mounts.{}", m.target),
                o.source.clone(),
                shown(),
            ),
            Some(o) if o.read_only != m.read_only => change(
                &mut out,
                format!("mounts.{}.readOnly", m.target),
                o.read_only.to_string(),
                m.read_only.to_string(),
            ),
            Some(o)
                if m.selinux
                    .is_some_and(|z| !o.mode.split(',').any(|opt| opt == z)) =>
            {
                change(
                    &mut out,
                    format!("mounts.{}.selinux", m.target),
                    format!("{:?}", o.mode),
                    format!("{:?}", m.selinux.unwrap_or_default()),
                )
            }
            Some(_) => {}
        }
    }
    if let Some(r) = want.restart {
        let have_restart = cfg.restart.as_deref().unwrap_or("no");
        if r.as_str() != have_restart {
            change(&mut out, "restart", have_restart, r.as_str());
        }
    }
    if let Some(m) = want.memory {
        if cfg.memory != Some(m) {
            change(
                &mut out,
                "resources.memory",
                cfg.memory
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| ABSENT.into()),
                m.to_string(),
            );
        }
    }
    if let Some(c) = want.nano_cpus {
        if cfg.nano_cpus != Some(c) {
            change(
                &mut out,
                "resources.cpus",
                cfg.nano_cpus
                    .map(|v| format!("{}", v as f64 / 1e9))
                    .unwrap_or_else(|| ABSENT.into()),
                format!("{}", c as f64 / 1e9),
            );
        }
    }
    if want.security.read_only_root_filesystem && cfg.read_only_rootfs != Some(true) {
        change(&mut out, "security.readOnlyRootFilesystem", "false", "true");
    }
    if !want.security.cap_drop.is_empty() && !same_set(&want.security.cap_drop, &cfg.cap_drop) {
        change(
            &mut out,
            "security.capDrop",
            format!("{:?}", cfg.cap_drop),
            format!("{:?}", want.security.cap_drop),
        );
    }
    if !want.security.cap_add.is_empty() && !same_set(&want.security.cap_add, &cfg.cap_add) {
        change(
            &mut out,
            "security.capAdd",
            format!("{:?}", cfg.cap_add),
            format!("{:?}", want.security.cap_add),
        );
    }
    runtime::changes(&want.runtime, &cfg.runtime, &mut out);
    out
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let norm = |v: &[String]| {
        let mut v: Vec<String> = v
            .iter()
            .map(|c| c.trim_start_matches("CAP_").to_ascii_uppercase())
            .collect();
        v.sort();
        v
    };
    norm(a) == norm(b)
}

fn compare_opt(
    out: &mut Vec<FieldChange>,
    path: &str,
    want: &Option<String>,
    have: &Option<String>,
) {
    if let Some(w) = want {
        if Some(w) != have.as_ref() {
            change(
                out,
                path,
                have.as_ref()
                    .map(|h| format!("{h:?}"))
                    .unwrap_or_else(|| ABSENT.into()),
                format!("{w:?}"),
            );
        }
    }
}
