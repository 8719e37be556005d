//! Desired state to stack files for `docker stack deploy`: the compose
//! export's services, made into Swarm services with `deploy:` blocks.
//!
//! One file per phase (`docker-stack.<phase>.yml`, deployed in phase order
//! under one stack name) plus `docker-stack.yml` with everything, or one file
//! for a selector. Swarm names services `<stack>_<key>`; networks, volumes
//! and configs keep the lucidctl names through `name:`, so every phase file
//! joins the same networks. A ConfigFile becomes a Swarm config whose name
//! ends in a hash of its content: a change is a new config and a rolling
//! update, since a Swarm config cannot change in place.
//!
//! What Swarm does not do (dependency order inside a file, health-gated
//! waves, isolation enforcement, held revisions, builds) is listed in each
//! file's header, with every field a service loses.

use super::{escape_strings, para, wrap, Ctx, ExportOptions, ExportedFile, Group, Notes};
use crate::yaml_out::to_yaml;
use desired_state::model::{Kind, MountSource, RestartPolicy, Spec, WorkloadSpec};
use desired_state::{DesiredState, Resource};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The stack file format: compose file 3.9, which `docker stack deploy`
/// reads from Docker 20.10 on.
pub const STACK_VERSION: &str = "3.9";

/// Fields of the compose export that Swarm ignores or refuses; each one a
/// service carries is named in the header.
const DROPPED: [(&str, &str); 8] = [
    ("container_name", "Swarm names tasks itself"),
    (
        "build",
        "Swarm does not build: push the image to a registry every node reaches",
    ),
    ("depends_on", "no start order in a stack"),
    ("privileged", "Swarm cannot run privileged tasks"),
    ("security_opt", "not supported by Swarm"),
    ("devices", "not supported by Swarm"),
    ("pid", "not supported by Swarm"),
    ("network_mode", "Swarm services join overlay networks only"),
];

/// Renders the stack files; pure apart from what the compose export reads
/// (Dockerfiles, to learn the images built FROM others).
pub fn export_stack(state: &DesiredState, options: &ExportOptions) -> Vec<ExportedFile> {
    let name = |group: &mut Group| {
        group.file = group
            .file
            .replace("docker-compose.master.yml", "docker-stack.yml")
            .replace("docker-compose.", "docker-stack.");
    };
    super::export_groups(state, options, name, render)
}

/// What one file loses, for its header.
#[derive(Default)]
struct Lost {
    /// Service to the fields it loses, with why.
    fields: BTreeMap<String, Vec<String>>,
    /// `service -> dependency` edges that Swarm will not wait for.
    order: Vec<String>,
    built: BTreeSet<String>,
    secret_files: BTreeSet<String>,
    binds: BTreeSet<String>,
}

fn render(ctx: &Ctx<'_>, group: &Group) -> (String, BTreeMap<PathBuf, String>) {
    let state = ctx.state;
    let members: Vec<&Resource> = group.members.iter().map(|i| &state.resources[*i]).collect();
    let in_file: BTreeSet<&str> = members.iter().map(|r| r.name()).collect();
    let mut files: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut notes = Notes::default();
    let mut lost = Lost::default();
    let mut services = Map::new();
    let mut networks: BTreeSet<&str> = BTreeSet::new();
    let mut volumes: BTreeSet<&str> = BTreeSet::new();
    let mut configs = Map::new();
    for r in &members {
        let w = r.spec.workload().expect("workload");
        let Value::Object(compose) = ctx.service(r, w, &in_file, &mut files, &mut notes) else {
            continue;
        };
        let s = stack_service(ctx, r, w, compose, &mut configs, &mut files, &mut lost);
        services.insert(r.name().to_string(), Value::Object(s));
        if w.network_mode.is_none() {
            networks.extend(w.networks.iter().map(|n| n.name.as_str()));
        }
        for m in &w.mounts {
            if let Some(MountSource::Volume(v)) = m.source() {
                volumes.insert(v);
            }
        }
    }
    lost.built = notes.built.clone();
    let mut doc = Map::new();
    doc.insert("version".into(), json!(STACK_VERSION));
    doc.insert("services".into(), Value::Object(services));
    let nets = overlay_networks(ctx, &networks);
    if !nets.is_empty() {
        doc.insert("networks".into(), Value::Object(nets));
    }
    let vols = node_volumes(ctx, &volumes);
    if !vols.is_empty() {
        doc.insert("volumes".into(), Value::Object(vols));
    }
    if !configs.is_empty() {
        doc.insert("configs".into(), Value::Object(configs));
    }
    let mut doc = Value::Object(doc);
    escape_strings(&mut doc);
    let header = header(ctx, group, &members, &lost);
    (format!("{header}\n{}", to_yaml(&doc)), files)
}

