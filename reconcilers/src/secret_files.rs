//! `secretFiles`: a SecretSet given to a workload as files, one per key,
//! instead of env. The files (mode 0400, owned by the workload's numeric user)
//! live on the engine host under `<files dir>/<project>/secrets/<workload>/<set>/`,
//! and that directory is bind-mounted read-only at the declared target, so
//! the values never appear in the container's config (`docker inspect`).
//! With `keys`, only those keys become files: the directory holds what the
//! workload needs and nothing else of the set.

use crate::hostfiles::HostFile;
use crate::render::Inputs;
use desired_state::model::numeric_user;
use desired_state::DesiredState;

/// Every workload's secret files, one per key. A named user cannot own them
/// (validation refuses it); with no user they belong to whoever runs lucidctl
/// (root for a system install), which is the container's default user too.
pub fn host_files(state: &DesiredState, inputs: &Inputs) -> Vec<HostFile> {
    let mut out = Vec::new();
    for r in state.workloads() {
        let Some(w) = r.spec.workload() else { continue };
        let owner = w.user.as_deref().and_then(numeric_user);
        for f in &w.secret_files {
            let Some(values) = inputs.secrets.get(&f.secret_set) else {
                continue;
            };
            let dir = inputs.secret_files_dir(r.name(), &f.secret_set);
            for (key, value) in values.iter().filter(|(k, _)| f.takes(k)) {
                out.push(HostFile {
                    what: format!("SecretSet/{} file {key} for {}", f.secret_set, r.id()),
                    path: dir.join(key),
                    bytes: value.expose().as_bytes().to_vec(),
                    mode: 0o400,
                    owner,
                    exclusive_dir: true,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::Observed;
    use crate::render::{render_container, MountFrom, RenderedMount, SecretValue};
    use desired_state::{load_sources, Source};
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    const STATE: &str = r#"
apiVersion: lucid/v1alpha1
kind: SecretSet
metadata: {name: tls}
spec: {file: .env.tls, generate: [{key: TLS_KEY, bytes: 32}]}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: web}
spec:
  image: web:1
  user: "1000:1001"
  secretFiles: [{secretSet: tls, target: /run/secrets}]
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: other}
spec: {image: web:1}
"#;

    fn state() -> DesiredState {
        let loaded = load_sources(
            &[Source {
                group: 0,
                file: PathBuf::from("t.yaml"),
                text: STATE.to_string(),
            }],
            PathBuf::from("/x"),
        );
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        loaded.state
    }

    fn inputs(value: &str) -> Inputs {
        Inputs {
            project: "t".into(),
            files_dir: PathBuf::from("/srv/lucid"),
            secrets: BTreeMap::from([(
                "tls".into(),
                BTreeMap::from([("TLS_KEY".into(), SecretValue::new(value))]),
            )]),
            ..Inputs::default()
        }
    }

    fn render(state: &DesiredState, inputs: &Inputs, name: &str) -> crate::render::ContainerSpec {
        let r = state.workloads().find(|r| r.name() == name).unwrap();
        render_container(r, inputs, &Observed::default())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn files_are_mounted_read_only_and_kept_out_of_env_and_labels() {
        let s = state();
        let web = render(&s, &inputs("hunter2"), "web");
        assert!(web.env.is_empty(), "{:?}", web.env);
        assert_eq!(
            web.mounts,
            [RenderedMount {
                target: "/run/secrets".into(),
                from: MountFrom::HostPath("/srv/lucid/t/secrets/web/tls".into()),
                read_only: true,
                selinux: None,
            }]
        );
        assert!(!format!("{web:?}").contains("hunter2"));
        assert!(web.inputs.contains_key("secret/tls"), "{:?}", web.inputs);

        let files = host_files(&s, &inputs("hunter2"));
        assert_eq!(files.len(), 1);
        assert_eq!(
            files[0].path,
            PathBuf::from("/srv/lucid/t/secrets/web/tls/TLS_KEY")
        );
        assert_eq!(files[0].bytes, b"hunter2");
        assert_eq!((files[0].mode, files[0].owner), (0o400, Some((1000, 1001))));
    }

    #[test]
    fn only_the_listed_keys_become_files_and_count_in_the_hash() {
        let text = STATE.replace(
            "target: /run/secrets}]",
            "target: /run/secrets, keys: [TLS_KEY]}]",
        );
        let loaded = load_sources(
            &[Source {
                group: 0,
                file: PathBuf::from("t.yaml"),
                text: text.replace(
                    "generate: [{key: TLS_KEY, bytes: 32}]",
                    "generate: [{key: TLS_KEY, bytes: 32}, {key: OTHER, bytes: 32}]",
                ),
            }],
            PathBuf::from("/x"),
        );
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let with_other = |other: &str| {
            let mut i = inputs("k");
            i.secrets
                .get_mut("tls")
                .unwrap()
                .insert("OTHER".into(), SecretValue::new(other));
            i
        };
        let files = host_files(&loaded.state, &with_other("o1"));
        let paths: Vec<_> = files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(
            paths,
            [PathBuf::from("/srv/lucid/t/secrets/web/tls/TLS_KEY")]
        );
        // A key the workload does not take does not recreate it.
        assert_eq!(
            render(&loaded.state, &with_other("o1"), "web").hash,
            render(&loaded.state, &with_other("o2"), "web").hash
        );
        assert_ne!(
            render(&loaded.state, &inputs("k1"), "web").hash,
            render(&loaded.state, &inputs("k2"), "web").hash
        );
    }

    #[test]
    fn a_changed_value_changes_exactly_the_workloads_that_take_it() {
        let s = state();
        let (a, b) = (inputs("one"), inputs("two"));
        assert_ne!(render(&s, &a, "web").hash, render(&s, &b, "web").hash);
        assert_eq!(render(&s, &a, "other").hash, render(&s, &b, "other").hash);
    }

    #[test]
    fn missing_values_are_an_error() {
        let s = state();
        let mut i = inputs("x");
        i.secrets.clear();
        let r = s.workloads().find(|r| r.name() == "web").unwrap();
        let e = render_container(r, &i, &Observed::default())
            .unwrap()
            .unwrap_err();
        assert!(e.to_string().contains("secrets generate"), "{e}");
    }
}
