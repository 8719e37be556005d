//! External Networks and Volumes: someone else's objects, used by name only.

use super::Report;
use crate::model::Spec;
use crate::state::{DesiredState, Resource};

/// Docker's rule for object names.
fn is_docker_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

pub(super) fn check(state: &DesiredState, out: &mut Report) {
    for r in &state.resources {
        let (external, name, settings) = match &r.spec {
            Spec::Network(n) => (
                n.external,
                &n.name,
                vec![
                    ("driver", n.driver.is_some()),
                    ("subnet", n.subnet.is_some()),
                    ("gateway", n.gateway.is_some()),
                    ("internal", n.internal),
                ],
            ),
            Spec::Volume(v) => (
                v.external,
                &v.name,
                vec![
                    ("driver", v.driver.is_some()),
                    ("driverOpts", !v.driver_opts.is_empty()),
                ],
            ),
            _ => continue,
        };
        one(r, external, name.as_deref(), &settings, out);
    }
}

fn one(
    r: &Resource,
    external: bool,
    name: Option<&str>,
    settings: &[(&str, bool)],
    out: &mut Report,
) {
    if !external {
        if name.is_some() {
            out.error(
                r,
                "/spec/name",
                "`name` is for external objects only",
                Some("set `external: true` or remove `name`".into()),
            );
        }
        return;
    }
    for (field, set) in settings {
        if *set {
            out.error(
                r,
                &format!("/spec/{field}"),
                format!(
                    "{field} does not apply to an external {}: lucidctl never creates it",
                    r.kind()
                ),
                Some(format!("remove `{field}`")),
            );
        }
    }
    if let Some(n) = name.filter(|n| !is_docker_name(n)) {
        out.error(
            r,
            "/spec/name",
            format!("{n:?} is not a Docker object name"),
            Some("use letters, digits, '_', '.' and '-'".into()),
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
    fn external_objects_take_a_name_and_no_settings() {
        let ok = network("proxy", "{external: true, name: traefik_proxy}");
        assert!(run(&ok).is_empty(), "{:?}", run(&ok));
        let m = run(&network(
            "proxy",
            "{external: true, subnet: 10.0.0.0/24, name: \"bad name\"}",
        ));
        assert!(
            m.iter()
                .any(|m| m.contains("spec.subnet: subnet does not apply to an external Network")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|m| m.contains("spec.name: \"bad name\" is not a Docker object name")),
            "{m:?}"
        );
        let m = run(&network("proxy", "{name: other}"));
        assert!(
            m[0].contains("spec.name: `name` is for external objects only"),
            "{m:?}"
        );
        let m = run("---\napiVersion: lucid/v1alpha1\nkind: Volume\nmetadata: {name: v}\nspec: {external: true, driver: local}\n");
        assert!(
            m[0].contains("spec.driver: driver does not apply to an external Volume"),
            "{m:?}"
        );
    }
}
