//! Rules for the runtime settings (logging, ulimits, hostname, extra hosts,
//! tmpfs, sysctls, stop signal) that serde's types alone cannot express.

use super::Report;
use crate::model::{Spec, WorkloadSpec, ULIMIT_NAMES};
use crate::pointer::pointer;
use crate::state::{DesiredState, Resource};
use std::net::IpAddr;

pub(super) fn check(state: &DesiredState, out: &mut Report) {
    for r in &state.resources {
        if let Spec::Service(w) | Spec::Job(w) = &r.spec {
            logging(r, w, out);
            limits(r, w, out);
            names(r, w, out);
            tmpfs(r, w, out);
            devices(r, w, out);
            for (i, m) in w.mounts.iter().enumerate() {
                if m.selinux.is_some() && m.bind.is_none() {
                    out.error(
                        r,
                        &format!("/spec/mounts/{i}/selinux"),
                        "selinux relabels a bind source; this mount has none",
                        Some("remove `selinux` or make the mount a bind".into()),
                    );
                }
                let system = ["/", "/usr", "/etc", "/var", "/home", "/root", "/boot"];
                if m.selinux.is_some()
                    && m.bind
                        .as_deref()
                        .is_some_and(|b| system.contains(&b.trim_end_matches('/')) || b == "/")
                {
                    out.error(
                        r,
                        &format!("/spec/mounts/{i}/selinux"),
                        format!(
                            "relabeling the system directory {:?} would break the host",
                            m.bind.as_deref().unwrap_or_default()
                        ),
                        Some("relabel only the application's own directory".into()),
                    );
                }
            }
        }
    }
}

/// Printable, one line: a value Docker stores as `key=value` or `host:ip`.
fn plain(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_control)
}

/// RFC 1123 host name, as Docker requires for `hostname` and `/etc/hosts`.
pub(crate) fn is_hostname(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

fn logging(r: &Resource, w: &WorkloadSpec, out: &mut Report) {
    let Some(l) = &w.logging else { return };
    let driver_ok = !l.driver.is_empty()
        && l.driver
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c));
    if !driver_ok {
        out.error(
            r,
            "/spec/logging/driver",
            format!("log driver {:?} is not a driver name", l.driver),
            Some("use a driver such as json-file, local, journald or syslog".into()),
        );
    }
    if l.driver == "none" && !l.options.is_empty() {
        out.error(
            r,
            "/spec/logging/options",
            "log driver none takes no options",
            Some("remove `options` or choose another driver".into()),
        );
    }
    for (k, v) in &l.options {
        let at = format!("/spec/logging/options{}", pointer([k]));
        if !plain(k) || !plain(v) || k.contains('=') {
            out.error(r, &at, format!("log option {k:?} must be a one-line key without '=' and a non-empty one-line value"), None);
            continue;
        }
        let rotating = matches!(l.driver.as_str(), "json-file" | "local");
        if rotating && k == "max-size" && v.parse::<crate::model::ByteSize>().is_err() {
            out.error(
                r,
                &at,
                format!("max-size {v:?} is not a size"),
                Some("write a size such as 10m".into()),
            );
        }
        if rotating && k == "max-file" && !v.parse::<u32>().is_ok_and(|n| n >= 1) {
            out.error(
                r,
                &at,
                format!("max-file {v:?} must be a whole number of at least 1"),
                Some("write e.g. \"3\"".into()),
            );
        }
    }
}

