//! Desired state to Compose Specification stack files for `docker stack
//! deploy`: one per phase label (`docker-stack.<phase>.yml`) plus
//! `docker-stack.master.yml` with everything, with `deploy:` blocks (replicas,
//! placement, resources, restart and update policies) as `lucidctl apply
//! --target swarm` sets them. For people who hand the system to Swarm
//! themselves; what Swarm then does not do is listed in each file's header.

use crate::export::{escape_strings, phase_of, wrap, ExportedFile, PHASES};
use crate::text::relative;
use crate::yaml_out::to_yaml;
use desired_state::model::{Kind, MountSource, RestartPolicy, Rollout, Spec, WorkloadSpec};
use desired_state::{DesiredState, Resource};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The stack file format: the last numbered one docker 20.10's CLI knows.
pub const STACK_VERSION: &str = "3.8";

#[derive(Debug, Clone, Default)]
pub struct StackOptions {
    pub output_dir: PathBuf,
    /// Where the SecretSets' env files are, for `env_file:`.
    pub secrets_dir: PathBuf,
    /// The `-f` arguments as given, for the header.
    pub sources: Vec<String>,
    /// Prepended to the networks', volumes', configs' and secrets' names.
    pub name_prefix: String,
}

fn ms(d: &desired_state::model::DurationSpec) -> String {
    format!("{}ms", d.0.as_millis())
}

pub fn export_stack(state: &DesiredState, options: &StackOptions) -> Vec<ExportedFile> {
    let mut phases: Vec<String> = state
        .workloads()
        .filter_map(|r| phase_of(r).map(str::to_string))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rank = |p: &str| PHASES.iter().position(|x| *x == p).unwrap_or(PHASES.len());
    phases.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    let mut out = Vec::new();
    let mut extra = BTreeMap::new();
    for p in &phases {
        let members: Vec<&Resource> = state
            .workloads()
            .filter(|r| phase_of(r) == Some(p))
            .collect();
        let file = format!("docker-stack.{}.yml", crate::text::dns_label(p));
        out.push(render(
            state,
            options,
            &members,
            &format!("the services and jobs of phase {p:?}"),
            &file,
            &mut extra,
        ));
    }
    let all: Vec<&Resource> = state.workloads().collect();
    out.push(render(
        state,
        options,
        &all,
        "every service and job",
        "docker-stack.master.yml",
        &mut extra,
    ));
    out.extend(
        extra
            .into_iter()
            .map(|(path, content)| ExportedFile { path, content }),
    );
    out
}

