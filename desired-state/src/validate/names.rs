//! Names become Docker object names and DNS names on the networks.

use super::Report;
use crate::model::Kind;
use crate::pointer::pointer;
use crate::state::DesiredState;
use std::collections::HashMap;

pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let ok_char = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-';
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(ok_char)
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn suggest_label(s: &str) -> String {
    let lowered: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    lowered.trim_matches('-').chars().take(63).collect()
}

/// Docker takes any name without `=`; images such as Elasticsearch read
/// dotted ones (`discovery.type`), so '.' and '-' are accepted after the first
/// character, which stays a letter or '_' as in a shell name.
pub(super) fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The fix hint for a name `is_env_name` refuses.
pub(super) const ENV_NAME_HINT: &str =
    "use letters, digits, '_', '.' and '-', starting with a letter or '_'";

pub(super) fn check(state: &DesiredState, out: &mut Report) {
    let mut seen: HashMap<(Kind, &str), usize> = HashMap::new();
    for r in &state.resources {
        let name = r.name();
        if !is_dns_label(name) {
            out.error(
                r,
                "/metadata/name",
                format!("invalid name {name:?}: use lowercase letters, digits and '-', at most 63, not starting or ending with '-'"),
                Some(format!("rename it, e.g. {:?}", suggest_label(name))),
            );
        }
        // Services and Jobs share the container namespace in Docker.
        let ns = if r.kind() == Kind::Job {
            Kind::Service
        } else {
            r.kind()
        };
        *seen.entry((ns, name)).or_default() += 1;
        if ns == Kind::Service && seen[&(ns, name)] > 1 {
            out.error(r, "/metadata/name", format!("a Service or Job named {name:?} already exists; both would be container {name:?}"), Some("rename one of them".into()));
        }
        let Some(w) = r.spec.workload() else { continue };
        for key in w.env.keys() {
            if !is_env_name(key) {
                out.error(
                    r,
                    &pointer(["spec", "env", key]),
                    format!("invalid environment variable name {key:?}"),
                    Some(ENV_NAME_HINT.into()),
                );
            }
        }
        for (i, net) in w.networks.iter().enumerate() {
            for (j, alias) in net.aliases.iter().enumerate() {
                if !is_dns_label(alias) {
                    out.error(
                        r,
                        &pointer([
                            "spec",
                            "networks",
                            &i.to_string(),
                            "aliases",
                            &j.to_string(),
                        ]),
                        format!("invalid network alias {alias:?}: it must be a DNS label"),
                        Some(format!("use {:?}", suggest_label(alias))),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn rejects_names_that_are_not_dns_labels() {
        let s = state(&service("Lucid_Redis", ""));
        let mut out = Report::default();
        check(&s, &mut out);
        let m = messages(&out.0);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].starts_with("test.yaml:4:18: Service/Lucid_Redis: metadata.name: invalid name"),
            "{}",
            m[0]
        );
        assert!(
            m[0].contains("fix: rename it, e.g. \"lucid-redis\""),
            "{}",
            m[0]
        );
    }

    #[test]
    fn rejects_bad_env_names_and_aliases() {
        let s = state(&service(
            "a",
            "  env: {1BAD: x, discovery.type: single-node, bootstrap.memory_lock: \"true\", X-Y: z}\n  networks: [{name: n, aliases: [Not_Ok]}]\n",
        ));
        let mut out = Report::default();
        check(&s, &mut out);
        let m = messages(&out.0);
        assert!(
            m.iter()
                .any(|m| m.contains("spec.env.1BAD: invalid environment variable name")),
            "{m:?}"
        );
        assert_eq!(
            m.iter()
                .filter(|m| m.contains("invalid environment variable name"))
                .count(),
            1,
            "dotted names such as discovery.type are legal for Docker: {m:?}"
        );
        assert!(
            m.iter()
                .any(|m| m.contains("spec.networks[0].aliases[0]: invalid network alias")),
            "{m:?}"
        );
    }

    #[test]
    fn services_and_jobs_share_container_names() {
        let yaml = format!(
            "{}---\n{HEADER}kind: Job\nmetadata: {{name: a}}\nspec: {{image: app}}\n",
            service("a", "")
        );
        let mut out = Report::default();
        check(&state(&yaml), &mut out);
        assert!(messages(&out.0)[0]
            .contains("Job/a: metadata.name: a Service or Job named \"a\" already exists"));
    }
}