fn limits(r: &Resource, w: &WorkloadSpec, out: &mut Report) {
    for (name, u) in &w.ulimits {
        let at = format!("/spec/ulimits{}", pointer([name]));
        if !ULIMIT_NAMES.contains(&name.as_str()) {
            out.error(
                r,
                &at,
                format!("unknown ulimit {name:?}"),
                Some(format!("use one of {}", ULIMIT_NAMES.join(", "))),
            );
        }
        let unlimited = |v: i64| v == -1;
        if u.soft < -1 || u.hard < -1 {
            out.error(
                r,
                &at,
                format!("ulimit {name:?} must be -1 (unlimited) or at least 0"),
                None,
            );
        } else if !unlimited(u.hard) && (unlimited(u.soft) || u.soft > u.hard) {
            out.error(
                r,
                &at,
                format!(
                    "ulimit {name:?}: soft limit {} is above the hard limit {}",
                    u.soft, u.hard
                ),
                Some("make soft at most hard".into()),
            );
        }
    }
    if w.shm_size.is_some_and(|s| s.0 == 0) {
        out.error(
            r,
            "/spec/shmSize",
            "shmSize must be more than 0",
            Some("leave it out for Docker's 64Mi".into()),
        );
    }
    for (k, v) in &w.sysctls {
        let at = format!("/spec/sysctls{}", pointer([k]));
        let key_ok = !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
        if !key_ok || !plain(v) {
            out.error(r, &at, format!("sysctl {k:?} needs a name of letters, digits, '.', '_', '-' or '/' and a non-empty one-line value"), None);
        }
    }
    if let Some(s) = &w.stop_signal {
        let name = s.strip_prefix("SIG").unwrap_or(s);
        let ok = s.parse::<u8>().is_ok_and(|n| (1..=64).contains(&n))
            || (!name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '+' || c == '-'));
        if !ok {
            out.error(
                r,
                "/spec/stopSignal",
                format!("stop signal {s:?} is not a signal"),
                Some("write a name such as SIGQUIT or a number such as 3".into()),
            );
        }
    }
}

fn names(r: &Resource, w: &WorkloadSpec, out: &mut Report) {
    if let Some(h) = &w.hostname {
        if !is_hostname(h) {
            out.error(
                r,
                "/spec/hostname",
                format!("hostname {h:?} is not an RFC 1123 host name"),
                Some("use letters, digits and '-' in dot-separated parts of at most 63".into()),
            );
        }
    }
    for (host, addr) in &w.extra_hosts {
        let at = format!("/spec/extraHosts{}", pointer([host]));
        if !is_hostname(host) {
            out.error(
                r,
                &at,
                format!("extra host {host:?} is not an RFC 1123 host name"),
                None,
            );
        }
        if addr != "host-gateway" && addr.parse::<IpAddr>().is_err() {
            out.error(
                r,
                &at,
                format!("extra host {host:?}: {addr:?} is not an IP address"),
                Some("write an IPv4 or IPv6 address, or host-gateway".into()),
            );
        }
    }
}

fn tmpfs(r: &Resource, w: &WorkloadSpec, out: &mut Report) {
    for (i, t) in w.tmpfs.iter().enumerate() {
        let at = format!("/spec/tmpfs/{i}/target");
        if !t.target.starts_with('/') || !plain(&t.target) || t.target.contains([',', ':']) {
            out.error(
                r,
                &at,
                format!(
                    "tmpfs target {:?} must be an absolute path without ',' or ':'",
                    t.target
                ),
                None,
            );
        }
        let clash = w.tmpfs[..i].iter().any(|o| o.target == t.target)
            || w.mounts.iter().any(|m| m.target == t.target);
        if clash {
            out.error(
                r,
                &at,
                format!("tmpfs target {:?} is also another mount's target", t.target),
                Some("give each mount its own target".into()),
            );
        }
    }
}

