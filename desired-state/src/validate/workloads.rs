//! Shape rules for Services, Jobs and the kinds they use that serde alone cannot express.

use super::names::is_env_name;
use super::Report;
use crate::model::{Kind, RestartPolicy, SecretSetSpec, Spec};
use crate::pointer::pointer;
use crate::state::{DesiredState, Resource};
use std::collections::HashMap;

pub(super) fn check(state: &DesiredState, out: &mut Report) {
    let mut image_refs: HashMap<String, String> = HashMap::new();
    for r in &state.resources {
        match &r.spec {
            Spec::Service(w) | Spec::Job(w) => {
                if w.rollout == Some(crate::model::Rollout::StartFirst) {
                    let port = w.ports.iter().any(|p| p.host_port.is_some_and(|h| h != 0));
                    let static_ip = w.networks.iter().any(|n| n.ipv4_address.is_some());
                    if port || static_ip {
                        out.error(
                            r,
                            "/spec/rollout",
                            format!(
                                "rollout startFirst needs two containers side by side, which a {} does not allow",
                                if port { "published host port" } else { "static IP address" }
                            ),
                            Some("use `rollout: auto` (start-first where possible) or `stopFirst`".into()),
                        );
                    }
                }
                for (i, m) in w.mounts.iter().enumerate() {
                    let at = format!("/spec/mounts/{i}");
                    if m.source().is_none() {
                        out.error(
                            r,
                            &at,
                            "a mount needs exactly one of `volume`, `configFile`, `bind` or `anonymous`",
                            Some("keep one source per mount".into()),
                        );
                    }
                    if !m.target.starts_with('/') {
                        out.error(
                            r,
                            &format!("{at}/target"),
                            format!("mount target {:?} must be an absolute path", m.target),
                            Some(format!("use \"/{}\"", m.target.trim_start_matches("./"))),
                        );
                    }
                    if w.mounts[..i].iter().any(|o| o.target == m.target) {
                        out.error(
                            r,
                            &format!("{at}/target"),
                            format!("two mounts share target {:?}", m.target),
                            Some("give each mount its own target".into()),
                        );
                    }
                    if let Some(b) = &m.bind {
                        if !b.starts_with('/') {
                            out.error(
                                r,
                                &format!("{at}/bind"),
                                format!("bind source {b:?} must be an absolute host path"),
                                Some("use a ConfigFile for files from the state directory".into()),
                            );
                        }
                    }
                }
                if let Some(h) = &w.healthcheck {
                    let form = h.test.first().map(String::as_str);
                    let ok = match form {
                        Some("NONE") => h.test.len() == 1,
                        Some("CMD") => h.test.len() >= 2,
                        Some("CMD-SHELL") => h.test.len() == 2,
                        _ => false,
                    };
                    if !ok {
                        out.error(r, "/spec/healthcheck/test", "healthcheck test must be [\"CMD\", exe, args...], [\"CMD-SHELL\", \"command\"] or [\"NONE\"]", Some("start the list with CMD (no shell needed, works in distroless images)".into()));
                    }
                }
                if let Some(res) = &w.resources {
                    if res.cpus.is_some_and(|c| !(c > 0.0 && c <= 1024.0)) {
                        out.error(
                            r,
                            "/spec/resources/cpus",
                            "cpus must be above 0",
                            Some("use a fraction of cores, e.g. 0.5".into()),
                        );
                    }
                    if res.memory.is_some_and(|m| m.0 < 6 << 20) {
                        out.error(
                            r,
                            "/spec/resources/memory",
                            "memory below 6Mi is refused by Docker",
                            Some("use at least 6Mi".into()),
                        );
                    }
                }
                if r.kind() == Kind::Job
                    && matches!(
                        w.restart,
                        Some(RestartPolicy::Always | RestartPolicy::UnlessStopped)
                    )
                {
                    out.error(r, "/spec/restart", "a Job runs to completion; `always` and `unless-stopped` would restart it forever", Some("use `no` or `on-failure`".into()));
                }
                super::secret_files::check(state, r, w, out);
                for (i, e) in w.env_from.iter().enumerate() {
                    if w.env_from[..i].iter().any(|o| o.secret_set == e.secret_set) {
                        out.error(
                            r,
                            &pointer(["spec", "envFrom", &i.to_string()]),
                            format!("secretSet {:?} is listed twice", e.secret_set),
                            None,
                        );
                    }
                }
            }
            Spec::ConfigFile(c) if c.file.is_some() == c.content.is_some() => {
                out.error(
                    r,
                    "/spec",
                    "a ConfigFile needs exactly one of `file` or `content`",
                    Some("point `file` at a file in the state directory".into()),
                );
            }
            Spec::SecretSet(s) => {
                if s.file.is_empty() || s.file.contains('/') || s.file == "." || s.file == ".." {
                    out.error(
                        r,
                        "/spec/file",
                        format!("env file name {:?} must be a plain file name", s.file),
                        Some("e.g. .env.foundation; the directory comes from --secrets-dir".into()),
                    );
                }
                secret_set_entries(r, s, out);
                let mut seen = HashMap::new();
                for (i, g) in s.generate.iter().enumerate() {
                    if seen.insert(g.key.as_str(), i).is_some() || s.values.contains_key(&g.key) {
                        out.error(
                            r,
                            &format!("/spec/generate/{i}/key"),
                            format!("key {:?} is declared twice", g.key),
                            None,
                        );
                    }
                    if !(8..=1024).contains(&g.bytes) {
                        out.error(
                            r,
                            &format!("/spec/generate/{i}/bytes"),
                            format!("{} bytes is outside 8..=1024", g.bytes),
                            Some("secrets need at least 8 random bytes; 32 is usual".into()),
                        );
                    }
                }
            }
            Spec::Image(img) => {
                if let Some(other) = image_refs.insert(img.reference.with_default_tag(), r.id()) {
                    out.error(
                        r,
                        "/spec/ref",
                        format!("ref {} is also produced by {other}", img.reference),
                        Some("one Image resource per tag".into()),
                    );
                }
                if img.push && img.build.is_none() {
                    out.error(
                        r,
                        "/spec/push",
                        "push needs a build: there is nothing new to push",
                        Some("add spec.build or drop push".into()),
                    );
                }
            }
            _ => {}
        }
    }
}

