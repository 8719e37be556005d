//! Table cases for `plan`: each reason, the converged case, and conflicts.

use super::*;
use crate::observed::*;
use crate::render::{render_container, EnvValue, MountFrom, SecretValue};
use desired_state::model::Spec;
use desired_state::{load_sources, Source};
use std::collections::BTreeMap;
use std::path::PathBuf;

const BASE: &str = r#"
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: net}
spec: {subnet: 172.30.0.0/16}
---
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: iso}
spec: {subnet: 172.31.0.0/16}
---
apiVersion: lucid/v1alpha1
kind: Volume
metadata: {name: data}
---
apiVersion: lucid/v1alpha1
kind: IsolationPolicy
metadata: {name: policy}
spec: {network: iso, members: []}
---
apiVersion: lucid/v1alpha1
kind: ConfigFile
metadata: {name: conf}
spec: {content: "maxmemory 1gb\n"}
---
apiVersion: lucid/v1alpha1
kind: SecretSet
metadata: {name: foundation}
spec: {file: .env.foundation, generate: [{key: REDIS_PASSWORD, bytes: 32}]}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: redis, labels: {phase: foundation}}
spec:
  image: redis:7
  env: {REDIS_MAXMEMORY: 1gb}
  envFrom: [{secretSet: foundation}]
  networks: [{name: net, aliases: [cache]}]
  mounts: [{volume: data, target: /data}, {configFile: conf, target: /etc/redis.conf}]
  healthcheck: {test: [CMD, probe], interval: 10s}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: api, labels: {phase: core}}
spec:
  image: api:1
  networks: [{name: net}]
  dependsOn: [{name: redis, condition: healthy}]
---
apiVersion: lucid/v1alpha1
kind: Job
metadata: {name: init, labels: {phase: foundation}}
spec:
  image: redis:7
  networks: [{name: net}]
  restart: "no"
"#;

fn desired(text: &str) -> DesiredState {
    let loaded = load_sources(
        &[Source {
            group: 0,
            file: PathBuf::from("t.yaml"),
            text: text.to_string(),
        }],
        PathBuf::from("/x"),
    );
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    loaded.state
}

fn inputs() -> Inputs {
    Inputs {
        project: "t".into(),
        files_dir: PathBuf::from("/srv/lucid"),
        config_hashes: BTreeMap::from([("conf".into(), "c1".into())]),
        secrets: BTreeMap::from([(
            "foundation".into(),
            BTreeMap::from([("REDIS_PASSWORD".into(), SecretValue::new("s3cret"))]),
        )]),
        ..Inputs::default()
    }
}

fn images() -> BTreeMap<String, ObservedImage> {
    ["redis:7", "api:1"]
        .into_iter()
        .map(|r| {
            (
                r.to_string(),
                ObservedImage {
                    id: format!("sha256:{r}"),
                    ..Default::default()
                },
            )
        })
        .collect()
}