/// The compose service made a Swarm service: fields Swarm ignores removed
/// (and listed), limits and restart policy moved under `deploy:`, config
/// files made Swarm configs.
fn stack_service(
    ctx: &Ctx<'_>,
    r: &Resource,
    w: &WorkloadSpec,
    mut s: Map<String, Value>,
    configs: &mut Map<String, Value>,
    files: &mut BTreeMap<PathBuf, String>,
    lost: &mut Lost,
) -> Map<String, Value> {
    let name = r.name().to_string();
    let mut gone = Vec::new();
    for (field, why) in DROPPED {
        let Some(v) = s.remove(field) else { continue };
        let silent = matches!(field, "build" | "container_name" | "depends_on")
            // Swarm attaches a service without networks to the stack's default overlay.
            || (field == "network_mode" && v == json!("bridge"));
        if !silent {
            gone.push(format!("{field} ({why})"));
        }
    }
    lost.order.extend(
        w.depends_on
            .iter()
            .map(|d| format!("{name} after {}", d.name)),
    );
    if let Some(Value::Object(nets)) = s.get_mut("networks") {
        for (net, attachment) in nets.iter_mut() {
            if let Value::Object(a) = attachment {
                if a.remove("ipv4_address").is_some() {
                    gone.push(format!(
                        "ipv4_address on {net} (Swarm assigns task addresses)"
                    ));
                }
            }
        }
    }
    if let Some(Value::Array(ports)) = s.get_mut("ports") {
        for p in ports.iter_mut() {
            let Some(text) = p.as_str() else { continue };
            // `IP:HOST:CONTAINER`: Swarm has no host IP and publishes on every interface.
            let parts: Vec<&str> = text.rsplitn(3, ':').collect();
            if parts.len() == 3 {
                let ip = parts[2].trim_matches(['[', ']']);
                gone.push(format!(
                    "the host IP {ip} of port {}:{} (Swarm publishes on every interface of every node)",
                    parts[1], parts[0]
                ));
                *p = json!(format!("{}:{}", parts[1], parts[0]));
            }
        }
    }
    if !w.secret_files.is_empty() {
        lost.secret_files.insert(name.clone());
        gone.push("secretFiles (create Swarm secrets from the SecretSet by hand)".into());
    }
    let mut deploy = Map::new();
    let mut placement = Map::new();
    let mut constraints: Vec<String> = Vec::new();
    if let Some(p) = &w.placement {
        constraints.extend(p.constraints.iter().cloned());
        // Constraints are all ANDed: one platform can be said, a choice cannot.
        match p.platforms.as_slice() {
            [one] => constraints.extend(placement_for_platform(one)),
            [] => {}
            many => gone.push(format!(
                "placement.platforms {} (a stack can pin one platform, not a choice)",
                many.join(", ")
            )),
        }
        if let Some(n) = p.max_replicas_per_node {
            placement.insert("max_replicas_per_node".into(), json!(n));
        }
    }
    if let Some(p) = s
        .remove("platform")
        .and_then(|p| p.as_str().map(str::to_string))
    {
        for c in placement_for_platform(&p) {
            if !constraints.contains(&c) {
                constraints.push(c);
            }
        }
    }
    if !constraints.is_empty() {
        placement.insert("constraints".into(), json!(constraints));
    }
    if !placement.is_empty() {
        deploy.insert("placement".into(), Value::Object(placement));
    }
    let mut limits = Map::new();
    if let Some(m) = s.remove("mem_limit") {
        limits.insert("memory".into(), m);
    }
    if let Some(c) = s.remove("cpus") {
        limits.insert("cpus".into(), json!(c.to_string().trim_matches('"')));
    }
    if let Some(p) = s.remove("pids_limit") {
        limits.insert("pids".into(), p);
    }
    if !limits.is_empty() {
        deploy.insert("resources".into(), json!({ "limits": limits }));
    }
    s.remove("restart");
    let job = r.kind() == Kind::Job;
    if job {
        deploy.insert("mode".into(), json!("replicated-job"));
        deploy.insert(
            "restart_policy".into(),
            json!({"condition": "on-failure", "max_attempts": 3}),
        );
    } else {
        deploy.insert("replicas".into(), json!(w.replicas.unwrap_or(1)));
        // A virtual IP needs IPVS in the kernel, which not every Pi kernel
        // has; DNS round robin needs nothing, but cannot serve the ingress.
        if !s.contains_key("ports") {
            deploy.insert("endpoint_mode".into(), json!("dnsrr"));
        }
        let condition = match w.restart {
            Some(RestartPolicy::No) => "none",
            Some(RestartPolicy::OnFailure) => "on-failure",
            _ => "any",
        };
        deploy.insert("restart_policy".into(), json!({ "condition": condition }));
        let update = update_config(w);
        deploy.insert("update_config".into(), update.clone());
        deploy.insert("rollback_config".into(), rollback_config(&update));
    }
    // Mounts again, from the model: ConfigFiles are Swarm configs, not binds.
    let mut mounts = Vec::new();
    let mut service_configs = Vec::new();
    for m in &w.mounts {
        let ro = if m.read_only { ":ro" } else { "" };
        match m.source() {
            Some(MountSource::Volume(v)) => mounts.push(json!(format!("{v}:{}{ro}", m.target))),
            Some(MountSource::Anonymous) => mounts.push(json!(m.target)),
            Some(MountSource::Bind(b)) => {
                lost.binds.insert(name.clone());
                mounts.push(json!(format!("{b}:{}{ro}", m.target)));
            }
            Some(MountSource::ConfigFile(c)) => {
                let Some(key) = swarm_config(ctx, c, configs, files) else {
                    continue;
                };
                service_configs.push(json!({"source": key, "target": m.target, "mode": 0o444}));
            }
            None => {}
        }
    }
    s.remove("volumes");
    if !mounts.is_empty() {
        s.insert("volumes".into(), json!(mounts));
    }
    if !service_configs.is_empty() {
        s.insert("configs".into(), json!(service_configs));
    }
    s.insert("deploy".into(), Value::Object(deploy));
    if !gone.is_empty() {
        lost.fields.insert(name, gone);
    }
    s
}