fn render(
    state: &DesiredState,
    options: &StackOptions,
    members: &[&Resource],
    what: &str,
    file: &str,
    extra: &mut BTreeMap<PathBuf, String>,
) -> ExportedFile {
    let name = |n: &str| format!("{}{n}", options.name_prefix);
    let rel = |p: &Path| relative(&options.output_dir, p);
    let isolated: BTreeMap<&str, &Resource> = state
        .of_kind(Kind::IsolationPolicy)
        .filter_map(|r| match &r.spec {
            Spec::IsolationPolicy(p) => Some((p.network.as_str(), r)),
            _ => None,
        })
        .collect();
    let mut services = Map::new();
    let mut networks = BTreeSet::new();
    let mut volumes = BTreeSet::new();
    let mut configs = BTreeSet::new();
    let mut jobs = Vec::new();
    let mut secret_files = Vec::new();
    for r in members {
        let Some(w) = r.spec.workload() else { continue };
        if r.kind() == Kind::Job {
            jobs.push(r.name().to_string());
        }
        if !w.secret_files.is_empty() {
            secret_files.push(r.name().to_string());
        }
        services.insert(
            r.name().to_string(),
            service(state, options, r, w, &rel, &mut configs),
        );
        networks.extend(w.networks.iter().map(|n| n.name.clone()));
        for m in &w.mounts {
            if let Some(MountSource::Volume(v)) = m.source() {
                volumes.insert(v.to_string());
            }
        }
    }
    let mut doc = Map::new();
    doc.insert("version".into(), json!(STACK_VERSION));
    doc.insert("services".into(), Value::Object(services));
    let mut nets = Map::new();
    for n in &networks {
        let Some(Spec::Network(spec)) = state.get(Kind::Network, n).map(|r| &r.spec) else {
            continue;
        };
        let mut m = Map::new();
        if spec.external {
            m.insert("name".into(), json!(spec.name.as_deref().unwrap_or(n)));
            m.insert("external".into(), json!(true));
        } else {
            m.insert("name".into(), json!(name(n)));
            m.insert("driver".into(), json!("overlay"));
            m.insert("attachable".into(), json!(true));
            if spec.internal {
                m.insert("internal".into(), json!(true));
            }
            if isolated.contains_key(n.as_str()) {
                m.insert("driver_opts".into(), json!({"encrypted": ""}));
            }
            if let Some(s) = &spec.subnet {
                m.insert(
                    "ipam".into(),
                    json!({"config": [{"subnet": s.to_string()}]}),
                );
            }
        }
        nets.insert(n.clone(), Value::Object(m));
    }
    if !nets.is_empty() {
        doc.insert("networks".into(), Value::Object(nets));
    }
    let mut vols = Map::new();
    for v in &volumes {
        let Some(Spec::Volume(spec)) = state.get(Kind::Volume, v).map(|r| &r.spec) else {
            continue;
        };
        let mut m = Map::new();
        if spec.external {
            m.insert("name".into(), json!(spec.name.as_deref().unwrap_or(v)));
            m.insert("external".into(), json!(true));
        } else {
            m.insert("name".into(), json!(name(v)));
        }
        vols.insert(v.clone(), Value::Object(m));
    }
    if !vols.is_empty() {
        doc.insert("volumes".into(), Value::Object(vols));
    }
    let mut cfgs = Map::new();
    for c in &configs {
        let Some(r) = state.get(Kind::ConfigFile, c) else {
            continue;
        };
        let Spec::ConfigFile(cf) = &r.spec else {
            continue;
        };
        let source = match (&cf.file, &cf.content) {
            (Some(f), _) => rel(&r.origin.base_dir("/spec/file").join(f)),
            (None, Some(text)) => {
                extra.insert(PathBuf::from("configs").join(c), text.clone());
                format!("./configs/{c}")
            }
            (None, None) => continue,
        };
        cfgs.insert(c.clone(), json!({"name": name(c), "file": source}));
    }
    let has_configs = !cfgs.is_empty();
    if has_configs {
        doc.insert("configs".into(), Value::Object(cfgs));
    }
    let mut doc = Value::Object(doc);
    escape_strings(&mut doc);
    let mut h = String::new();
    h.push_str(&format!(
        "# Generated by `lucidctl export stack` from {}: {what}.\n",
        if options.sources.is_empty() {
            "the desired state".to_string()
        } else {
            options.sources.join(", ")
        }
    ));
    h.push_str(&format!(
        "# Deploy with `docker stack deploy -c {file} <stack>` on a swarm manager.\n"
    ));
    h.push_str("# What this file loses against `lucidctl apply --target swarm`:\n");
    wrap(&mut h, "dependency order: `docker stack deploy` starts every service at once and ignores depends_on (moby/moby#40364); lucidctl starts them in waves, each gated on the health of every task before it.");
    if !isolated.is_empty() {
        let nets: Vec<&str> = isolated.keys().copied().collect();
        wrap(&mut h, &format!("isolation enforcement: nothing stops another service from joining {}; lucidctl reports such a task as a policy violation and corrects its spec.", nets.join(", ")));
    }
    if has_configs {
        wrap(&mut h, "config rotation: a swarm config cannot be updated in place (moby/moby#33808), so a changed file fails the deploy until the config is renamed; lucidctl names configs by content hash and removes the old ones.");
    }
    if !jobs.is_empty() {
        wrap(&mut h, &format!("Jobs ({}) run as one-replica services that are not restarted (restart_policy none); nothing waits for them to complete.", jobs.join(", ")));
    }
    if !secret_files.is_empty() {
        wrap(
            &mut h,
            &format!(
                "secretFiles of {} are left out: create the swarm secrets by hand and add them.",
                secret_files.join(", ")
            ),
        );
    }
    wrap(&mut h, "held failed revisions: Swarm rolls a failed update back, but the next deploy tries the same revision again.");
    ExportedFile {
        path: PathBuf::from(file),
        content: format!("{h}\n{}", to_yaml(&doc)),
    }
}

