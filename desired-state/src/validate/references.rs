//! Every name a resource mentions must be declared, with a suggestion when close.

use super::Report;
use crate::diagnostics::did_you_mean;
use crate::model::{Condition, Kind, MountSource, Spec};
use crate::pointer::pointer;
use crate::state::{DesiredState, Resource};

pub(super) fn check(state: &DesiredState, out: &mut Report) {
    for r in &state.resources {
        match &r.spec {
            Spec::Service(w) | Spec::Job(w) => {
                for (i, n) in w.networks.iter().enumerate() {
                    require(
                        state,
                        out,
                        r,
                        &pointer(["spec", "networks", &i.to_string(), "name"]),
                        &[Kind::Network],
                        &n.name,
                    );
                }
                for (i, m) in w.mounts.iter().enumerate() {
                    let at = pointer(["spec", "mounts", &i.to_string()]);
                    match m.source() {
                        Some(MountSource::Volume(v)) => {
                            require(state, out, r, &format!("{at}/volume"), &[Kind::Volume], v);
                        }
                        Some(MountSource::ConfigFile(c)) => {
                            require(
                                state,
                                out,
                                r,
                                &format!("{at}/configFile"),
                                &[Kind::ConfigFile],
                                c,
                            );
                        }
                        Some(MountSource::Bind(_) | MountSource::Anonymous) | None => {}
                    }
                }
                for (i, job) in w.before_recreate.iter().enumerate() {
                    require(
                        state,
                        out,
                        r,
                        &pointer(["spec", "beforeRecreate", &i.to_string()]),
                        &[Kind::Job],
                        job,
                    );
                }
                for (i, e) in w.env_from.iter().enumerate() {
                    require(
                        state,
                        out,
                        r,
                        &pointer(["spec", "envFrom", &i.to_string(), "secretSet"]),
                        &[Kind::SecretSet],
                        &e.secret_set,
                    );
                }
                for (i, f) in w.secret_files.iter().enumerate() {
                    require(
                        state,
                        out,
                        r,
                        &pointer(["spec", "secretFiles", &i.to_string(), "secretSet"]),
                        &[Kind::SecretSet],
                        &f.secret_set,
                    );
                }
                for (i, d) in w.depends_on.iter().enumerate() {
                    let at = pointer(["spec", "dependsOn", &i.to_string()]);
                    if !require(
                        state,
                        out,
                        r,
                        &format!("{at}/name"),
                        &[Kind::Service, Kind::Job],
                        &d.name,
                    ) {
                        continue;
                    }
                    check_condition(state, out, r, &at, &d.name, d.condition);
                }
            }
            Spec::IsolationPolicy(p) => {
                require(state, out, r, "/spec/network", &[Kind::Network], &p.network);
                for (field, names) in [("members", &p.members), ("bridges", &p.bridges)] {
                    for (i, n) in names.iter().enumerate() {
                        require(
                            state,
                            out,
                            r,
                            &pointer(["spec", field, &i.to_string()]),
                            &[Kind::Service, Kind::Job],
                            n,
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

fn check_condition(
    state: &DesiredState,
    out: &mut Report,
    r: &Resource,
    at: &str,
    name: &str,
    condition: Condition,
) {
    let Some(target) = state
        .get(Kind::Service, name)
        .or_else(|| state.get(Kind::Job, name))
    else {
        return;
    };
    let target_has_health = target.spec.workload().is_some_and(|w| {
        w.healthcheck
            .as_ref()
            .is_some_and(|h| h.test.first().map(String::as_str) != Some("NONE"))
    });
    match condition {
        Condition::Completed if target.kind() != Kind::Job => out.error(
            r,
            &format!("{at}/condition"),
            format!(
                "condition `completed` needs a Job, but {} is a long-running Service",
                target.id()
            ),
            Some("use `healthy` or `started`, or make the dependency a Job".into()),
        ),
        Condition::Healthy if !target_has_health => out.error(
            r,
            &format!("{at}/condition"),
            format!(
                "condition `healthy` can never hold: {} has no healthcheck",
                target.id()
            ),
            Some(format!(
                "add spec.healthcheck to {}, or use `started`",
                target.id()
            )),
        ),
        _ => {}
    }
}

/// Reports a dangling reference and returns whether the name resolves.
fn require(
    state: &DesiredState,
    out: &mut Report,
    r: &Resource,
    at: &str,
    kinds: &[Kind],
    name: &str,
) -> bool {
    if kinds.iter().any(|k| state.get(*k, name).is_some()) {
        return true;
    }
    let candidates = state
        .resources
        .iter()
        .filter(|c| kinds.contains(&c.kind()))
        .map(|c| c.name());
    let what = kinds
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(" or ");
    let hint = match did_you_mean(name, candidates) {
        Some(s) => format!("did you mean {s}?"),
        None => format!("declare a {what} named {name:?}, or fix the name"),
    };
    out.error(
        r,
        at,
        format!("refers to {what} {name:?}, which is not declared"),
        Some(hint),
    );
    false
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
    fn dangling_references_suggest_the_nearest_name() {
        let yaml = format!(
            "{}{}",
            service("lucid-mongodb", "  healthcheck: {test: [CMD, probe]}\n"),
            service("auth", "  dependsOn: [{name: lucid-mongo-db, condition: healthy}]\n  networks: [{name: lucid-pi}]\n  envFrom: [{secretSet: core}]\n  mounts: [{volume: data, target: /d}, {configFile: conf, target: /c}]\n")
        );
        let m = run(&yaml);
        assert!(m.iter().any(|m| m.contains("spec.dependsOn[0].name: refers to Service or Job \"lucid-mongo-db\", which is not declared\n  fix: did you mean lucid-mongodb?")), "{m:?}");
        for field in [
            "spec.networks[0].name",
            "spec.envFrom[0].secretSet",
            "spec.mounts[0].volume",
            "spec.mounts[1].configFile",
        ] {
            assert!(m.iter().any(|m| m.contains(field)), "{field}: {m:?}");
        }
    }

    #[test]
    fn conditions_must_be_satisfiable() {
        let yaml = format!(
            "{}{}",
            service("db", ""),
            service(
                "app",
                "  dependsOn: [{name: db, condition: healthy}, {name: db, condition: completed}]\n"
            )
        );
        let m = run(&yaml);
        assert!(
            m.iter()
                .any(|m| m
                    .contains("condition `healthy` can never hold: Service/db has no healthcheck")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|m| m.contains("condition `completed` needs a Job")),
            "{m:?}"
        );
    }
}