/// `linux/arm64` as placement constraints, so a task lands on a node that can run the image.
fn placement_for_platform(platform: &str) -> Vec<String> {
    let mut parts = platform.split('/');
    let os = parts.next().unwrap_or("linux");
    let arch = match parts.next() {
        Some("arm64") => "aarch64",
        Some("amd64") => "x86_64",
        Some("arm") => "armv7l",
        Some(other) => other,
        None => return vec![format!("node.platform.os=={os}")],
    };
    vec![
        format!("node.platform.os=={os}"),
        format!("node.platform.arch=={arch}"),
    ]
}

/// Start-first with automatic rollback, watched for at least as long as the
/// health check needs to call a task unhealthy (interval x retries).
fn update_config(w: &WorkloadSpec) -> Value {
    let start_first = w.ports.iter().all(|p| p.host_port.is_none())
        && w.networks.iter().all(|n| n.ipv4_address.is_none())
        && !matches!(w.rollout, Some(desired_state::model::Rollout::StopFirst));
    let monitor = w
        .healthcheck
        .as_ref()
        .map(|h| {
            let interval = h.interval.map(|d| d.0.as_secs()).unwrap_or(30).max(1);
            let start = h.start_period.map(|d| d.0.as_secs()).unwrap_or(0);
            interval * u64::from(h.retries.unwrap_or(3)) + start
        })
        .unwrap_or(5)
        .max(5);
    json!({
        "parallelism": 1,
        "order": if start_first { "start-first" } else { "stop-first" },
        "failure_action": "rollback",
        "monitor": format!("{monitor}s"),
    })
}

fn rollback_config(update: &Value) -> Value {
    json!({
        "parallelism": 1,
        "order": update["order"],
        "monitor": update["monitor"],
    })
}