/// Each entry becomes one `KEY=value` line of the env file, so a key must be a
/// plain variable name and a value must stay on its line: a newline in a value
/// would add a variable nobody declared.
fn secret_set_entries(r: &Resource, s: &SecretSetSpec, out: &mut Report) {
    let keys = s
        .generate
        .iter()
        .enumerate()
        .map(|(i, g)| (pointer(["spec", "generate", &i.to_string(), "key"]), &g.key))
        .chain(s.values.keys().map(|k| (pointer(["spec", "values", k]), k)));
    for (at, key) in keys {
        if !is_env_name(key) {
            out.error(
                r,
                &at,
                format!("invalid environment variable name {key:?} in a SecretSet"),
                Some(super::names::ENV_NAME_HINT.into()),
            );
        }
    }
    for (key, value) in &s.values {
        if value.chars().any(char::is_control) {
            // The value may be secret: name the key, never show the value.
            out.error(
                r,
                &pointer(["spec", "values", key]),
                format!("the value of {key:?} contains a control character (newline, tab, ...)"),
                Some("put the value on one line without control characters".into()),
            );
        }
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
    fn mounts_need_one_source_and_absolute_targets() {
        let m = run(&service(
            "a",
            "  mounts: [{volume: v, bind: /x, target: data}]\n",
        ));
        assert!(
            m.iter()
                .any(|m| m.contains("spec.mounts[0]: a mount needs exactly one of")),
            "{m:?}"
        );
        assert!(m.iter().any(|m| m.contains("spec.mounts[0].target: mount target \"data\" must be an absolute path\n  fix: use \"/data\"")), "{m:?}");
    }

    #[test]
    fn healthcheck_forms() {
        let m = run(&service("a", "  healthcheck: {test: [curl, localhost]}\n"));
        assert!(
            m[0].contains("spec.healthcheck.test: healthcheck test must be"),
            "{m:?}"
        );
    }

    #[test]
    fn jobs_cannot_restart_forever() {
        let m = run(&format!("---\n{HEADER}kind: Job\nmetadata: {{name: j}}\nspec: {{image: app, restart: always}}\n"));
        assert!(
            m[0].contains("Job/j: spec.restart: a Job runs to completion"),
            "{m:?}"
        );
    }

    #[test]
    fn secret_sets_and_images() {
        let yaml = format!(
            "---\n{HEADER}kind: SecretSet\nmetadata: {{name: s}}\nspec: {{file: a/b, generate: [{{key: K, bytes: 4}}, {{key: K, bytes: 32}}]}}\n---\n{HEADER}kind: Image\nmetadata: {{name: i}}\nspec: {{ref: app, push: true}}\n---\n{HEADER}kind: Image\nmetadata: {{name: j}}\nspec: {{ref: 'app:latest'}}\n"
        );
        let m = run(&yaml);
        for want in [
            "must be a plain file name",
            "4 bytes is outside",
            "key \"K\" is declared twice",
            "push needs a build",
            "ref app:latest is also produced by Image/i",
        ] {
            assert!(m.iter().any(|m| m.contains(want)), "{want}: {m:?}");
        }
    }
    #[test]
    fn secret_set_entries_stay_one_line_each() {
        let yaml = format!(
            "---\n{HEADER}kind: SecretSet\nmetadata: {{name: s}}\nspec:\n  file: .env.s\n  generate: [{{key: 'A=B', bytes: 32}}]\n  values:\n    GOOD: fine\n    'HAS SPACE': x\n    INJECT: \"hello\\nINJECTED=evil\"\n"
        );
        let m = run(&yaml);
        assert_eq!(m.len(), 3, "{m:?}");
        assert!(
            m.iter().any(|m| m.starts_with("test.yaml:7:20:")
                && m.contains("spec.generate[0].key: invalid environment variable name \"A=B\"")),
            "{m:?}"
        );
        assert!(
            m.iter().any(|m| m.starts_with("test.yaml:10:")
                && m.contains("invalid environment variable name \"HAS SPACE\"")),
            "{m:?}"
        );
        let inject = m
            .iter()
            .find(|m| m.contains("INJECT\" contains a control character"));
        let inject = inject.unwrap_or_else(|| panic!("{m:?}"));
        assert!(inject.starts_with("test.yaml:11:13:"), "{inject}");
        assert!(!inject.contains("evil"), "the value leaked: {inject}");
    }
}