/// What the engine would show after a correct apply of `spec`.
fn as_running(spec: &ContainerSpec) -> ObservedContainer {
    ObservedContainer {
        id: format!("id-{}", spec.name),
        name: spec.name.clone(),
        labels: spec.labels.clone(),
        image_id: format!("sha256:{}", spec.image),
        image_ref: spec.image.clone(),
        state: Some(if spec.kind == Kind::Job {
            RunState::Exited
        } else {
            RunState::Running
        }),
        health: None,
        failing_streak: None,
        exit_code: Some(0),
        start_error: None,
        summary_only: false,
        config: ObservedConfig {
            env: spec
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_string()))
                .chain([("PATH".to_string(), "/bin".to_string())])
                .collect(),
            cmd: spec.command.clone().or(Some(vec!["image-default".into()])),
            healthcheck_test: spec.healthcheck.as_ref().map(|h| h.test.clone()),
            healthcheck_interval: spec
                .healthcheck
                .as_ref()
                .and_then(|h| h.interval)
                .map(|d| d.0),
            networks: spec
                .networks
                .iter()
                .map(|n| {
                    (
                        n.network.clone(),
                        ObservedAttachment {
                            aliases: n.aliases.clone(),
                            ipv4_address: None,
                            network_id: None,
                        },
                    )
                })
                .collect(),
            mounts: spec
                .mounts
                .iter()
                .map(|m| {
                    let source = match &m.from {
                        MountFrom::Volume(v) | MountFrom::HostPath(v) => v.clone(),
                        MountFrom::Anonymous => "0123abcd".to_string(),
                    };
                    (
                        m.target.clone(),
                        ObservedMount {
                            source,
                            read_only: m.read_only,
                            mode: m.selinux.unwrap_or_default().to_string(),
                        },
                    )
                })
                .collect(),
            restart: Some(spec.restart.map(|r| r.as_str()).unwrap_or("no").to_string()),
            ..Default::default()
        },
    }
}

fn converged(d: &DesiredState, inputs: &Inputs) -> Observed {
    let mut o = Observed {
        images: images(),
        ..Default::default()
    };
    for r in d.workloads() {
        let spec = render_container(r, inputs, &o).unwrap().unwrap();
        o.containers.push(as_running(&spec));
    }
    for r in d.of_kind(Kind::Network) {
        let Spec::Network(s) = &r.spec else { continue };
        let n = crate::render::render_network(r, s, inputs);
        o.networks.push(ObservedNetwork {
            name: n.name,
            labels: n.labels,
            driver: "bridge".into(),
            ..Default::default()
        });
    }
    for r in d.of_kind(Kind::Volume) {
        let labels = crate::render::ownership_labels(inputs, Kind::Volume, r);
        o.volumes.push(ObservedVolume {
            name: r.name().into(),
            labels,
            driver: "local".into(),
            ..Default::default()
        });
    }
    o
}

fn summary(p: &Plan) -> Vec<String> {
    p.changes
        .iter()
        .map(|c| format!("{} {}/{}", c.action.as_str(), c.kind, c.name))
        .collect()
}

fn run(d: &DesiredState, o: &Observed, i: &Inputs) -> Plan {
    plan(d, o, i, &PlanOptions::default())
}

#[test]
fn empty_engine_creates_everything_in_order() {
    let d = desired(BASE);
    let p = run(&d, &Observed::default(), &inputs());
    assert_eq!(
        summary(&p),
        [
            "pull Image/redis:7",
            "pull Image/api:1",
            "create Network/net",
            "create Network/iso",
            "create Volume/data",
            "create Job/init",
            "create Service/redis",
            "create Service/api"
        ]
    );
    assert!(p.changes.iter().all(|c| c
        .reasons
        .iter()
        .any(|r| matches!(r, Reason::NotFound | Reason::ImageMissing))));
}

#[test]
fn converged_engine_gives_an_empty_plan() {
    let d = desired(BASE);
    let i = inputs();
    let p = run(&d, &converged(&d, &i), &i);
    assert!(p.is_empty(), "{:?}", summary(&p));
    assert!(p.conflicts.is_empty() && p.errors.is_empty());
}

#[test]
fn env_change_recreates_exactly_one_with_the_field() {
    let d = desired(BASE);
    let i = inputs();
    let o = converged(&d, &i);
    let d2 = desired(&BASE.replace("REDIS_MAXMEMORY: 1gb", "REDIS_MAXMEMORY: 2gb"));
    let p = run(&d2, &o, &i);
    assert_eq!(summary(&p), ["recreate Service/redis"]);
    assert_eq!(p.changes[0].reasons, [Reason::SpecChanged]);
    let f = &p.changes[0].fields;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].path.as_str(), f[0].from.as_str(), f[0].to.as_str()),
        ("env.REDIS_MAXMEMORY", "\"1gb\"", "\"2gb\"")
    );
}

