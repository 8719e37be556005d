//! Desired state to docker-compose files (format 2.4, which docker-compose 1.29
//! and docker compose v2 both accept with `depends_on` conditions).
//!
//! One file per phase label (`docker-compose.<phase>.yml`) plus
//! `docker-compose.master.yml` with everything, or one file for a selector.
//! Names are the lucidctl names (`container_name`, networks' and volumes'
//! `name:`), so compose and lucidctl address the same Docker objects; with a
//! name prefix they are prefixed as `lucidctl apply --name-prefix` prefixes
//! them, while service, network and volume keys stay the resource names. Secrets
//! stay in their env files, referenced by relative path. What compose cannot
//! express is said in the comment at the top of each file.

use super::text::{escape_dollars, relative};
use super::yaml_out::to_yaml;
use desired_state::model::{
    Condition, ImageSpec, Kind, MountSource, Protocol, RestartPolicy, Spec, WorkloadSpec,
};
use desired_state::{DesiredState, Resource};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod runtime;
pub mod stack;

/// The build plan's phases, in the order they come up.
pub const PHASES: [&str; 4] = ["foundation", "core", "application", "support"];

/// The compose file format written; see the module documentation.
pub const COMPOSE_VERSION: &str = "2.4";

#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Where the files go; relative paths in them are relative to it.
    pub output_dir: PathBuf,
    /// Where the SecretSets' env files are, for `env_file:`.
    pub secrets_dir: PathBuf,
    /// Only resources with these labels (and what they depend on), in one file.
    pub selector: Vec<(String, String)>,
    /// The `-f` arguments as given, for the header.
    pub sources: Vec<String>,
    /// Prepended to every Docker object name (`container_name`, networks' and
    /// volumes' `name:`), as `lucidctl apply --name-prefix` does, so a second
    /// copy can run beside the first. Keys, `depends_on` and aliases keep the
    /// resource names, so DNS names inside a copy are unchanged.
    pub name_prefix: String,
}

/// A file to write, relative to the output directory.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedFile {
    pub path: PathBuf,
    pub content: String,
}

struct Group {
    file: String,
    /// What the file holds, for the header.
    what: String,
    /// Indices into `state.resources` of the workloads in the file, in file order.
    members: Vec<usize>,
    phase_file: bool,
}

/// Renders the compose files. Pure apart from reading Dockerfiles (to learn
/// which built images are built FROM others).
pub fn export(state: &DesiredState, options: &ExportOptions) -> Vec<ExportedFile> {
    export_groups(state, options, |_| {}, |ctx, group| ctx.render(group))
}

