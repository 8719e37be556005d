//! `networkMode`: host, none or another Service's network stack, and the
//! settings that stop applying with it.

use super::Report;
use crate::model::{Kind, NetworkMode, Spec, WorkloadSpec};
use crate::state::{DesiredState, Resource};

pub(super) fn check(state: &DesiredState, out: &mut Report) {
    for r in &state.resources {
        if let Spec::Service(w) | Spec::Job(w) = &r.spec {
            workload(state, r, w, out);
        }
    }
}

fn workload(state: &DesiredState, r: &Resource, w: &WorkloadSpec, out: &mut Report) {
    let Some(text) = &w.network_mode else { return };
    let Some(mode) = w.network_mode() else {
        out.error(
            r,
            "/spec/networkMode",
            format!("networkMode {text:?} is not host, none or service:NAME"),
            Some("use `networks` for bridge networks".into()),
        );
        return;
    };
    let mut conflict = |field: &str, why: &str| {
        out.error(
            r,
            &format!("/spec/{field}"),
            format!("{field} does not apply with networkMode {text}: {why}"),
            Some(format!("remove `{field}` or `networkMode`")),
        );
    };
    if !w.networks.is_empty() {
        conflict("networks", "the container joins no networks of its own");
    }
    if w.ports.iter().any(|p| p.host_port.is_some()) {
        conflict(
            "ports",
            "ports are published only from a container's own network",
        );
    }
    let NetworkMode::Service(target) = mode else {
        return;
    };
    let shared = "the container shares another container's network stack";
    if w.hostname.is_some() {
        conflict("hostname", shared);
    }
    if !w.dns.is_empty() {
        conflict("dns", shared);
    }
    if !w.extra_hosts.is_empty() {
        conflict("extraHosts", shared);
    }
    let is_service = state
        .of_kind(Kind::Service)
        .any(|o| o.name() == target && o.name() != r.name());
    if !is_service {
        out.error(
            r,
            "/spec/networkMode",
            format!("networkMode {text}: there is no other Service named {target:?}"),
            Some("name a Service declared in these files".into()),
        );
    } else if !w.depends_on.iter().any(|d| d.name == target) {
        out.error(
            r,
            "/spec/networkMode",
            format!("networkMode {text} needs {target:?} in dependsOn, to start after it"),
            Some(format!("add `dependsOn: [{{name: {target}}}]`")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn run(yaml: &str) -> Vec<String> {
        let mut out = Report::default();
        check(&state(yaml), &mut out);
        messages(&out.0)
    }

    #[test]
    fn host_none_and_service_modes_are_accepted() {
        let yaml = [
            service("vpn", "  networkMode: host\n"),
            service("offline", "  networkMode: none\n"),
            service(
                "app",
                "  networkMode: service:vpn\n  dependsOn: [{name: vpn}]\n",
            ),
        ]
        .concat();
        assert!(run(&yaml).is_empty(), "{:?}", run(&yaml));
    }

    #[test]
    fn bad_forms_and_conflicting_settings_are_errors() {
        let m = run(&service("a", "  networkMode: bridge\n"));
        assert!(
            m[0].contains(
                "spec.networkMode: networkMode \"bridge\" is not host, none or service:NAME"
            ),
            "{m:?}"
        );
        let m = run(&service("a", "  networkMode: host\n  networks: [{name: n}]\n  ports: [{containerPort: 80, hostPort: 80}]\n"));
        assert!(m.iter().any(|m| m.contains("spec.networks: networks does not apply with networkMode host")), "{m:?}");
        assert!(
            m.iter()
                .any(|m| m.contains("spec.ports: ports does not apply")),
            "{m:?}"
        );
        let yaml = [
            service("vpn", ""),
            service("app", "  networkMode: service:vpn\n  hostname: app\n"),
            service("b", "  networkMode: service:nothing\n"),
        ]
        .concat();
        let m = run(&yaml);
        for want in [
            "Service/app: spec.hostname: hostname does not apply with networkMode service:vpn",
            "Service/app: spec.networkMode: networkMode service:vpn needs \"vpn\" in dependsOn",
            "Service/b: spec.networkMode: networkMode service:nothing: there is no other Service named \"nothing\"",
        ] {
            assert!(m.iter().any(|m| m.contains(want)), "{want}: {m:#?}");
        }
    }
}
