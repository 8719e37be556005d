//! Field-level differences in the runtime settings.

use super::FieldChange;
use crate::runtime_options::RuntimeOptions;

fn push(out: &mut Vec<FieldChange>, path: &str, from: String, to: String) {
    out.push(FieldChange {
        path: path.to_string(),
        from,
        to,
    });
}

fn shown<T: std::fmt::Debug>(v: &T, empty: bool) -> String {
    if empty {
        "(unset)".into()
    } else {
        format!("{v:?}")
    }
}

/// Differences in declared settings only: what the daemon or image fills
/// in for a setting left out (hostname, shm size, log driver) never shows.
pub fn changes(want: &RuntimeOptions, have: &RuntimeOptions, out: &mut Vec<FieldChange>) {
    fn opt<T: PartialEq + std::fmt::Debug>(
        out: &mut Vec<FieldChange>,
        path: &str,
        want: &Option<T>,
        have: &Option<T>,
    ) {
        if want.is_some() && want != have {
            push(out, path, shown(have, have.is_none()), shown(want, false));
        }
    }
    opt(out, "logging.driver", &want.log_driver, &have.log_driver);
    // The daemon may add options of its own; only the declared ones must match.
    for (k, v) in &want.log_options {
        if have.log_options.get(k) != Some(v) {
            let from = have.log_options.get(k);
            push(
                out,
                &format!("logging.options.{k}"),
                shown(&from, from.is_none()),
                format!("{v:?}"),
            );
        }
    }
    let mut list = |path: &str, empty: bool, differs: bool, from: String, to: String| {
        if !empty && differs {
            push(out, path, from, to);
        }
    };
    list(
        "ulimits",
        want.ulimits.is_empty(),
        want.ulimits != have.ulimits,
        shown(&have.ulimits, have.ulimits.is_empty()),
        shown(&want.ulimits, false),
    );
    list(
        "extraHosts",
        want.extra_hosts.is_empty(),
        !same(&want.extra_hosts, &have.extra_hosts),
        shown(&have.extra_hosts, have.extra_hosts.is_empty()),
        shown(&want.extra_hosts, false),
    );
    list(
        "dns",
        want.dns.is_empty(),
        want.dns != have.dns,
        shown(&have.dns, have.dns.is_empty()),
        shown(&want.dns, false),
    );
    list(
        "tmpfs",
        want.tmpfs.is_empty(),
        want.tmpfs != have.tmpfs,
        shown(&have.tmpfs, have.tmpfs.is_empty()),
        shown(&want.tmpfs, false),
    );
    list(
        "sysctls",
        want.sysctls.is_empty(),
        want.sysctls != have.sysctls,
        shown(&have.sysctls, have.sysctls.is_empty()),
        shown(&want.sysctls, false),
    );
    opt(out, "shmSize", &want.shm_size, &have.shm_size);
    opt(out, "hostname", &want.hostname, &have.hostname);
    opt(out, "stopSignal", &want.stop_signal, &have.stop_signal);
    opt(out, "pid", &want.pid_mode, &have.pid_mode);
    network_mode(want, have, out);
    if !want.devices.is_empty() && want.devices != have.devices {
        let from = shown(&have.devices, have.devices.is_empty());
        push(out, "devices", from, shown(&want.devices, false));
    }
}

/// Order-insensitive: `/etc/hosts` entries do not depend on order.
fn same(a: &[String], b: &[String]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

/// `container:` modes: Docker answers `container:<ID>` for the declared name.
fn network_mode(want: &RuntimeOptions, have: &RuntimeOptions, out: &mut Vec<FieldChange>) {
    let Some(w) = &want.network_mode else { return };
    let have_mode = have.network_mode.as_deref().unwrap_or("");
    let same = match (
        w.strip_prefix("container:"),
        have_mode.strip_prefix("container:"),
    ) {
        (Some(name), Some(joined)) => {
            joined == name
                || want
                    .network_peer_id
                    .as_deref()
                    .is_none_or(|id| id == joined)
        }
        _ => have_mode == w,
    };
    if !same {
        let from = shown(&have.network_mode, have.network_mode.is_none());
        push(out, "networkMode", from, format!("{w:?}"));
    }
}