/// One file per group (named by `name`), rendered by `render`, then the
/// config files the groups bind. Shared by the compose and stack exports.
fn export_groups(
    state: &DesiredState,
    options: &ExportOptions,
    name: impl Fn(&mut Group),
    render: impl Fn(&Ctx<'_>, &Group) -> (String, BTreeMap<PathBuf, String>),
) -> Vec<ExportedFile> {
    let ctx = Ctx::new(state, options);
    let mut files = Vec::new();
    let mut extra: BTreeMap<PathBuf, String> = BTreeMap::new();
    for mut group in groups(state, options) {
        name(&mut group);
        let (content, configs) = render(&ctx, &group);
        files.push(ExportedFile {
            path: PathBuf::from(&group.file),
            content,
        });
        extra.extend(configs);
    }
    files.extend(
        extra
            .into_iter()
            .map(|(path, content)| ExportedFile { path, content }),
    );
    files
}

fn phase_of(r: &Resource) -> Option<&str> {
    r.metadata.labels.get("phase").map(String::as_str)
}

fn groups(state: &DesiredState, options: &ExportOptions) -> Vec<Group> {
    let workloads: Vec<usize> = (0..state.resources.len())
        .filter(|i| state.resources[*i].spec.workload().is_some())
        .collect();
    if !options.selector.is_empty() {
        let chosen = desired_state::selected(state, &options.selector);
        let values: Vec<String> = options
            .selector
            .iter()
            .map(|(_, v)| super::text::dns_label(v))
            .collect();
        let sel: Vec<String> = options
            .selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        return vec![Group {
            file: format!("docker-compose.{}.yml", values.join("-")),
            what: format!(
                "the services and jobs selected by {}, with everything they depend on",
                sel.join(", ")
            ),
            members: workloads
                .into_iter()
                .filter(|i| chosen.contains(i))
                .collect(),
            phase_file: false,
        }];
    }
    let mut phases: Vec<String> = Vec::new();
    for i in &workloads {
        if let Some(p) = phase_of(&state.resources[*i]) {
            if !phases.iter().any(|x| x == p) {
                phases.push(p.to_string());
            }
        }
    }
    let rank = |p: &str| PHASES.iter().position(|x| *x == p).unwrap_or(PHASES.len());
    phases.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    // The master file lists services phase by phase, then those without a phase.
    let phase_rank = |i: &usize| {
        phase_of(&state.resources[*i])
            .map(|p| phases.iter().position(|x| x == p).unwrap_or(usize::MAX))
            .unwrap_or(usize::MAX)
    };
    let mut all = workloads.clone();
    all.sort_by_key(|i| (phase_rank(i), *i));
    let mut out: Vec<Group> = phases
        .iter()
        .map(|p| Group {
            file: format!("docker-compose.{}.yml", super::text::dns_label(p)),
            what: format!("the services and jobs of phase {p:?}"),
            members: workloads
                .iter()
                .copied()
                .filter(|i| phase_of(&state.resources[*i]) == Some(p))
                .collect(),
            phase_file: true,
        })
        .collect();
    out.push(Group {
        file: "docker-compose.master.yml".into(),
        what: "every service and job".into(),
        members: all,
        phase_file: false,
    });
    out
}

struct Ctx<'a> {
    state: &'a DesiredState,
    options: &'a ExportOptions,
    out_dir: PathBuf,
    /// Image ref (with tag) to its Image resource.
    images: BTreeMap<String, &'a Resource>,
    /// Built image ref to the declared images it is built FROM.
    bases: BTreeMap<String, Vec<String>>,
    /// Which file each workload lands in when split by phase.
    home: BTreeMap<String, String>,
}

impl<'a> Ctx<'a> {
    fn new(state: &'a DesiredState, options: &'a ExportOptions) -> Self {
        let mut images = BTreeMap::new();
        for r in state.of_kind(Kind::Image) {
            if let Spec::Image(s) = &r.spec {
                images.insert(s.reference.with_default_tag(), r);
            }
        }
        let mut bases = BTreeMap::new();
        for r in images.values() {
            let Spec::Image(s) = &r.spec else { continue };
            let Some(b) = &s.build else { continue };
            let path = r
                .origin
                .base_dir("/spec/build/context")
                .join(&b.context)
                .join(b.dockerfile());
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let froms: Vec<String> = desired_state::dockerfile::from_images(&text, &b.args)
                .into_iter()
                .filter(|f| images.contains_key(f))
                .collect();
            if !froms.is_empty() {
                bases.insert(s.reference.with_default_tag(), froms);
            }
        }
        let home = state
            .workloads()
            .map(|r| {
                let file = match phase_of(r) {
                    Some(p) if options.selector.is_empty() => {
                        format!("docker-compose.{}.yml", super::text::dns_label(p))
                    }
                    _ => "docker-compose.master.yml".into(),
                };
                (r.name().to_string(), file)
            })
            .collect();
        Ctx {
            state,
            options,
            out_dir: options.output_dir.clone(),
            images,
            bases,
            home,
        }
    }

    /// The Docker name of a resource: the prefix and its name.
    fn object_name(&self, name: &str) -> String {
        format!("{}{name}", self.options.name_prefix)
    }

    fn rel(&self, target: &Path) -> String {
        relative(&self.out_dir, target)
    }