/// Declares ConfigFile `name` as a Swarm config (once per file) and returns its key.
fn swarm_config(
    ctx: &Ctx<'_>,
    name: &str,
    configs: &mut Map<String, Value>,
    files: &mut BTreeMap<PathBuf, String>,
) -> Option<String> {
    let r = ctx.get(Kind::ConfigFile, name)?;
    let Spec::ConfigFile(cf) = &r.spec else {
        return None;
    };
    let (path, bytes) = match (&cf.file, &cf.content) {
        (Some(f), _) => {
            let abs = r.origin.base_dir("/spec/file").join(f);
            let bytes = std::fs::read(&abs).unwrap_or_default();
            (ctx.rel(&abs), bytes)
        }
        (None, Some(text)) => {
            let rel = PathBuf::from("configs").join(name);
            files.insert(rel, text.clone());
            (format!("./configs/{name}"), text.clone().into_bytes())
        }
        (None, None) => return None,
    };
    let hash = blake3::hash(&bytes).to_hex();
    configs.entry(name.to_string()).or_insert_with(|| {
        json!({
            "file": path,
            "name": format!("{}-{}", ctx.object_name(name), &hash[..12]),
        })
    });
    Some(name.to_string())
}

/// Every network an overlay: attachable (so `docker run --network` and
/// lucidctl's checks can join it), `internal` kept, the isolated one encrypted.
fn overlay_networks(ctx: &Ctx<'_>, used: &BTreeSet<&str>) -> Map<String, Value> {
    let isolated: BTreeSet<&str> = ctx
        .state
        .of_kind(Kind::IsolationPolicy)
        .filter_map(|r| match &r.spec {
            Spec::IsolationPolicy(p) => Some(p.network.as_str()),
            _ => None,
        })
        .collect();
    let mut nets = Map::new();
    for r in ctx
        .state
        .of_kind(Kind::Network)
        .filter(|r| used.contains(r.name()))
    {
        let Spec::Network(n) = &r.spec else { continue };
        let mut m = Map::new();
        if n.external {
            m.insert("name".into(), json!(n.name.as_deref().unwrap_or(r.name())));
            m.insert("external".into(), json!(true));
        } else {
            m.insert("name".into(), json!(ctx.object_name(r.name())));
            m.insert("driver".into(), json!("overlay"));
            m.insert("attachable".into(), json!(true));
            if n.internal {
                m.insert("internal".into(), json!(true));
            }
            if isolated.contains(r.name()) {
                m.insert("driver_opts".into(), json!({"encrypted": ""}));
            }
            if let Some(s) = &n.subnet {
                m.insert(
                    "ipam".into(),
                    json!({"config": [{"subnet": s.to_string()}]}),
                );
            }
        }
        nets.insert(r.name().to_string(), Value::Object(m));
    }
    nets
}

/// Volumes stay node-local: each node running a task gets its own.
fn node_volumes(ctx: &Ctx<'_>, used: &BTreeSet<&str>) -> Map<String, Value> {
    let mut vols = Map::new();
    for r in ctx
        .state
        .of_kind(Kind::Volume)
        .filter(|r| used.contains(r.name()))
    {
        let Spec::Volume(v) = &r.spec else { continue };
        let mut m = Map::new();
        if v.external {
            m.insert("name".into(), json!(v.name.as_deref().unwrap_or(r.name())));
            m.insert("external".into(), json!(true));
        } else {
            m.insert("name".into(), json!(ctx.object_name(r.name())));
            if let Some(d) = &v.driver {
                m.insert("driver".into(), json!(d));
            }
            if !v.driver_opts.is_empty() {
                m.insert("driver_opts".into(), json!(v.driver_opts));
            }
        }
        vols.insert(r.name().to_string(), Value::Object(m));
    }
    vols
}

