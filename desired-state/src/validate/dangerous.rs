//! Settings that hand a container the host: allowed (some workloads need
//! them) but each one is warned about where it is written, so it is a choice.

use super::Report;
use crate::model::{PidMode, Spec, WorkloadSpec};
use crate::state::{DesiredState, Resource};

/// Host paths whose bind gives the container the host: the root, and the
/// Docker socket (root on the host through the engine).
const HOST_PATHS: [&str; 3] = ["/", "/var/run/docker.sock", "/run/docker.sock"];

pub(super) fn check(state: &DesiredState, out: &mut Report) {
    for r in &state.resources {
        if let Spec::Service(w) | Spec::Job(w) = &r.spec {
            workload(r, w, out);
        }
    }
}

fn workload(r: &Resource, w: &WorkloadSpec, out: &mut Report) {
    if let Some(sec) = &w.security {
        if sec.privileged {
            out.warning(
                r,
                "/spec/security/privileged",
                "privileged: the container gets every capability and every host device",
                Some("grant only the capabilities (capAdd) it needs".into()),
            );
        }
        for (i, cap) in sec.cap_add.iter().enumerate() {
            if cap.trim_start_matches("CAP_").eq_ignore_ascii_case("ALL") {
                out.warning(
                    r,
                    &format!("/spec/security/capAdd/{i}"),
                    "capAdd ALL gives the container every capability",
                    Some("list the capabilities it needs".into()),
                );
            }
        }
    }
    for (i, m) in w.mounts.iter().enumerate() {
        let Some(bind) = &m.bind else { continue };
        let normal = match bind.trim_end_matches('/') {
            "" => "/",
            p => p,
        };
        if HOST_PATHS.contains(&normal) {
            let what = if normal == "/" {
                "the host's root filesystem"
            } else {
                "the Docker socket, which is root on the host"
            };
            out.warning(
                r,
                &format!("/spec/mounts/{i}/bind"),
                format!("bind of {bind:?} gives the container {what}"),
                Some("bind only the directories it needs, read-only where possible".into()),
            );
        }
    }
    if w.pid == Some(PidMode::Host) {
        out.warning(
            r,
            "/spec/pid",
            "pid host: the container sees every host process and, as root, can signal them",
            Some("leave `pid` out unless the workload inspects host processes".into()),
        );
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
    fn each_dangerous_setting_is_a_warning_at_its_line() {
        let m = run("  security:\n    privileged: true\n    capAdd: [NET_ADMIN, ALL]\n  mounts:\n    - {bind: /, target: /host}\n    - {bind: /var/run/docker.sock, target: /var/run/docker.sock}\n  pid: host\n");
        let want = [
            "test.yaml:8:17: warning: Service/a: spec.security.privileged: privileged",
            "test.yaml:9:25: warning: Service/a: spec.security.capAdd[1]: capAdd ALL",
            "test.yaml:11:14: warning: Service/a: spec.mounts[0].bind: bind of \"/\" gives the container the host's root filesystem",
            "test.yaml:12:14: warning: Service/a: spec.mounts[1].bind: bind of \"/var/run/docker.sock\" gives the container the Docker socket",
            "test.yaml:13:8: warning: Service/a: spec.pid: pid host",
        ];
        assert_eq!(m.len(), want.len(), "{m:#?}");
        for (got, want) in m.iter().zip(want) {
            assert!(
                got.starts_with(want),
                "{got}\n  does not start with\n{want}"
            );
        }
    }

    #[test]
    fn ordinary_settings_are_not_warned_about() {
        let m = run("  security: {capAdd: [NET_BIND_SERVICE]}\n  mounts: [{bind: /srv/data, target: /data}]\n");
        assert!(m.is_empty(), "{m:?}");
    }
}