    fn get(&self, kind: Kind, name: &str) -> Option<&'a Resource> {
        self.state.get(kind, name)
    }

    fn image_of(&self, w: &WorkloadSpec) -> Option<(&'a Resource, &'a ImageSpec)> {
        let r = *self.images.get(&w.image.with_default_tag())?;
        match &r.spec {
            Spec::Image(s) => Some((r, s)),
            _ => None,
        }
    }

    /// The compose text and any `configs/<name>` files it binds.
    fn render(&self, group: &Group) -> (String, BTreeMap<PathBuf, String>) {
        let members: Vec<&Resource> = group
            .members
            .iter()
            .map(|i| &self.state.resources[*i])
            .collect();
        let in_file: BTreeSet<&str> = members.iter().map(|r| r.name()).collect();
        let mut services = Map::new();
        let mut networks: BTreeSet<&str> = BTreeSet::new();
        let mut volumes: BTreeSet<&str> = BTreeSet::new();
        let mut configs: BTreeMap<PathBuf, String> = BTreeMap::new();
        let mut notes = Notes::default();
        for r in &members {
            let w = r.spec.workload().expect("workload");
            services.insert(
                r.name().to_string(),
                self.service(r, w, &in_file, &mut configs, &mut notes),
            );
            networks.extend(w.networks.iter().map(|n| n.name.as_str()));
            for m in &w.mounts {
                if let Some(MountSource::Volume(v)) = m.source() {
                    volumes.insert(v);
                }
            }
        }
        let mut doc = Map::new();
        doc.insert("version".into(), json!(COMPOSE_VERSION));
        doc.insert("services".into(), Value::Object(services));
        let mut nets = Map::new();
        for r in self
            .state
            .of_kind(Kind::Network)
            .filter(|r| networks.contains(r.name()))
        {
            let Spec::Network(n) = &r.spec else { continue };
            let mut m = Map::new();
            if n.external {
                let docker = n.name.as_deref().unwrap_or(r.name());
                m.insert("name".into(), json!(docker));
                m.insert("external".into(), json!(true));
                nets.insert(r.name().to_string(), Value::Object(m));
                continue;
            }
            m.insert("name".into(), json!(self.object_name(r.name())));
            m.insert("driver".into(), json!(n.driver()));
            if n.internal {
                m.insert("internal".into(), json!(true));
            }
            if n.subnet.is_some() || n.gateway.is_some() {
                let mut c = Map::new();
                if let Some(s) = &n.subnet {
                    c.insert("subnet".into(), json!(s.to_string()));
                }
                if let Some(g) = &n.gateway {
                    c.insert("gateway".into(), json!(g.to_string()));
                }
                m.insert("ipam".into(), json!({"config": [Value::Object(c)]}));
            }
            nets.insert(r.name().to_string(), Value::Object(m));
        }
        if !nets.is_empty() {
            doc.insert("networks".into(), Value::Object(nets));
        }
        let mut vols = Map::new();
        for r in self
            .state
            .of_kind(Kind::Volume)
            .filter(|r| volumes.contains(r.name()))
        {
            let Spec::Volume(v) = &r.spec else { continue };
            let mut m = Map::new();
            if v.external {
                let docker = v.name.as_deref().unwrap_or(r.name());
                m.insert("name".into(), json!(docker));
                m.insert("external".into(), json!(true));
                vols.insert(r.name().to_string(), Value::Object(m));
                continue;
            }
            m.insert("name".into(), json!(self.object_name(r.name())));
            if let Some(d) = &v.driver {
                m.insert("driver".into(), json!(d));
            }
            if !v.driver_opts.is_empty() {
                m.insert("driver_opts".into(), json!(v.driver_opts));
            }
            vols.insert(r.name().to_string(), Value::Object(m));
        }
        if !vols.is_empty() {
            doc.insert("volumes".into(), Value::Object(vols));
        }
        let mut doc = Value::Object(doc);
        escape_strings(&mut doc);
        let header = self.header(group, &members, &notes);
        (format!("{header}\n{}", to_yaml(&doc)), configs)
    }

    fn service(
        &self,
        r: &Resource,
        w: &WorkloadSpec,
        in_file: &BTreeSet<&str>,
        configs: &mut BTreeMap<PathBuf, String>,
        notes: &mut Notes,
    ) -> Value {
        let mut s = Map::new();
        s.insert("container_name".into(), json!(self.object_name(r.name())));
        s.insert("image".into(), json!(w.image.as_str()));
        if let Some((img_r, img)) = self.image_of(w) {
            if let Some(b) = &img.build {
                let ctx = img_r
                    .origin
                    .base_dir("/spec/build/context")
                    .join(&b.context);
                let mut build = Map::new();
                build.insert("context".into(), json!(self.rel(&ctx)));
                if let Some(d) = &b.dockerfile {
                    build.insert("dockerfile".into(), json!(d));
                }
                if !b.args.is_empty() {
                    build.insert("args".into(), json!(b.args));
                }
                if let Some(t) = &b.target {
                    build.insert("target".into(), json!(t));
                }
                s.insert("build".into(), Value::Object(build));
                notes.built.insert(img.reference.with_default_tag());
            }
            if let Some(p) = &img.platform {
                s.insert("platform".into(), json!(p.to_string()));
            }
        }
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
        if !w.env_from.is_empty() {
            let files: Vec<String> = w
                .env_from
                .iter()
                .filter_map(
                    |e| match self.get(Kind::SecretSet, &e.secret_set).map(|r| &r.spec) {
                        Some(Spec::SecretSet(set)) => {
                            notes.secret_sets.insert(e.secret_set.clone());
                            Some(self.rel(&self.options.secrets_dir.join(&set.file)))
                        }
                        _ => None,
                    },
                )
                .collect();
            s.insert("env_file".into(), json!(files));
        }
        let (published, exposed): (Vec<_>, Vec<_>) =
            w.ports.iter().partition(|p| p.host_port.is_some());
        if !published.is_empty() {
            let ports: Vec<String> = published
                .iter()
                .map(|p| {
                    let host = match p.host_ip {
                        Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]:"),
                        Some(ip) => format!("{ip}:"),
                        None => String::new(),
                    };
                    match p.host_port {
                        // A free host port: compose's bare container port.
                        Some(0) if host.is_empty() => {
                            format!("{}/{}", p.container_port, p.protocol.as_str())
                        }
                        Some(0) => format!("{host}:{}/{}", p.container_port, p.protocol.as_str()),
                        other => format!(
                            "{host}{}:{}/{}",
                            other.unwrap_or_default(),
                            p.container_port,
                            p.protocol.as_str()
                        ),
                    }
                })
                .collect();
            s.insert("ports".into(), json!(ports));
        }
        if !exposed.is_empty() {
            let expose: Vec<String> = exposed
                .iter()
                .map(|p| {
                    if p.protocol == Protocol::Tcp {
                        p.container_port.to_string()
                    } else {
                        format!("{}/{}", p.container_port, p.protocol.as_str())
                    }
                })
                .collect();
            s.insert("expose".into(), json!(expose));
        }
        if let Some(mode) = &w.network_mode {
            s.insert("network_mode".into(), json!(mode));
        } else if w.networks.is_empty() {
            // lucidctl attaches a container without networks to Docker's default bridge.
            s.insert("network_mode".into(), json!("bridge"));
        } else {
            let mut nets = Map::new();
            for n in &w.networks {
                let mut m = Map::new();
                if !n.aliases.is_empty() {
                    m.insert("aliases".into(), json!(n.aliases));
                }
                if let Some(ip) = n.ipv4_address {
                    m.insert("ipv4_address".into(), json!(ip.to_string()));
                }
                nets.insert(n.name.clone(), Value::Object(m));
            }
            s.insert("networks".into(), Value::Object(nets));
        }
        let mut vols: Vec<Value> = Vec::new();
        for m in &w.mounts {
            let ro = if m.read_only { ":ro" } else { "" };
            match m.source() {
                Some(MountSource::Volume(v)) => vols.push(json!(format!("{v}:{}{ro}", m.target))),
                Some(MountSource::Anonymous) if m.read_only => {
                    vols.push(json!({"type": "volume", "target": m.target, "read_only": true}))
                }
                Some(MountSource::Anonymous) => vols.push(json!(m.target)),
                Some(MountSource::Bind(b)) => match m.selinux {
                    Some(z) => {
                        let rw = if m.read_only { "ro" } else { "rw" };
                        vols.push(json!(format!("{b}:{}:{rw},{}", m.target, z.option())))
                    }
                    None => vols.push(json!(format!("{b}:{}{ro}", m.target))),
                },
                Some(MountSource::ConfigFile(c)) => {
                    let Some(Spec::ConfigFile(cf)) = self.get(Kind::ConfigFile, c).map(|r| &r.spec)
                    else {
                        continue;
                    };
                    let cr = self.get(Kind::ConfigFile, c).expect("declared");
                    let source = match (&cf.file, &cf.content) {
                        (Some(f), _) => self.rel(&cr.origin.base_dir("/spec/file").join(f)),
                        (None, Some(text)) => {
                            let rel = PathBuf::from("configs").join(c);
                            configs.insert(rel.clone(), text.clone());
                            format!("./configs/{c}")
                        }
                        (None, None) => continue,
                    };
                    notes.config_files.insert(c.to_string());
                    // lucidctl always mounts config files read-only.
                    vols.push(json!(format!("{source}:{}:ro", m.target)));
                }
                None => {}
            }
        }
        if !vols.is_empty() {
            s.insert("volumes".into(), json!(vols));
        }
        if let Some(h) = &w.healthcheck {
            let mut m = Map::new();
            if h.test.first().map(String::as_str) == Some("NONE") {
                m.insert("disable".into(), json!(true));
            } else {
                m.insert("test".into(), json!(h.test));
                if let Some(d) = h.interval {
                    m.insert("interval".into(), json!(d.to_string()));
                }
                if let Some(d) = h.timeout {
                    m.insert("timeout".into(), json!(d.to_string()));
                }
                if let Some(n) = h.retries {
                    m.insert("retries".into(), json!(n));
                }
                if let Some(d) = h.start_period {
                    m.insert("start_period".into(), json!(d.to_string()));
                }
            }
            s.insert("healthcheck".into(), Value::Object(m));
        }
        let mut deps = Map::new();
        for d in &w.depends_on {
            if in_file.contains(d.name.as_str()) {
                deps.insert(d.name.clone(), json!({"condition": condition(d.condition)}));
            } else {
                notes
                    .cross
                    .push((r.name().to_string(), d.name.clone(), d.condition));
            }
        }
        if !deps.is_empty() {
            s.insert("depends_on".into(), Value::Object(deps));
        }
        let restart = match (r.kind(), w.restart) {
            (Kind::Job, None) => Some(RestartPolicy::No),
            (_, other) => other,
        };
        if let Some(p) = restart {
            s.insert("restart".into(), json!(p.as_str()));
        }
        if r.kind() == Kind::Job {
            notes.jobs.push(r.name().to_string());
        }
        if let Some(res) = &w.resources {
            if let Some(m) = res.memory {
                s.insert("mem_limit".into(), compose_size(m.0));
            }
            if let Some(c) = res.cpus {
                s.insert("cpus".into(), json!(c));
            }
            if let Some(p) = res.pids_limit {
                s.insert("pids_limit".into(), json!(p));
            }
        }
        if let Some(sec) = &w.security {
            if sec.read_only_root_filesystem {
                s.insert("read_only".into(), json!(true));
            }
            if !sec.cap_drop.is_empty() {
                s.insert("cap_drop".into(), json!(sec.cap_drop));
            }
            if !sec.cap_add.is_empty() {
                s.insert("cap_add".into(), json!(sec.cap_add));
            }
            if sec.no_new_privileges {
                s.insert("security_opt".into(), json!(["no-new-privileges:true"]));
            }
            if sec.privileged {
                s.insert("privileged".into(), json!(true));
            }
        }
        if let Some(i) = w.init {
            s.insert("init".into(), json!(i));
        }
        if let Some(d) = w.stop_grace_period {
            s.insert("stop_grace_period".into(), json!(d.to_string()));
        }
        runtime::insert(w, &mut s);
        // `profile.<name>: "true"` labels are compose profiles again.
        let (profiles, labels): (BTreeMap<_, _>, BTreeMap<_, _>) = r
            .metadata
            .labels
            .iter()
            .partition(|(k, v)| k.starts_with(crate::PROFILE_PREFIX) && v.as_str() == "true");
        if !profiles.is_empty() {
            let names: Vec<&str> = profiles
                .keys()
                .map(|k| &k[crate::PROFILE_PREFIX.len()..])
                .collect();
            s.insert("profiles".into(), json!(names));
        }
        if !labels.is_empty() {
            s.insert("labels".into(), json!(labels));
        }
        Value::Object(s)
    }

    fn header(&self, group: &Group, members: &[&Resource], notes: &Notes) -> String {
        let mut h = String::new();
        let line = |h: &mut String, s: &str| {
            if s.is_empty() {
                h.push_str("#\n");
            } else {
                h.push_str("# ");
                h.push_str(s);
                h.push('\n');
            }
        };
        let sources = if self.options.sources.is_empty() {
            "the desired state".to_string()
        } else {
            self.options.sources.join(" + ")
        };
        para(
            &mut h,
            &format!(
                "{}: {}, exported by `lucidctl export compose` from {sources}.",
                group.file, group.what
            ),
        );
        para(
            &mut h,
            "Generated: change the desired state and export again rather than editing this file.",
        );
        line(&mut h, "");
        let prefix = &self.options.name_prefix;
        let names = if prefix.is_empty() {
            "the lucidctl names".to_string()
        } else {
            format!("the lucidctl names with the prefix {prefix} (as `lucidctl apply --name-prefix {prefix}` names them)")
        };
        para(
            &mut h,
            &format!(
                "Compose file format {COMPOSE_VERSION} (docker-compose 1.29, docker compose v2). Containers (container_name), \
                 networks and volumes (name:) carry {names}, so compose and lucidctl address the same Docker \
                 objects. Use one project name for every file:"
            ),
        );
        line(
            &mut h,
            &format!("  docker-compose -p lucid -f {} up -d", group.file),
        );
        if !notes.secret_sets.is_empty() {
            let dir = self.rel(&self.options.secrets_dir);
            para(
                &mut h,
                &format!(
                    "Secrets stay in the env files under {dir}/ and are never inlined; write them first with \
                     `lucidctl secrets generate` (compose fails on a missing env file)."
                ),
            );
        }
        if members.is_empty() {
            line(&mut h, "");
            line(
                &mut h,
                "No service or job matched: this file declares nothing.",
            );
        }
        if !notes.cross.is_empty() {
            line(&mut h, "");
            line(
                &mut h,
                "Requires, up first from the other files (depends_on cannot reach across files):",
            );
            let mut seen = BTreeSet::new();
            for (_, dep, cond) in &notes.cross {
                if !seen.insert((dep.clone(), condition(*cond))) {
                    continue;
                }
                let home = self.home.get(dep).cloned().unwrap_or_default();
                let users: Vec<&str> = notes
                    .cross
                    .iter()
                    .filter(|(_, d, c)| d == dep && c == cond)
                    .map(|(u, _, _)| u.as_str())
                    .collect();
                wrap_with(
                    &mut h,
                    &format!(
                        "{dep} {} ({home}), for {}",
                        condition_words(*cond),
                        users.join(", ")
                    ),
                    "#  ",
                    "#     ",
                );
            }
        }
        line(&mut h, "");
        line(
            &mut h,
            "What compose cannot express (lucidctl enforces it; this file does not):",
        );
        let mut bullets: Vec<String> = Vec::new();
        bullets.push(
            "Ownership: no io.lucidctl.* labels or spec hashes are written. lucidctl reports containers, networks and \
             volumes created from this file as conflicts and never adopts or removes them: take them down with \
             `docker-compose down` (and move volume data) before `lucidctl apply`."
                .into(),
        );
        bullets.push(
            "Health-gated updates: lucidctl starts the replacement beside the old container (or, with a host port or \
             static IP, keeps the old one as <name>.prev) until the replacement is healthy, rolls back otherwise and \
             holds a failed spec; compose replaces a container outright. lucidctl also recreates exactly the services \
             whose spec, image ID, config files or secrets changed; compose compares its own config hash only."
                .into(),
        );
        let hooked: Vec<String> = members
            .iter()
            .filter_map(|r| {
                let w = r.spec.workload()?;
                (!w.before_recreate.is_empty())
                    .then(|| format!("{} after {}", r.name(), w.before_recreate.join(", ")))
            })
            .collect();
        if !hooked.is_empty() {
            bullets.push(format!(
                "beforeRecreate: lucidctl runs these Jobs to completion before recreating the service, and                  leaves the service alone if one fails ({}); compose has no such hook.",
                hooked.join("; ")
            ));
        }
        let as_files: Vec<String> = members
            .iter()
            .filter_map(|r| {
                let w = r.spec.workload()?;
                (!w.secret_files.is_empty()).then(|| {
                    let sets: Vec<String> = w
                        .secret_files
                        .iter()
                        .map(|f| {
                            if f.keys.is_empty() {
                                format!("{} at {}", f.secret_set, f.target)
                            } else {
                                format!(
                                    "{} keys {} at {}",
                                    f.secret_set,
                                    f.keys.join(", "),
                                    f.target
                                )
                            }
                        })
                        .collect();
                    format!("{} ({})", r.name(), sets.join(", "))
                })
            })
            .collect();
        if !as_files.is_empty() {
            bullets.push(format!(
                "secretFiles: lucidctl writes each key of these SecretSets as a file (mode 0400) on the engine host \
                 and bind-mounts the directory read-only; this file does not mount them: {}.",
                as_files.join("; ")
            ));
        }
        if !notes.jobs.is_empty() {
            bullets.push(format!(
                "Jobs ({}) run once per spec hash under lucidctl and are skipped while unchanged; here they are \
                 services with restart \"no\" that run again on every `up`, and their dependents wait with condition \
                 service_completed_successfully.",
                notes.jobs.join(", ")
            ));
        }
        for p in self.state.of_kind(Kind::IsolationPolicy) {
            let Spec::IsolationPolicy(pol) = &p.spec else {
                continue;
            };
            let touches = members.iter().any(|r| {
                pol.members
                    .iter()
                    .chain(&pol.bridges)
                    .any(|m| m == r.name())
                    || r.spec
                        .workload()
                        .is_some_and(|w| w.networks.iter().any(|n| n.name == pol.network))
            });
            if !touches {
                continue;
            }
            let mut b = format!(
                "IsolationPolicy {}: network {} is reserved for its members {}, which join no other network",
                p.name(),
                pol.network,
                if pol.members.is_empty() { "(none)".to_string() } else { pol.members.join(", ") }
            );
            if pol.bridges.is_empty() {
                b.push_str("; no service may bridge it to another network.");
            } else {
                b.push_str(&format!(
                    "; only {} may join it and other networks too.",
                    pol.bridges.join(", ")
                ));
            }
            let verify_prefix = if prefix.is_empty() {
                String::new()
            } else {
                format!(" --name-prefix {prefix}")
            };
            b.push_str(&format!(
                " This file follows the rule, but compose does not enforce it: a service added here by hand, or \
                 `docker network connect`, is not refused (check a running system with `lucidctl verify isolation -H ...{verify_prefix}`)."
            ));
            if !pol.forbidden.is_empty() || !pol.required_paths.is_empty() {
                b.push_str(" The source-tree checks (forbidden patterns, required paths) run only in `lucidctl validate`.");
            }
            bullets.push(b);
        }
        if !notes.config_files.is_empty() {
            let modes: Vec<String> = notes
                .config_files
                .iter()
                .filter_map(|c| match self.get(Kind::ConfigFile, c).map(|r| &r.spec) {
                    Some(Spec::ConfigFile(cf)) => Some(format!(
                        "{c} {}",
                        cf.mode
                            .map(|m| m.to_string())
                            .unwrap_or_else(|| "0644".into())
                    )),
                    _ => None,
                })
                .collect();
            bullets.push(format!(
                "ConfigFiles are bind-mounted read-only straight from their source files, so their modes ({}) are not \
                 applied (the source file's own mode and owner are), and an edit reaches the running containers at \
                 once instead of recreating exactly the services that mount the file.",
                modes.join(", ")
            ));
        }
        if !notes.secret_sets.is_empty() {
            let mut parts = Vec::new();
            for name in &notes.secret_sets {
                if let Some(Spec::SecretSet(s)) = self.get(Kind::SecretSet, name).map(|r| &r.spec) {
                    let gen: Vec<&str> = s.generate.iter().map(|g| g.key.as_str()).collect();
                    if gen.is_empty() {
                        parts.push(format!("{} ({name})", s.file));
                    } else {
                        parts.push(format!("{} ({name}; generates {})", s.file, gen.join(", ")));
                    }
                }
            }
            bullets.push(format!(
                "SecretSets: compose only reads the env files; it neither generates missing keys from a CSPRNG nor \
                 checks them (`lucidctl secrets generate|check`): {}. Compose passes every variable in an env file; \
                 lucidctl passes the declared keys only.",
                parts.join(", ")
            ));
        }
        // Base image ref to the Images built FROM it in this file.
        let mut by_base: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for img in &notes.built {
            for base in self.bases.get(img).into_iter().flatten() {
                by_base
                    .entry(base.as_str())
                    .or_default()
                    .push(self.images[img].name());
            }
        }
        if !by_base.is_empty() {
            let parts: Vec<String> = by_base
                .iter()
                .map(|(base, users)| {
                    format!(
                        "{base} (Image {}) before the Images built FROM it: {}",
                        self.images[*base].name(),
                        users.join(", ")
                    )
                })
                .collect();
            bullets.push(format!(
                "Build order: lucidctl builds base images first ({}); compose does not order builds, so build the \
                 bases first (`lucidctl build`, or `docker-compose build` of a service that uses the base).",
                parts.join("; ")
            ));
        }
        if !notes.built.is_empty() {
            bullets.push(
                "Builds: lucidctl builds an image when its context hash changes and builds each Image once; compose \
                 builds on `up --build` or when the tag is missing, once per service that names it."
                    .into(),
            );
        }
        let mut pushed: Vec<String> = Vec::new();
        let mut unused: Vec<String> = Vec::new();
        let used: BTreeSet<String> = members
            .iter()
            .filter_map(|r| r.spec.workload())
            .map(|w| w.image.with_default_tag())
            .collect();
        for (reference, r) in &self.images {
            let Spec::Image(s) = &r.spec else { continue };
            if s.push && used.contains(reference) {
                pushed.push(r.name().to_string());
            }
            let used_anywhere = self
                .state
                .workloads()
                .filter_map(|w| w.spec.workload())
                .any(|w| &w.image.with_default_tag() == reference);
            if !group.phase_file
                && !used_anywhere
                && s.build.is_some()
                && members.len() == self.state.workloads().count()
            {
                unused.push(format!("{} ({})", r.name(), s.reference));
            }
        }
        if !pushed.is_empty() {
            bullets.push(format!(
                "Push: lucidctl pushes the Images marked push after a successful build ({}); with compose run \
                 `docker-compose push`.",
                pushed.join(", ")
            ));
        }
        if !unused.is_empty() {
            bullets.push(format!(
                "Images that no service or job uses are not in any compose file: {}. Build them with `lucidctl build`.",
                unused.join(", ")
            ));
        }
        if group.phase_file {
            bullets.push(
                "Phases: this file holds one phase; dependencies on other phases' services are listed above and are \
                 not waited for. Bring the phase files up in order (foundation, core, application, support) with the \
                 same -p, without --remove-orphans, or use docker-compose.master.yml."
                    .into(),
            );
        }
        for b in bullets {
            wrap(&mut h, &b);
        }
        h
    }
}