fn service(
    state: &DesiredState,
    options: &StackOptions,
    r: &Resource,
    w: &WorkloadSpec,
    rel: &dyn Fn(&Path) -> String,
    configs: &mut BTreeSet<String>,
) -> Value {
    let mut s = Map::new();
    s.insert("image".into(), json!(w.image.as_str()));
    if let Some(e) = &w.entrypoint {
        s.insert("entrypoint".into(), json!(e));
    }
    if let Some(c) = &w.command {
        s.insert("command".into(), json!(c));
    }
    if let Some(u) = &w.user {
        s.insert("user".into(), json!(u));
    }
    if let Some(d) = &w.working_dir {
        s.insert("working_dir".into(), json!(d));
    }
    if !w.env.is_empty() {
        s.insert("environment".into(), json!(w.env));
    }
    let env_files: Vec<String> = w
        .env_from
        .iter()
        .filter_map(
            |e| match state.get(Kind::SecretSet, &e.secret_set).map(|r| &r.spec) {
                Some(Spec::SecretSet(set)) => Some(rel(&options.secrets_dir.join(&set.file))),
                _ => None,
            },
        )
        .collect();
    if !env_files.is_empty() {
        s.insert("env_file".into(), json!(env_files));
    }
    let ports: Vec<Value> = w
        .ports
        .iter()
        .filter_map(|p| {
            let published = p.host_port?;
            let mut m = Map::new();
            m.insert("target".into(), json!(p.container_port));
            if published != 0 {
                m.insert("published".into(), json!(published));
            }
            m.insert("protocol".into(), json!(p.protocol.as_str()));
            m.insert("mode".into(), json!("ingress"));
            Some(Value::Object(m))
        })
        .collect();
    if !ports.is_empty() {
        s.insert("ports".into(), json!(ports));
    }
    if !w.networks.is_empty() {
        let mut nets = Map::new();
        for n in &w.networks {
            let v = if n.aliases.is_empty() {
                Value::Null
            } else {
                json!({"aliases": n.aliases})
            };
            nets.insert(n.name.clone(), v);
        }
        s.insert("networks".into(), Value::Object(nets));
    }
    let mut vols = Vec::new();
    let mut cfgs = Vec::new();
    for m in &w.mounts {
        match m.source() {
            Some(MountSource::Volume(v)) => vols.push(json!({"type": "volume", "source": v, "target": m.target, "read_only": m.read_only})),
            Some(MountSource::Bind(b)) => vols.push(json!({"type": "bind", "source": b, "target": m.target, "read_only": m.read_only})),
            Some(MountSource::Anonymous) => vols.push(json!({"type": "volume", "target": m.target})),
            Some(MountSource::ConfigFile(c)) => {
                configs.insert(c.to_string());
                let mode = match state.get(Kind::ConfigFile, c).map(|r| &r.spec) {
                    Some(Spec::ConfigFile(cf)) => cf.mode.map(|m| m.0).unwrap_or(0o644),
                    _ => 0o644,
                };
                cfgs.push(json!({"source": c, "target": m.target, "mode": mode}));
            }
            None => {}
        }
    }
    if !vols.is_empty() {
        s.insert("volumes".into(), json!(vols));
    }
    if !cfgs.is_empty() {
        s.insert("configs".into(), json!(cfgs));
    }
    if let Some(h) = &w.healthcheck {
        let mut m = Map::new();
        if h.test.first().map(String::as_str) == Some("NONE") {
            m.insert("disable".into(), json!(true));
        } else {
            m.insert("test".into(), json!(h.test));
        }
        if let Some(d) = &h.interval {
            m.insert("interval".into(), json!(ms(d)));
        }
        if let Some(d) = &h.timeout {
            m.insert("timeout".into(), json!(ms(d)));
        }
        if let Some(n) = h.retries {
            m.insert("retries".into(), json!(n));
        }
        if let Some(d) = &h.start_period {
            m.insert("start_period".into(), json!(ms(d)));
        }
        s.insert("healthcheck".into(), Value::Object(m));
    }
    let mut deploy = Map::new();
    let job = r.kind() == Kind::Job;
    deploy.insert(
        "replicas".into(),
        json!(if job { 1 } else { w.replicas.unwrap_or(1) }),
    );
    if let Some(p) = &w.placement {
        let mut m = Map::new();
        if !p.constraints.is_empty() {
            m.insert("constraints".into(), json!(p.constraints));
        }
        if let Some(n) = p.max_replicas_per_node {
            m.insert("max_replicas_per_node".into(), json!(n));
        }
        if !m.is_empty() {
            deploy.insert("placement".into(), Value::Object(m));
        }
    }
    if let Some(res) = &w.resources {
        let mut limits = Map::new();
        if let Some(c) = res.cpus {
            limits.insert("cpus".into(), json!(format!("{c}")));
        }
        if let Some(m) = &res.memory {
            limits.insert("memory".into(), json!(m.0.to_string()));
        }
        if !limits.is_empty() {
            deploy.insert("resources".into(), json!({"limits": limits}));
        }
    }
    let condition = match (job, w.restart) {
        (true, _) | (_, Some(RestartPolicy::No)) => "none",
        (_, Some(RestartPolicy::OnFailure)) => "on-failure",
        _ => "any",
    };
    deploy.insert("restart_policy".into(), json!({"condition": condition}));
    if !job {
        let order = if w.rollout == Some(Rollout::StopFirst) {
            "stop-first"
        } else {
            "start-first"
        };
        deploy.insert(
            "update_config".into(),
            json!({"parallelism": 1, "order": order, "failure_action": "rollback"}),
        );
        deploy.insert(
            "rollback_config".into(),
            json!({"parallelism": 1, "order": order}),
        );
    }
    s.insert("deploy".into(), Value::Object(deploy));
    Value::Object(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use desired_state::{load_sources, Source};

    #[test]
    fn a_stack_file_per_phase_with_deploy_blocks_and_what_it_loses() {
        let text = r#"
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: iso}
spec: {internal: true}
---
apiVersion: lucid/v1alpha1
kind: IsolationPolicy
metadata: {name: p}
spec: {network: iso, members: [db]}
---
apiVersion: lucid/v1alpha1
kind: ConfigFile
metadata: {name: conf}
spec: {content: "x"}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: db, labels: {phase: foundation}}
spec:
  image: db:1
  replicas: 2
  placement: {constraints: ["node.role == manager"]}
  networks: [{name: iso, aliases: [database]}]
  mounts: [{configFile: conf, target: /etc/db.conf}]
  ports: [{containerPort: 5432, hostPort: 15432}]
---
apiVersion: lucid/v1alpha1
kind: Job
metadata: {name: seed, labels: {phase: core}}
spec: {image: db:1, dependsOn: [{name: db, condition: healthy}]}
"#;
        let loaded = load_sources(
            &[Source {
                group: 0,
                file: PathBuf::from("t.yaml"),
                text: text.into(),
            }],
            PathBuf::from("/x"),
        );
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let files = export_stack(
            &loaded.state,
            &StackOptions {
                output_dir: "/out".into(),
                name_prefix: "p-".into(),
                ..Default::default()
            },
        );
        let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
        assert_eq!(
            names,
            [
                "docker-stack.foundation.yml",
                "docker-stack.core.yml",
                "docker-stack.master.yml",
                "configs/conf"
            ]
        );
        let foundation = &files[0].content;
        assert!(foundation.contains("moby/moby#40364"), "{foundation}");
        assert!(foundation.contains("isolation enforcement"), "{foundation}");
        assert!(foundation.contains("replicas: 2"), "{foundation}");
        assert!(
            foundation.contains("failure_action: rollback"),
            "{foundation}"
        );
        assert!(foundation.contains("encrypted"), "{foundation}");
        assert!(foundation.contains("driver: overlay"), "{foundation}");
        assert!(foundation.contains("published: 15432"), "{foundation}");
        assert!(!foundation.contains("container_name"), "{foundation}");
        let core = &files[1].content;
        assert!(
            core.contains("condition: none") && core.contains("Jobs (seed)"),
            "{core}"
        );
    }
}
