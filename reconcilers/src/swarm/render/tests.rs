//! The pure swarm path: files -> SwarmDesired -> plan, with no engine.

use super::*;
use crate::render::{EnvValue, SecretValue};
use crate::swarm::plan::{failed_marker, plan, SwarmAction, SwarmPlanOptions};
use crate::swarm::view;
use desired_state::{load_sources, Source};
use std::path::PathBuf;

pub(crate) const SYSTEM: &str = r#"
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: net}
spec: {}
---
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: iso}
spec: {internal: true}
---
apiVersion: lucid/v1alpha1
kind: IsolationPolicy
metadata: {name: policy}
spec: {network: iso, members: [db, migrate], bridges: []}
---
apiVersion: lucid/v1alpha1
kind: ConfigFile
metadata: {name: conf}
spec: {content: "x\n"}
---
apiVersion: lucid/v1alpha1
kind: SecretSet
metadata: {name: tls}
spec: {file: .env.tls, generate: [{key: KEY, bytes: 8}]}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: db}
spec:
  image: db:1
  networks: [{name: iso}]
  secretFiles: [{secretSet: tls, target: /run/secrets}]
  healthcheck: {test: [CMD, probe], interval: 2s, retries: 5, startPeriod: 1s}
---
apiVersion: lucid/v1alpha1
kind: Job
metadata: {name: migrate}
spec:
  image: db:1
  networks: [{name: iso}]
  dependsOn: [{name: db, condition: healthy}]
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: web}
spec:
  image: web:1
  replicas: 3
  placement: {constraints: ["node.labels.edge == true"], platforms: [linux/arm64], maxReplicasPerNode: 2}
  rollout: stopFirst
  logging: {driver: json-file, options: {max-size: 10m}}
  env: {MODE: prod}
  ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 9000}]
  networks: [{name: net, aliases: [www]}]
  mounts: [{configFile: conf, target: /etc/web.conf}]
  dependsOn: [{name: migrate, condition: completed}]
"#;

pub(crate) fn state() -> DesiredState {
    let loaded = load_sources(
        &[Source {
            group: 0,
            file: PathBuf::from("t.yaml"),
            text: SYSTEM.to_string(),
        }],
        PathBuf::from("/x"),
    );
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    loaded.state
}

pub(crate) fn inputs(secret: &str, config_hash: &str) -> Inputs {
    Inputs {
        project: "t".into(),
        name_prefix: "p-".into(),
        config_hashes: BTreeMap::from([("conf".into(), config_hash.into())]),
        secrets: BTreeMap::from([(
            "tls".into(),
            BTreeMap::from([("KEY".into(), SecretValue::new(secret))]),
        )]),
        ..Inputs::default()
    }
}

pub(crate) fn configs() -> BTreeMap<String, FileContent> {
    BTreeMap::from([(
        "conf".into(),
        FileContent {
            bytes: b"x\n".to_vec(),
            mode: 0o640,
        },
    )])
}

pub(crate) fn desired(secret: &str, config_hash: &str) -> SwarmDesired {
    render(
        &state(),
        &inputs(secret, config_hash),
        &BTreeMap::new(),
        &configs(),
    )
    .unwrap()
}

fn service<'a>(d: &'a SwarmDesired, name: &str) -> &'a SwarmService {
    d.services.iter().find(|s| s.resource == name).unwrap()
}

/// The swarm as it would be right after applying `d`: every service at its hash.
pub(crate) fn applied(d: &SwarmDesired) -> ObservedSwarm {
    ObservedSwarm {
        services: d
            .services
            .iter()
            .map(|s| ObservedService {
                id: format!("id-{}", s.name),
                name: s.name.clone(),
                version: 1,
                labels: s.labels.clone(),
                view: view::view(s),
                is_job: s.kind == Kind::Job,
                networks: s.networks.iter().map(|n| n.network.clone()).collect(),
                tasks: vec![ObservedTask {
                    desired_state: if s.kind == Kind::Job {
                        "complete"
                    } else {
                        "running"
                    }
                    .into(),
                    state: if s.kind == Kind::Job {
                        "complete"
                    } else {
                        "running"
                    }
                    .into(),
                    hash: Some(s.hash.clone()),
                    ..ObservedTask::default()
                }],
                ..ObservedService::default()
            })
            .collect(),
        networks: d
            .networks
            .iter()
            .map(|n| crate::observed::ObservedNetwork {
                name: n.name.clone(),
                labels: n.labels.clone(),
                driver: "overlay".into(),
                ..Default::default()
            })
            .collect(),
        configs: d
            .data
            .iter()
            .filter(|x| x.kind == FileKind::Config)
            .map(|x| SwarmObject {
                id: x.name.clone(),
                name: x.name.clone(),
                labels: x.labels.clone(),
            })
            .collect(),
        secrets: d
            .data
            .iter()
            .filter(|x| x.kind == FileKind::Secret)
            .map(|x| SwarmObject {
                id: x.name.clone(),
                name: x.name.clone(),
                labels: x.labels.clone(),
            })
            .collect(),
        images: BTreeMap::new(),
    }
}