#[test]
fn plain_env_replacing_a_secret_key_hides_the_current_secret() {
    let d = desired(BASE);
    let i = inputs();
    let o = converged(&d, &i);
    let d2 = desired(
        &BASE
            .replace("  envFrom: [{secretSet: foundation}]\n", "")
            .replace(
                "REDIS_MAXMEMORY: 1gb",
                "REDIS_MAXMEMORY: 1gb, REDIS_PASSWORD: plain",
            ),
    );
    let p = run(&d2, &o, &i);
    assert_eq!(summary(&p), ["recreate Service/redis"]);
    let f = &p.changes[0].fields;
    let pw = f.iter().find(|f| f.path == "env.REDIS_PASSWORD");
    let pw = pw.unwrap_or_else(|| panic!("{f:?}"));
    assert_eq!(
        (pw.from.as_str(), pw.to.as_str()),
        ("(sensitive)", "\"plain\"")
    );
    let json = serde_json::to_string(f).unwrap();
    let debug = format!("{p:?}");
    assert!(
        !json.contains("s3cret") && !debug.contains("s3cret"),
        "secret leaked: {json}"
    );
}

#[test]
fn image_id_change_recreates_users_of_the_tag() {
    let d = desired(BASE);
    let i = inputs();
    let mut o = converged(&d, &i);
    o.images.get_mut("redis:7").unwrap().id = "sha256:new".into();
    let p = run(&d, &o, &i);
    assert_eq!(summary(&p), ["recreate Job/init", "recreate Service/redis"]);
    assert!(p
        .changes
        .iter()
        .all(|c| c.reasons == [Reason::ImageChanged]));
}

#[test]
fn config_and_secret_changes_name_their_input_and_hide_values() {
    let d = desired(BASE);
    let i = inputs();
    let o = converged(&d, &i);
    let mut i2 = i.clone();
    i2.config_hashes.insert("conf".into(), "c2".into());
    i2.secrets
        .get_mut("foundation")
        .unwrap()
        .insert("REDIS_PASSWORD".into(), SecretValue::new("rotated"));
    let p = run(&d, &o, &i2);
    assert_eq!(summary(&p), ["recreate Service/redis"]);
    assert_eq!(
        p.changes[0].reasons,
        [
            Reason::ConfigFileChanged {
                name: "conf".into()
            },
            Reason::SecretChanged {
                set: "foundation".into()
            }
        ]
    );
    let f = &p.changes[0].fields[0];
    assert_eq!(
        (f.path.as_str(), f.from.as_str(), f.to.as_str()),
        ("env.REDIS_PASSWORD", "(sensitive)", "(sensitive)")
    );
    let debug = format!("{p:?}");
    assert!(
        !debug.contains("rotated") && !debug.contains("s3cret"),
        "secret leaked into Debug"
    );
}

#[test]
fn stopped_service_starts_and_finished_job_stays_done() {
    let d = desired(BASE);
    let i = inputs();
    let mut o = converged(&d, &i);
    for c in &mut o.containers {
        c.state = Some(RunState::Exited);
    }
    let p = run(&d, &o, &i);
    assert_eq!(summary(&p), ["start Service/redis", "start Service/api"]);
    assert_eq!(p.changes[0].reasons, [Reason::Stopped]);
}

#[test]
fn failed_job_is_rerun() {
    let d = desired(BASE);
    let i = inputs();
    let mut o = converged(&d, &i);
    o.containers
        .iter_mut()
        .find(|c| c.name == "init")
        .unwrap()
        .exit_code = Some(3);
    let p = run(&d, &o, &i);
    assert_eq!(summary(&p), ["recreate Job/init"]);
    assert_eq!(p.changes[0].reasons, [Reason::JobFailed { exit_code: 3 }]);
}