#[derive(Default)]
struct Notes {
    /// (dependent, dependency, condition) where the dependency is in another file.
    cross: Vec<(String, String, Condition)>,
    jobs: Vec<String>,
    config_files: BTreeSet<String>,
    secret_sets: BTreeSet<String>,
    /// Image refs (with tag) that services in the file build.
    built: BTreeSet<String>,
}

fn condition(c: Condition) -> &'static str {
    match c {
        Condition::Started => "service_started",
        Condition::Healthy => "service_healthy",
        Condition::Completed => "service_completed_successfully",
    }
}

fn condition_words(c: Condition) -> &'static str {
    match c {
        Condition::Started => "started",
        Condition::Healthy => "healthy",
        Condition::Completed => "completed successfully",
    }
}

/// A byte size in the units docker-compose's `mem_limit` reads.
fn compose_size(bytes: u64) -> Value {
    for (unit, size) in [("g", 1u64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if bytes >= size && bytes % size == 0 {
            return json!(format!("{}{unit}", bytes / size));
        }
    }
    json!(bytes)
}

/// Doubles every `$` in string values: compose would interpolate them. The
/// model's `$${` (a literal `${`) is read as `${` first, so it stays `$${`.
fn escape_strings(v: &mut Value) {
    match v {
        Value::String(s) => *s = escape_dollars(&desired_state::literal::unescape(s)),
        Value::Array(a) => a.iter_mut().for_each(escape_strings),
        Value::Object(m) => m.values_mut().for_each(escape_strings),
        _ => {}
    }
}

/// A `# - ` bullet wrapped at 100 columns.
fn wrap(h: &mut String, text: &str) {
    wrap_with(h, text, "# -", "#  ");
}

/// A comment paragraph wrapped at 100 columns.
fn para(h: &mut String, text: &str) {
    wrap_with(h, text, "#", "#");
}

fn wrap_with(h: &mut String, text: &str, first_prefix: &str, prefix: &str) {
    let mut line = String::from(first_prefix);
    let mut first = true;
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 100 && !first {
            h.push_str(&line);
            h.push('\n');
            line = String::from(prefix);
        }
        line.push(' ');
        line.push_str(word);
        first = false;
    }
    h.push_str(&line);
    h.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_docker_units() {
        assert_eq!(compose_size(1536 << 20), json!("1536m"));
        assert_eq!(compose_size(2 << 30), json!("2g"));
        assert_eq!(compose_size(1000), json!(1000));
    }
}