#[test]
fn services_get_replicas_placement_and_update_policy() {
    let d = desired("s3cret", "c1");
    let web = service(&d, "web");
    assert_eq!(web.name, "p-web");
    assert_eq!(web.replicas, 3);
    assert_eq!(web.placement.max_replicas_per_node, Some(2));
    assert!(!web.update.start_first, "rollout stopFirst");
    assert_eq!(
        web.update.monitor,
        Duration::from_secs(5),
        "no healthcheck: the minimum"
    );
    // Only published ports reach the swarm: the overlay reaches the rest.
    assert_eq!(web.ports.len(), 1);
    assert_eq!((web.ports[0].target, web.ports[0].published), (80, 8080));
    assert_eq!(web.files[0].object, "p-conf-c1");
    assert_eq!(web.files[0].mode, 0o640);
    let db = service(&d, "db");
    assert!(db.update.start_first, "start-first by default");
    assert_eq!(
        db.update.monitor,
        Duration::from_secs(11),
        "interval x retries + start period"
    );
    assert_eq!(db.replicas, 1, "default 1");
    let migrate = service(&d, "migrate");
    assert_eq!(migrate.kind, Kind::Job);
    assert_eq!(d.services.len(), 3);
}

#[test]
fn the_isolated_network_is_encrypted_and_secrets_are_files_named_by_content() {
    let d = desired("s3cret", "c1");
    let iso = d.networks.iter().find(|n| n.resource == "iso").unwrap();
    assert!(iso.encrypted && iso.internal);
    assert!(
        !d.networks
            .iter()
            .find(|n| n.resource == "net")
            .unwrap()
            .encrypted
    );
    let db = service(&d, "db");
    let secret = db
        .files
        .iter()
        .find(|f| f.kind == FileKind::Secret)
        .unwrap();
    assert_eq!(secret.target, "/run/secrets/KEY");
    assert_eq!(secret.mode, 0o400);
    let data = d.data.iter().find(|x| x.name == secret.object).unwrap();
    assert_eq!(data.bytes, b"s3cret");
    assert!(!format!("{:?}", d.services).contains("s3cret"));
    // Another value: another object, another service hash.
    let d2 = desired("other", "c1");
    let db2 = service(&d2, "db");
    assert_ne!(db2.files[0].object, secret.object);
    assert_ne!(db2.hash, db.hash);
}

#[test]
fn a_view_never_holds_an_env_value() {
    let mut d = desired("s3cret", "c1");
    let web = d.services.iter_mut().find(|s| s.resource == "web").unwrap();
    web.env.insert(
        "TOKEN".into(),
        EnvValue::Secret {
            set: "tls".into(),
            value: SecretValue::new("hunter2"),
        },
    );
    let v = view::view(web);
    assert!(!format!("{v:?}").contains("hunter2"));
    assert!(!format!("{v:?}").contains("prod"));
    let changes = view::diff(&v, &BTreeMap::new(), &web.env);
    let token = changes.iter().find(|c| c.path == "env.TOKEN").unwrap();
    assert_eq!(token.to, "(sensitive)");
    let mode = changes.iter().find(|c| c.path == "env.MODE").unwrap();
    assert_eq!(mode.to, "\"prod\"");
}

