//! Rules for `--target swarm`: the same files drive a Swarm, but a few
//! fields mean nothing there (static IPs, privileged, host devices) and
//! node-local data (named volumes, host paths) needs a placement that pins
//! the tasks to one node. Run on top of `validate`, before any engine call.

use super::Report;
use crate::diagnostics::Diagnostic;
use crate::model::{Kind, MountSource, NetworkMode, Spec, WorkloadSpec};
use crate::state::{DesiredState, Resource};

/// Every problem the swarm target has with `state`, each at its field.
pub fn validate_for_swarm(state: &DesiredState) -> Vec<Diagnostic> {
    let mut out = Report::default();
    for r in &state.resources {
        if let Spec::Service(w) | Spec::Job(w) = &r.spec {
            workload(r, w, &mut out);
        }
    }
    out.0
}

fn workload(r: &Resource, w: &WorkloadSpec, out: &mut Report) {
    for (i, n) in w.networks.iter().enumerate() {
        if n.ipv4_address.is_some() {
            out.error(
                r,
                &format!("/spec/networks/{i}/ipv4Address"),
                "a static IP address has no meaning on a Swarm overlay network (tasks get addresses from the overlay)",
                Some("remove `ipv4Address`; other services reach this one by its name or an alias".into()),
            );
        }
    }
    for (i, p) in w.ports.iter().enumerate() {
        if p.host_ip.is_some() {
            out.error(
                r,
                &format!("/spec/ports/{i}/hostIP"),
                "Swarm publishes a port on every node's addresses; it cannot bind one host IP",
                Some(
                    "remove `hostIP`, or leave the port unpublished and reach it over the overlay"
                        .into(),
                ),
            );
        }
    }
    if w.security.as_ref().is_some_and(|s| s.privileged) {
        out.error(
            r,
            "/spec/security/privileged",
            "Swarm services cannot run privileged",
            Some("remove `privileged` and add only the capabilities needed with `capAdd`".into()),
        );
    }
    if !w.devices.is_empty() {
        out.error(
            r,
            "/spec/devices",
            "Swarm services cannot be given host devices",
            Some("run this workload on the local target, or drop `devices`".into()),
        );
    }
    if w.pid.is_some() {
        out.error(
            r,
            "/spec/pid",
            "Swarm services cannot share the host's process namespace",
            Some("remove `pid`".into()),
        );
    }
    if let Some(NetworkMode::Service(_)) = w.network_mode() {
        out.error(
            r,
            "/spec/networkMode",
            "Swarm services cannot share another service's network stack",
            Some("attach both to the same network with `networks` instead".into()),
        );
    }
    let pinned = w.placement.as_ref().is_some_and(|p| p.pins_a_node());
    let kind = r.kind();
    for (i, m) in w.mounts.iter().enumerate() {
        let what = match m.source() {
            Some(MountSource::Volume(v)) if kind == Kind::Service => format!("named volume {v:?}"),
            Some(MountSource::Bind(b)) => format!("host path {b:?}"),
            _ => continue,
        };
        if !pinned {
            out.error(
                r,
                &format!("/spec/mounts/{i}"),
                format!(
                    "the {what} exists on one node only, but Swarm may start this {} on any node",
                    kind.as_str()
                ),
                Some(
                    "pin the tasks with `placement: {constraints: [\"node.hostname == NODE\"]}` (or a node label)"
                        .into(),
                ),
            );
        }
    }
    // Carried on the local target, not (yet) to a swarm service: said, never dropped silently.
    let not_carried = [
        (
            "/spec/security/noNewPrivileges",
            w.security.as_ref().is_some_and(|s| s.no_new_privileges),
        ),
        ("/spec/beforeRecreate", !w.before_recreate.is_empty()),
        (
            "/spec/healthcheck/restartAfter",
            w.healthcheck
                .as_ref()
                .is_some_and(|h| h.restart_after.is_some()),
        ),
        ("/spec/tmpfs", !w.tmpfs.is_empty()),
        ("/spec/ulimits", !w.ulimits.is_empty()),
        ("/spec/sysctls", !w.sysctls.is_empty()),
        ("/spec/shmSize", w.shm_size.is_some()),
        ("/spec/extraHosts", !w.extra_hosts.is_empty()),
        ("/spec/dns", !w.dns.is_empty()),
        (
            "/spec/networkMode",
            matches!(
                w.network_mode(),
                Some(NetworkMode::Host | NetworkMode::None)
            ),
        ),
    ];
    for (pointer, set) in not_carried {
        if set {
            let field = pointer.rsplit('/').next().unwrap_or(pointer);
            out.warning(
                r,
                pointer,
                format!("{field} is not applied with --target swarm (the local target applies it)"),
                None,
            );
        }
    }
    if kind == Kind::Job && w.replicas.is_some_and(|n| n != 1) {
        out.error(
            r,
            "/spec/replicas",
            "a Job runs once to completion; replicas apply to Services",
            Some("remove `replicas` from the Job".into()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn swarm_messages(yaml: &str) -> Vec<String> {
        messages(&validate_for_swarm(&state(yaml)))
    }

    #[test]
    fn static_ip_privileged_and_host_ip_are_errors_at_their_field() {
        let m = swarm_messages(&service(
            "web",
            "  networks: [{name: net, ipv4Address: 10.1.0.5}]\n  ports: [{containerPort: 80, hostPort: 8080, hostIP: 127.0.0.1}]\n  security: {privileged: true}\n",
        ));
        assert_eq!(m.len(), 3, "{m:#?}");
        assert!(
            m[0].starts_with("test.yaml:7:39:") && m[0].contains("static IP"),
            "{m:#?}"
        );
        assert!(m[1].contains("cannot bind one host IP"), "{m:#?}");
        assert!(
            m[2].contains("privileged") && m[2].contains("capAdd"),
            "{m:#?}"
        );
    }

    #[test]
    fn a_named_volume_or_host_path_needs_a_pinning_placement() {
        let unpinned = swarm_messages(&service(
            "db",
            "  mounts: [{volume: data, target: /data}, {bind: /srv/x, target: /x}]\n",
        ));
        assert_eq!(unpinned.len(), 2, "{unpinned:#?}");
        assert!(
            unpinned[0].contains("named volume \"data\""),
            "{unpinned:#?}"
        );
        assert!(
            unpinned[0].contains("fix:") || unpinned[0].contains("placement"),
            "{unpinned:#?}"
        );
        assert!(
            unpinned[1].contains("host path \"/srv/x\""),
            "{unpinned:#?}"
        );

        let pinned = swarm_messages(&service(
            "db",
            "  mounts: [{volume: data, target: /data}]\n  placement: {constraints: [\"node.hostname == pi-1\"]}\n",
        ));
        assert!(pinned.is_empty(), "{pinned:#?}");
        let by_label = swarm_messages(&service(
            "db",
            "  mounts: [{volume: data, target: /data}]\n  placement: {constraints: [\"node.labels.disk==ssd\"]}\n",
        ));
        assert!(by_label.is_empty(), "{by_label:#?}");
        // A platform alone does not pin a node.
        let platform = swarm_messages(&service(
            "db",
            "  mounts: [{volume: data, target: /data}]\n  placement: {platforms: [linux/arm64]}\n",
        ));
        assert_eq!(platform.len(), 1, "{platform:#?}");
    }

    #[test]
    fn config_files_and_plain_services_are_fine() {
        let yaml = format!(
            "{}---\n{HEADER}kind: ConfigFile\nmetadata: {{name: conf}}\nspec: {{content: \"x\"}}\n",
            service(
                "web",
                "  replicas: 2\n  mounts: [{configFile: conf, target: /etc/x}]\n  ports: [{containerPort: 80, hostPort: 8080}]\n"
            )
        );
        assert!(swarm_messages(&yaml).is_empty());
    }
}