#[test]
fn manual_change_with_same_hash_recreates() {
    let d = desired(BASE);
    let i = inputs();
    let mut o = converged(&d, &i);
    o.containers
        .iter_mut()
        .find(|c| c.name == "redis")
        .unwrap()
        .config
        .env
        .insert("REDIS_MAXMEMORY".into(), "5gb".into());
    let p = run(&d, &o, &i);
    assert_eq!(summary(&p), ["recreate Service/redis"]);
    assert_eq!(p.changes[0].reasons, [Reason::ManualChange]);
}

/// Issue 22 (found by the chaos soak): `docker update --memory` by hand, the
/// repairing recreate failed its health check once under load and was
/// recorded as a failed rollout of the very spec the container already ran;
/// the repair was then held for good and the hand change stayed.
#[test]
fn a_failed_repair_of_a_hand_change_is_not_held_like_a_failed_rollout() {
    let d = desired(BASE);
    let i = inputs();
    let mut o = converged(&d, &i);
    let redis = o.containers.iter_mut().find(|c| c.name == "redis").unwrap();
    redis
        .config
        .env
        .insert("REDIS_MAXMEMORY".into(), "5gb".into());
    let hash = redis.labels[crate::labels::SPEC_HASH].clone();
    o.volumes.push(ObservedVolume {
        name: "lucidctl-failed-redis".into(),
        labels: BTreeMap::from([
            (
                crate::labels::MANAGED_BY.to_string(),
                crate::labels::MANAGED_BY_VALUE.to_string(),
            ),
            (
                crate::labels::KIND.to_string(),
                FAILED_ROLLOUT_KIND.to_string(),
            ),
            (crate::labels::PROJECT.to_string(), i.project.clone()),
            (crate::labels::NAME.to_string(), "redis".to_string()),
            (crate::labels::SPEC_HASH.to_string(), hash),
        ]),
        ..ObservedVolume::default()
    });
    let p = run(&d, &o, &i);
    assert_eq!(summary(&p), ["recreate Service/redis"]);
    assert!(p.held.is_empty(), "{:?}", p.held);
}

#[test]
fn missing_mount_recreates() {
    let d = desired(BASE);
    let i = inputs();
    let mut o = converged(&d, &i);
    o.containers
        .iter_mut()
        .find(|c| c.name == "redis")
        .unwrap()
        .config
        .mounts
        .remove("/data");
    let p = run(&d, &o, &i);
    assert_eq!(summary(&p), ["recreate Service/redis"]);
    assert!(p.changes[0].reasons.contains(&Reason::MountMissing {
        target: "/data".into()
    }));
}

#[test]
fn networks_connect_and_isolation_violations_disconnect() {
    let d = desired(BASE);
    let i = inputs();
    let mut o = converged(&d, &i);
    let api = o.containers.iter_mut().find(|c| c.name == "api").unwrap();
    api.config.networks.remove("net");
    api.config
        .networks
        .insert("iso".into(), ObservedAttachment::default());
    let p = run(&d, &o, &i);
    assert_eq!(
        summary(&p),
        ["connect Service/api", "disconnect Service/api"]
    );
    assert_eq!(
        p.changes[1].reasons,
        [Reason::NetworkNotDeclared {
            network: "iso".into(),
            policy_violation: true
        }]
    );
    assert_eq!(p.changes[1].network.as_deref(), Some("iso"));
}

#[test]
fn unmanaged_container_with_a_desired_name_is_a_conflict() {
    let d = desired(BASE);
    let i = inputs();
    let mut o = converged(&d, &i);
    let redis = o.containers.iter_mut().find(|c| c.name == "redis").unwrap();
    redis.labels.clear();
    let p = run(&d, &o, &i);
    assert!(p.is_empty(), "{:?}", summary(&p));
    assert_eq!(p.conflicts.len(), 1);
    assert!(p.conflicts[0].message.contains("lacks the ownership label"));
}