#[test]
fn converged_swarm_plans_nothing_and_a_new_config_rolls_its_service() {
    let st = state();
    let d = desired("s3cret", "c1");
    let observed = applied(&d);
    let p = plan(&st, &d, &observed, "t", SwarmPlanOptions::default());
    assert!(p.is_empty(), "{p:#?}");

    let d2 = desired("s3cret", "c2");
    let p = plan(&st, &d2, &observed, "t", SwarmPlanOptions::default());
    let web = p.change("p-web").unwrap();
    assert_eq!(web.action, SwarmAction::Update);
    assert_eq!(
        web.reasons,
        vec![crate::plan::Reason::ConfigFileChanged {
            name: "conf".into()
        }]
    );
    assert_eq!(web.fields[0].path, "configs./etc/web.conf");
    assert_eq!(p.change("p-conf-c2").unwrap().action, SwarmAction::Create);
    assert_eq!(p.change("p-conf-c1").unwrap().action, SwarmAction::Remove);
    assert!(p.change("p-db").is_none(), "{p:#?}");
}

#[test]
fn drift_by_hand_is_a_manual_change_and_a_non_member_on_the_isolated_network_a_violation() {
    let st = state();
    let d = desired("s3cret", "c1");
    let mut observed = applied(&d);
    let web = observed
        .services
        .iter_mut()
        .find(|s| s.name == "p-web")
        .unwrap();
    web.view.insert("replicas".into(), "5".into());
    web.view.insert("networks.p-iso".into(), "[]".into());
    web.networks.push("p-iso".into());
    // Swarm fills defaults in by itself: never a change.
    web.view
        .insert("stopGracePeriod".into(), "10000000000".into());
    observed.services.retain(|s| s.name != "p-db");
    let p = plan(&st, &d, &observed, "t", SwarmPlanOptions::default());
    assert_eq!(p.change("p-db").unwrap().action, SwarmAction::Create);
    let web = p.change("p-web").unwrap();
    assert_eq!(web.action, SwarmAction::Update);
    assert!(web.reasons.contains(&crate::plan::Reason::ManualChange));
    assert!(web
        .reasons
        .contains(&crate::plan::Reason::NetworkNotDeclared {
            network: "p-iso".into(),
            policy_violation: true
        }));
    assert_eq!(web.fields.len(), 2, "{:?}", web.fields);
    assert_eq!(p.violations.len(), 1);
    assert!(p.violations[0].contains("p-web") && p.violations[0].contains("corrected"));
}

#[test]
fn a_held_revision_is_not_retried_and_its_marker_stays() {
    let st = state();
    let d = desired("s3cret", "c1");
    let old = desired("s3cret", "c0");
    let mut observed = applied(&old);
    observed.configs.retain(|c| c.name != "p-conf-c0");
    let web = service(&d, "web");
    let marker = failed_marker("t", &web.name, &web.hash, "rollback completed");
    observed.configs.push(SwarmObject {
        id: marker.name.clone(),
        name: marker.name.clone(),
        labels: marker.labels.clone(),
    });
    let p = plan(&st, &d, &observed, "t", SwarmPlanOptions::default());
    assert_eq!(p.change("p-web").unwrap().action, SwarmAction::Held);
    assert!(p.change(&marker.name).is_none(), "the marker stays: {p:#?}");
    let retry = SwarmPlanOptions {
        retry_failed: true,
        ..SwarmPlanOptions::default()
    };
    let p = plan(&st, &d, &observed, "t", retry);
    assert_eq!(p.change("p-web").unwrap().action, SwarmAction::Update);
}

#[test]
fn a_failed_job_runs_again_and_unowned_services_are_conflicts() {
    let st = state();
    let d = desired("s3cret", "c1");
    let mut observed = applied(&d);
    let job = observed
        .services
        .iter_mut()
        .find(|s| s.name == "p-migrate")
        .unwrap();
    job.tasks[0].state = "failed".into();
    job.tasks[0].exit_code = Some(3);
    let db = observed
        .services
        .iter_mut()
        .find(|s| s.name == "p-db")
        .unwrap();
    db.labels.clear();
    let p = plan(&st, &d, &observed, "t", SwarmPlanOptions::default());
    let run = p.change("p-migrate").unwrap();
    assert_eq!(run.action, SwarmAction::Run);
    assert_eq!(
        run.reasons,
        vec![crate::plan::Reason::JobFailed { exit_code: 3 }]
    );
    assert_eq!(p.conflicts.len(), 1, "{p:#?}");
    assert!(p.change("p-db").is_none(), "not lucidctl's: left alone");
}