fn header(ctx: &Ctx<'_>, group: &Group, members: &[&Resource], lost: &Lost) -> String {
    let mut h = String::new();
    let sources = if ctx.options.sources.is_empty() {
        "the desired state".to_string()
    } else {
        ctx.options.sources.join(" + ")
    };
    let what = group
        .what
        .replace("services and jobs", "Swarm services and jobs");
    para(
        &mut h,
        &format!(
            "{}: {what}, exported by `lucidctl export stack` from {sources}.",
            group.file
        ),
    );
    para(
        &mut h,
        "Generated: change the desired state and export again rather than editing this file.",
    );
    h.push_str("#\n");
    para(
        &mut h,
        &format!(
            "Stack file format {STACK_VERSION}, for `docker stack deploy` on a Swarm manager. Deploy the phase \
             files in order under one stack name, each once the previous one's tasks are healthy:"
        ),
    );
    h.push_str(&format!(
        "#   docker stack deploy -c {} lucid\n",
        group.file
    ));
    if members
        .iter()
        .any(|r| r.spec.workload().is_some_and(|w| !w.env_from.is_empty()))
    {
        para(
            &mut h,
            "Env files are read by `docker stack deploy` and their values stored in the service specs: \
             anyone who can inspect a service can read them.",
        );
    }
    h.push_str("#\n# What this stack loses against `lucidctl apply --target swarm`:\n");
    wrap(
        &mut h,
        "Dependency order: Swarm starts every service of a file at once and ignores depends_on \
         (moby/moby#40364); lucidctl deploys in waves gated on task health.",
    );
    for o in &lost.order {
        h.push_str(&format!("#     {o}\n"));
    }
    wrap(
        &mut h,
        "Isolation: any service or `docker run --network` may join an attachable overlay; lucidctl \
         reports and removes a non-member on an isolated network.",
    );
    wrap(
        &mut h,
        "Held revisions: Swarm rolls back a failed update, but the next deploy tries the same spec again.",
    );
    if !lost.built.is_empty() {
        let built: Vec<&str> = lost.built.iter().map(String::as_str).collect();
        wrap(
            &mut h,
            &format!(
                "Builds: Swarm does not build. Build and push these images to a registry every node \
                 reaches (or have them on every node): {}.",
                built.join(", ")
            ),
        );
    }
    if !lost.binds.is_empty() {
        let binds: Vec<&str> = lost.binds.iter().map(String::as_str).collect();
        wrap(
            &mut h,
            &format!(
                "Host paths: a bind mount reads the path on whichever node runs the task; pin these \
                 services with placement constraints: {}.",
                binds.join(", ")
            ),
        );
    }
    wrap(
        &mut h,
        "Volumes are node-local: a service that mounts one must stay on the node that holds its data.",
    );
    for (service, fields) in &lost.fields {
        wrap(&mut h, &format!("{service}: {}.", fields.join("; ")));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use desired_state::{load_sources, Source};

    fn state(text: &str) -> DesiredState {
        let loaded = load_sources(
            &[Source {
                group: 0,
                file: PathBuf::from("/state/system.yaml"),
                text: text.to_string(),
            }],
            PathBuf::from("/state"),
        );
        let errors: Vec<_> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == desired_state::Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        loaded.state
    }

    const SYSTEM: &str = r#"
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: pay}
spec: {internal: true, subnet: 172.30.9.0/24}
---
apiVersion: lucid/v1alpha1
kind: IsolationPolicy
metadata: {name: pay-only}
spec: {network: pay, members: [wallet]}
---
apiVersion: lucid/v1alpha1
kind: ConfigFile
metadata: {name: conf}
spec: {content: "port 1\n"}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: wallet, labels: {phase: foundation}}
spec:
  image: wallet:1
  networks: [{name: pay, ipv4Address: 172.30.9.5}]
  ports: [{containerPort: 8080, hostPort: 18080, hostIP: 127.0.0.1}]
  mounts: [{configFile: conf, target: /etc/wallet.conf}]
  resources: {memory: 256Mi, cpus: 0.5}
  replicas: 2
  placement: {constraints: ["node.labels.pay == yes"], platforms: [linux/arm64], maxReplicasPerNode: 1}
  healthcheck: {test: [CMD, /probe], interval: 2s, retries: 5}
  security: {privileged: true}
---
apiVersion: lucid/v1alpha1
kind: Job
metadata: {name: init, labels: {phase: foundation}}
spec:
  image: wallet:1
  networks: [{name: pay}]
  dependsOn: [{name: wallet, condition: healthy}]