#[test]
fn prune_removes_only_managed_objects_of_the_project() {
    let d = desired(BASE);
    let i = inputs();
    let mut o = converged(&d, &i);
    let mut gone = o.containers[0].clone();
    gone.name = "old".into();
    gone.labels.insert(crate::labels::NAME.into(), "old".into());
    let mut other_project = gone.clone();
    other_project.name = "theirs".into();
    other_project
        .labels
        .insert(crate::labels::PROJECT.into(), "other".into());
    let mut unmanaged = gone.clone();
    unmanaged.name = "old-by-hand".into();
    unmanaged.labels.clear();
    o.containers.extend([gone, other_project, unmanaged]);
    o.volumes.push(ObservedVolume {
        name: "olddata".into(),
        labels: BTreeMap::from([
            (crate::labels::MANAGED_BY.into(), "lucidctl".into()),
            (crate::labels::PROJECT.into(), "t".into()),
            (crate::labels::KIND.into(), "Volume".into()),
            (crate::labels::NAME.into(), "olddata".into()),
        ]),
        driver: "local".into(),
        ..Default::default()
    });
    assert!(
        run(&d, &o, &i).is_empty(),
        "nothing is removed without --prune"
    );
    let p = plan(
        &d,
        &o,
        &i,
        &PlanOptions {
            prune: true,
            ..Default::default()
        },
    );
    assert_eq!(summary(&p), ["remove Service/old"]);
    let p = plan(
        &d,
        &o,
        &i,
        &PlanOptions {
            prune: true,
            prune_volumes: true,
            ..Default::default()
        },
    );
    assert_eq!(summary(&p), ["remove Service/old", "remove Volume/olddata"]);
}

#[test]
fn selector_includes_dependencies() {
    let d = desired(BASE);
    let p = plan(
        &d,
        &Observed::default(),
        &inputs(),
        &PlanOptions {
            selector: vec![("phase".into(), "core".into())],
            ..Default::default()
        },
    );
    assert_eq!(
        summary(&p),
        [
            "pull Image/redis:7",
            "pull Image/api:1",
            "create Network/net",
            "create Volume/data",
            "create Service/redis",
            "create Service/api"
        ]
    );
}

#[test]
fn missing_secrets_are_an_error_not_a_guess() {
    let d = desired(BASE);
    let mut i = inputs();
    i.secrets.clear();
    let p = run(&d, &Observed::default(), &i);
    assert_eq!(p.errors.len(), 1);
    assert!(p.errors[0]
        .to_string()
        .contains("lucidctl secrets generate"));
}

#[test]
fn secret_env_values_render_as_secret() {
    let d = desired(BASE);
    let spec = render_container(
        d.get(Kind::Service, "redis").unwrap(),
        &inputs(),
        &Observed::default(),
    )
    .unwrap()
    .unwrap();
    assert!(matches!(
        spec.env["REDIS_PASSWORD"],
        EnvValue::Secret { .. }
    ));
    assert!(!spec.labels.values().any(|v| v.contains("s3cret")));
}