fn devices(r: &Resource, w: &WorkloadSpec, out: &mut Report) {
    for (i, d) in w.devices.iter().enumerate() {
        let at = format!("/spec/devices/{i}");
        for (field, path) in [
            ("hostPath", d.host_path.as_str()),
            ("containerPath", d.container_path()),
        ] {
            if !path.starts_with('/') || !plain(path) || path.contains(':') {
                out.error(
                    r,
                    &format!("{at}/{field}"),
                    format!("device path {path:?} must be an absolute path without ':'"),
                    Some("write e.g. /dev/ttyUSB0".into()),
                );
            }
        }
        let p = d.permissions();
        let ok = !p.is_empty()
            && p.chars().all(|c| "rwm".contains(c))
            && p.chars().count() == p.chars().collect::<std::collections::BTreeSet<_>>().len();
        if !ok {
            out.error(
                r,
                &format!("{at}/permissions"),
                format!("device permissions {p:?} must be letters of rwm, each once"),
                Some("write rwm, rw or r".into()),
            );
        }
        if w.devices[..i]
            .iter()
            .any(|o| o.container_path() == d.container_path())
        {
            out.error(
                r,
                &format!("{at}/containerPath"),
                format!("two devices appear at {:?}", d.container_path()),
                None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn run(body: &str) -> Vec<String> {
        let mut out = Report::default();
        check(&state(&service("a", body)), &mut out);
        messages(&out.0)
    }

    #[test]
    fn well_formed_settings_pass() {
        let m = run("  logging: {driver: json-file, options: {max-size: 10m, max-file: \"3\"}}\n  ulimits: {nofile: {soft: 1024, hard: 65536}, memlock: {soft: -1, hard: -1}}\n  shmSize: 256Mi\n  hostname: db-1.internal\n  extraHosts: {gateway: host-gateway, mirror: \"10.0.0.5\"}\n  dns: [1.1.1.1]\n  tmpfs: [{target: /run, size: 64Mi, mode: \"1777\"}]\n  sysctls: {net.core.somaxconn: \"1024\"}\n  stopSignal: SIGQUIT\n");
        assert!(m.is_empty(), "{m:?}");
    }

    #[test]
    fn logging_options_are_checked_for_rotating_drivers() {
        let m = run("  logging: {driver: json-file, options: {max-size: lots, max-file: \"0\"}}\n");
        assert!(
            m.iter()
                .any(|m| m
                    .contains("spec.logging.options.max-size: max-size \"lots\" is not a size")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|m| m.contains("max-file \"0\" must be a whole number")),
            "{m:?}"
        );
        let m = run("  logging: {driver: \"json file\"}\n");
        assert!(m[0].contains("spec.logging.driver: log driver"), "{m:?}");
        let m = run("  logging: {driver: none, options: {a: b}}\n");
        assert!(m[0].contains("takes no options"), "{m:?}");
    }

    #[test]
    fn limits_and_names_are_checked() {
        let m = run("  ulimits: {nofiles: {soft: 1, hard: 2}, nproc: {soft: 10, hard: 5}}\n  shmSize: \"0\"\n  sysctls: {\"net core\": \"1\"}\n  stopSignal: \"SIG TERM\"\n  hostname: -bad\n  extraHosts: {h: not-an-ip}\n");
        for want in [
            "spec.ulimits.nofiles: unknown ulimit",
            "spec.ulimits.nproc: ulimit \"nproc\": soft limit 10 is above the hard limit 5",
            "spec.shmSize: shmSize must be more than 0",
            "sysctl \"net core\" needs a name",
            "spec.stopSignal: stop signal",
            "spec.hostname: hostname \"-bad\"",
            "spec.extraHosts.h: extra host \"h\": \"not-an-ip\" is not an IP address",
        ] {
            assert!(m.iter().any(|m| m.contains(want)), "{want}: {m:?}");
        }
    }

    #[test]
    fn devices_need_absolute_paths_and_rwm_permissions() {
        assert!(run("  devices: [{hostPath: /dev/ttyUSB0}, {hostPath: /dev/gpiomem, containerPath: /dev/gpio, permissions: rw}]\n").is_empty());
        let m = run("  devices: [{hostPath: dev/ttyUSB0, permissions: rwx}, {hostPath: /dev/a, containerPath: /dev/b}, {hostPath: /dev/b}]\n");
        assert!(
            m.iter().any(|m| m.contains(
                "spec.devices[0].hostPath: device path \"dev/ttyUSB0\" must be an absolute path"
            )),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|m| m.contains("spec.devices[0].permissions: device permissions \"rwx\"")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|m| m
                    .contains("spec.devices[2].containerPath: two devices appear at \"/dev/b\"")),
            "{m:?}"
        );
    }

    #[test]
    fn selinux_applies_to_application_binds_only() {
        assert!(run("  mounts: [{bind: /srv/app, target: /app, selinux: shared}]\n").is_empty());
        let m = run("  mounts: [{volume: v, target: /a, selinux: private}, {bind: /usr, target: /b, selinux: shared}]\n");
        assert!(
            m.iter()
                .any(|m| m.contains("spec.mounts[0].selinux: selinux relabels a bind source")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|m| m
                    .contains("spec.mounts[1].selinux: relabeling the system directory \"/usr\"")),
            "{m:?}"
        );
    }

    #[test]
    fn tmpfs_needs_an_absolute_unique_target() {
        let m = run("  mounts: [{bind: /srv, target: /cache}]\n  tmpfs: [{target: run}, {target: /cache}]\n");
        assert!(
            m.iter().any(|m| m
                .contains("spec.tmpfs[0].target: tmpfs target \"run\" must be an absolute path")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|m| m.contains("spec.tmpfs[1].target: tmpfs target \"/cache\" is also")),
            "{m:?}"
        );
    }
}