"#;

    fn exported() -> Vec<ExportedFile> {
        export_stack(
            &state(SYSTEM),
            &ExportOptions {
                output_dir: PathBuf::from("/state/docker"),
                ..Default::default()
            },
        )
    }

    fn stack(files: &[ExportedFile], name: &str) -> (String, Value) {
        let f = files
            .iter()
            .find(|f| f.path == std::path::Path::new(name))
            .unwrap_or_else(|| {
                panic!(
                    "{name} in {:?}",
                    files.iter().map(|f| &f.path).collect::<Vec<_>>()
                )
            });
        let docs = desired_state::yaml::parse_documents(&f.path, &f.content)
            .unwrap_or_else(|e| panic!("{e}\n{}", f.content));
        let body = docs.into_iter().next().expect("a document").value;
        (f.content.clone(), body)
    }

    #[test]
    fn services_get_deploy_blocks_and_lose_only_what_swarm_cannot_do_with_the_loss_listed() {
        let files = exported();
        let (text, doc) = stack(&files, "docker-stack.foundation.yml");
        let wallet = &doc["services"]["wallet"];
        assert_eq!(wallet["deploy"]["replicas"], 2);
        assert_eq!(
            wallet["deploy"]["placement"],
            json!({
                "max_replicas_per_node": 1,
                "constraints": ["node.labels.pay == yes", "node.platform.os==linux", "node.platform.arch==aarch64"]
            })
        );
        assert!(
            wallet["deploy"].get("endpoint_mode").is_none(),
            "a published port needs the VIP"
        );
        assert_eq!(wallet["deploy"]["resources"]["limits"]["memory"], "256m");
        assert_eq!(wallet["deploy"]["resources"]["limits"]["cpus"], "0.5");
        assert_eq!(
            wallet["deploy"]["update_config"]["order"], "stop-first",
            "a static IP cannot be doubled"
        );
        assert_eq!(
            wallet["deploy"]["update_config"]["failure_action"],
            "rollback"
        );
        assert_eq!(
            wallet["deploy"]["update_config"]["monitor"], "10s",
            "interval x retries"
        );
        assert!(wallet.get("container_name").is_none() && wallet.get("privileged").is_none());
        assert!(wallet["networks"]["pay"].get("ipv4_address").is_none());
        assert!(
            text.contains("privileged (Swarm cannot run privileged tasks)"),
            "{text}"
        );
        assert!(text.contains("ipv4_address on pay"), "{text}");
        assert!(
            text.contains(
                "the host IP 127.0.0.1 of port 18080:8080/tcp (Swarm publishes on every interface"
            ),
            "a loopback-only port that becomes public is said loudly: {text}"
        );
        assert_eq!(wallet["ports"][0], "18080:8080/tcp");
        assert!(text.contains("init after wallet"), "{text}");
        let init = &doc["services"]["init"];
        assert_eq!(init["deploy"]["mode"], "replicated-job");
        assert!(init.get("depends_on").is_none());
    }

    #[test]
    fn the_isolated_network_is_an_encrypted_attachable_overlay_and_configs_are_named_by_content() {
        let files = exported();
        let (_, doc) = stack(&files, "docker-stack.foundation.yml");
        let pay = &doc["networks"]["pay"];
        assert_eq!(pay["driver"], "overlay");
        assert_eq!(pay["attachable"], true);
        assert_eq!(pay["internal"], true);
        assert!(pay["driver_opts"].get("encrypted").is_some());
        let conf = &doc["configs"]["conf"];
        let name = conf["name"].as_str().unwrap();
        assert!(
            name.starts_with("conf-") && name.len() == "conf-".len() + 12,
            "{name}"
        );
        assert_eq!(
            doc["services"]["wallet"]["configs"][0]["target"],
            "/etc/wallet.conf"
        );
        assert!(files
            .iter()
            .any(|f| f.path == std::path::Path::new("configs/conf")));
        // A changed config is a new name, so Swarm rolls the services that use it.
        let changed = export_stack(
            &state(&SYSTEM.replace("port 1", "port 2")),
            &ExportOptions::default(),
        );
        let (_, doc2) = stack(&changed, "docker-stack.foundation.yml");
        assert_ne!(doc2["configs"]["conf"]["name"], conf["name"]);
        assert!(files
            .iter()
            .any(|f| f.path == std::path::Path::new("docker-stack.yml")));
    }
}