#[test]
fn an_escaped_dollar_brace_reaches_the_container_as_a_literal() {
    // `$${VAR}` is the model's literal `${VAR}` (compose's `$${VAR}`): the
    // container's shell expands it, lucidctl never does.
    let text = format!(
        "{BASE}---\napiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {{name: pg}}\nspec:\n  image: redis:7\n  env: {{URL: \"http://$${{HOST}}/x\", PLAIN: \"$$5\"}}\n  command: [sh, -c, \"echo $${{HOME}}\"]\n  healthcheck: {{test: [CMD-SHELL, \"pg_isready -U $${{POSTGRES_USER}}\"]}}\n"
    );
    let d = desired(&text);
    let spec = render_container(
        d.get(Kind::Service, "pg").unwrap(),
        &inputs(),
        &Observed::default(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(spec.env["URL"], EnvValue::Plain("http://${HOST}/x".into()));
    assert_eq!(
        spec.env["PLAIN"],
        EnvValue::Plain("$$5".into()),
        "only $${{ is an escape"
    );
    assert_eq!(spec.command.unwrap()[2], "echo ${HOME}");
    assert_eq!(
        spec.healthcheck.unwrap().test[1],
        "pg_isready -U ${POSTGRES_USER}"
    );
}

#[test]
fn volume_driver_opts_are_created_and_a_difference_is_a_conflict_never_a_recreate() {
    let text = format!(
        "{BASE}---\napiVersion: lucid/v1alpha1\nkind: Volume\nmetadata: {{name: scratch}}\nspec: {{driverOpts: {{type: tmpfs, device: tmpfs, o: size=16m}}}}\n"
    );
    let d = desired(&text);
    let i = inputs();
    let mut o = converged(&d, &i);
    o.volumes.retain(|v| v.name != "scratch");
    let p = run(&d, &o, &i);
    let create = p
        .changes
        .iter()
        .find(|c| c.name == "scratch")
        .expect("scratch is created");
    let Target::Volume(v) = &create.target else {
        panic!("{create:?}");
    };
    assert_eq!(v.driver_opts.get("o").map(String::as_str), Some("size=16m"));
    assert!(
        v.labels.contains_key(crate::labels::SPEC_HASH),
        "the options are in the volume's hash"
    );
    let mut drifted = converged(&d, &i);
    for vol in drifted.volumes.iter_mut().filter(|v| v.name == "scratch") {
        vol.driver_opts = BTreeMap::from([
            ("type".into(), "tmpfs".into()),
            ("device".into(), "tmpfs".into()),
            ("o".into(), "size=8m".into()),
        ]);
    }
    let p = run(&d, &drifted, &i);
    assert!(
        p.changes.iter().all(|c| c.name != "scratch"),
        "{:?}",
        p.changes
    );
    let conflict = p
        .conflicts
        .iter()
        .find(|c| c.name == "scratch")
        .expect("a conflict");
    assert!(
        conflict.message.contains("size=8m") && conflict.message.contains("never recreated"),
        "{}",
        conflict.message
    );
    assert!(p.is_blocked());
}

const WATCHED: &str = r#"
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: app}
spec:
  image: 127.0.0.1:5000/app:latest
  pull: {policy: watch, interval: 1m}
"#;

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// Issue 21: a digest the registry serves that the engine's image did not
/// come from is an update: pulled first (its own stage), with both digests.
#[test]
fn a_moved_tag_is_an_image_update_pulled_before_anything_else() {
    let d = desired(WATCHED);
    let mut i = inputs();
    let mut o = converged(&d, &i);
    o.images.insert(
        "127.0.0.1:5000/app:latest".into(),
        ObservedImage {
            id: "sha256:old".into(),
            repo_digests: vec![format!("127.0.0.1:5000/app@{}", digest('a'))],
            ..Default::default()
        },
    );
    let o = converged_with(&d, &i, o);
    assert!(
        run(&d, &o, &i).is_empty(),
        "no registry answer: nothing to do"
    );
    i.registry_digests
        .insert("127.0.0.1:5000/app:latest".into(), digest('a'));
    assert!(run(&d, &o, &i).is_empty(), "the same digest: nothing to do");
    i.registry_digests
        .insert("127.0.0.1:5000/app:latest".into(), digest('b'));
    let p = run(&d, &o, &i);
    assert_eq!(summary(&p), ["pull Image/127.0.0.1:5000/app:latest"]);
    let reason = p.changes[0].reasons[0].to_string();
    assert_eq!(
        reason,
        "image update available: 127.0.0.1:5000/app:latest sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb"
    );
}

/// A pin freezes the tag: the container runs `repository@digest`, whatever the registry says.
#[test]
fn a_pin_runs_the_digest_and_ignores_the_registry() {
    let pinned = WATCHED.replace(
        "{policy: watch, interval: 1m}",
        &format!("{{policy: watch, pin: {}}}", digest('c')),
    );
    let d = desired(&pinned);
    let mut i = inputs();
    i.registry_digests
        .insert("127.0.0.1:5000/app:latest".into(), digest('d'));
    let p = run(&d, &Observed::default(), &i);
    let want = format!("127.0.0.1:5000/app@{}", digest('c'));
    assert_eq!(summary(&p)[0], format!("pull Image/{want}"));
    let Some(w) = d.resources[0].spec.workload() else {
        panic!()
    };
    assert_eq!(i.image_of(w), want);
}

/// The pull policy decides when to fetch, not what runs: adding one recreates nothing.
#[test]
fn adding_a_pull_policy_does_not_recreate_the_container() {
    let without = WATCHED.replace("  pull: {policy: watch, interval: 1m}\n", "");
    let i = inputs();
    let mut o = converged(&desired(&without), &i);
    o.images
        .insert("127.0.0.1:5000/app:latest".into(), ObservedImage::default());
    let o = converged_with(&desired(&without), &i, o);
    assert!(run(&desired(WATCHED), &o, &i).is_empty());
}

/// `converged`, with the images of `o` (the containers re-rendered against them).
fn converged_with(d: &DesiredState, inputs: &Inputs, mut o: Observed) -> Observed {
    o.containers.clear();
    for r in d.workloads() {
        let spec = render_container(r, inputs, &o).unwrap().unwrap();
        o.containers.push(as_running(&spec));
    }
    o
}

mod runtime_fields;

#[test]
fn a_service_in_a_profile_is_neither_created_nor_pruned_until_its_profile_is_named() {
    let debug = "---\napiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: debug, labels: {profile.debug: \"true\"}}\nspec:\n  image: api:1\n  networks: [{name: net}]\n";
    let d = desired(&format!("{BASE}{debug}"));
    let i = inputs();
    let without = desired(BASE);
    let everything_else = converged(&without, &i);
    let prune = PlanOptions {
        prune: true,
        ..Default::default()
    };
    assert!(
        summary(&plan(&d, &everything_else, &i, &prune)).is_empty(),
        "off by default: not created"
    );
    let mut with_debug = converged(&d, &i);
    with_debug.images = images();
    assert!(
        summary(&plan(&d, &with_debug, &i, &prune)).is_empty(),
        "started earlier with its profile: declared, so kept as it is"
    );
    let named = PlanOptions {
        selector: vec![("profile.debug".into(), "true".into())],
        ..Default::default()
    };
    assert_eq!(
        summary(&plan(&d, &everything_else, &i, &named)),
        ["create Service/debug"]
    );
}

/// A container this project does not manage on a guarded network is never
/// touched (no change names it) and is reported; this project's own
/// containers there are the plan's business, not intruders.
#[test]
fn an_unmanaged_container_on_an_isolated_network_is_reported_not_changed() {
    let d = desired(BASE);
    let i = inputs();
    let mut o = converged(&d, &i);
    let iso = i.network_name("iso");
    let net = o.networks.iter_mut().find(|n| n.name == iso).unwrap();
    net.containers = vec!["api".into(), "stranger".into()];
    // Members of a network no policy guards are nobody's concern here.
    let other = i.network_name("net");
    o.networks
        .iter_mut()
        .find(|n| n.name == other)
        .unwrap()
        .containers = vec!["passer-by".into()];
    let p = run(&d, &o, &i);
    assert!(p.is_empty(), "nothing to change: {:?}", summary(&p));
    assert_eq!(
        p.intruders,
        [Intruder {
            network: iso.clone(),
            container: "stranger".into()
        }]
    );
    let text = p.intruders[0].summary();
    assert!(
        text.contains(&format!("docker network disconnect {iso} stranger")),
        "{text}"
    );
}

#[test]
fn an_intruders_name_is_escaped_before_it_is_shown() {
    let i = Intruder {
        network: "iso".into(),
        container: "evil\u{1b}[2Jname".into(),
    };
    assert!(!i.summary().contains('\u{1b}'), "{}", i.summary());
}

/// A stopped container whose last start failed because the runtime still
/// holds its task is recreated, not started again (every start would fail);
/// any other start error is only a stopped container.
#[test]
fn a_stale_runtime_task_recreates_and_another_start_error_only_starts() {
    let d = desired(BASE);
    let i = inputs();
    let mut o = converged(&d, &i);
    let api = o.containers.iter_mut().find(|c| c.name == "api").unwrap();
    api.id = "0123456789abcdef0123".into();
    api.state = Some(RunState::Exited);
    api.start_error = Some("task 0123456789abcdef0123: already exists".into());
    let p = run(&d, &o, &i);
    assert_eq!(summary(&p), ["recreate Service/api"]);
    assert_eq!(p.changes[0].reasons, [Reason::StaleRuntimeTask]);
    let api = o.containers.iter_mut().find(|c| c.name == "api").unwrap();
    api.start_error = Some("OCI runtime create failed: no such file".into());
    let p = run(&d, &o, &i);
    assert_eq!(summary(&p), ["start Service/api"]);
    // Running again: the old error is history.
    let api = o.containers.iter_mut().find(|c| c.name == "api").unwrap();
    api.state = Some(RunState::Running);
    api.start_error = Some("task 0123456789abcdef0123: already exists".into());
    assert!(run(&d, &o, &i).is_empty());
}

/// Found by the chaos soak: the network was removed by hand while a member
/// was stopped and made again by the loop; the member still names the old
/// network's ID and Docker cannot start it, so it is recreated. The shim's
/// `file exists` is the same stuck task as `already exists`.
#[test]
fn a_stopped_container_on_a_network_made_again_is_recreated() {
    let d = desired(BASE);
    let i = inputs();
    let mut o = converged(&d, &i);
    let net = i.network_name("net");
    o.networks.iter_mut().find(|n| n.name == net).unwrap().id = "new-id".into();
    let api = o.containers.iter_mut().find(|c| c.name == "api").unwrap();
    api.config.networks.get_mut(&net).unwrap().network_id = Some("old-id".into());
    // Running, it cannot have happened (Docker keeps a network with active
    // endpoints); nothing is done on an ID alone.
    assert!(run(&d, &o, &i).is_empty());
    let api = o.containers.iter_mut().find(|c| c.name == "api").unwrap();
    api.state = Some(RunState::Exited);
    let p = run(&d, &o, &i);
    assert_eq!(summary(&p), ["recreate Service/api"]);
    assert_eq!(
        p.changes[0].reasons,
        [Reason::NetworkReplaced {
            network: net.clone()
        }]
    );
    // Removed and not made yet: made in this pass, so the start would fail too.
    let mut gone = o.clone();
    gone.networks.retain(|n| n.name != net);
    let p = run(&d, &gone, &i);
    assert!(
        p.changes.iter().any(|c| c.name == "api"
            && c.action == Action::Recreate
            && c.reasons
                == [Reason::NetworkReplaced {
                    network: net.clone()
                }]),
        "{:?}",
        summary(&p)
    );
    let api = o.containers.iter_mut().find(|c| c.name == "api").unwrap();
    api.config.networks.get_mut(&net).unwrap().network_id = Some("new-id".into());
    api.id = "c6d0f98e393b25f0".into();
    api.start_error = Some(
        "failed to start shim: mkdir /run/containerd/io.containerd.runtime.v2.task/moby/c6d0f98e393b25f0: file exists: unknown".into(),
    );
    let p = run(&d, &o, &i);
    assert_eq!(p.changes[0].reasons, [Reason::StaleRuntimeTask]);
}
