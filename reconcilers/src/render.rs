//! Desired resources rendered into the concrete objects lucidctl would create,
//! with the hash that is stamped on them. Pure: all file contents and secret
//! values arrive in `Inputs`.

use crate::hash::{short_hash, spec_hash, SpecHashInputs};
use crate::labels;
use crate::observed::{ObserveScope, Observed};
use desired_state::literal::unescape as literal;
use desired_state::model::{
    Healthcheck, Kind, MountSource, NetworkMode, NetworkSpec, Port, RestartPolicy, SecretFiles,
    Security, Spec, WorkloadSpec,
};
use desired_state::Resource;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

/// What the world outside the files contributes to a render.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Scopes ownership and prune, as compose's project name does.
    pub project: String,
    /// Prepended to every Docker object name, so a test can run a second copy.
    pub name_prefix: String,
    /// The source revision (git commit) recorded on every object.
    pub revision: Option<String>,
    /// Host directory where config files are placed for bind mounts.
    pub files_dir: PathBuf,
    /// ConfigFile name to the blake3 hash of its content.
    pub config_hashes: BTreeMap<String, String>,
    /// SecretSet name to its values. Never printed.
    pub secrets: BTreeMap<String, BTreeMap<String, SecretValue>>,
    /// Image ref to the build hash it should carry (Images with a build).
    pub build_hashes: BTreeMap<String, String>,
    /// Image refs with a build, bases before what is built FROM them.
    pub build_order: Vec<String>,
    /// The digest a registry serves now behind a reference a workload runs
    /// (asked for pull policies always, watch and semver).
    pub registry_digests: BTreeMap<String, String>,
    /// For pull policy semver: the declared reference to the chosen one
    /// (the highest tag in the range).
    pub chosen_tags: BTreeMap<String, String>,
    /// External Networks and Volumes: kind and resource name to the Docker
    /// name, used as is (no prefix). See `external_names`.
    pub externals: BTreeMap<(Kind, String), String>,
}

/// The Docker names of the external Networks and Volumes in `state`.
pub fn external_names(state: &desired_state::DesiredState) -> BTreeMap<(Kind, String), String> {
    state
        .resources
        .iter()
        .filter_map(|r| {
            let name = match &r.spec {
                Spec::Network(n) if n.external => n.name.as_deref(),
                Spec::Volume(v) if v.external => v.name.as_deref(),
                _ => return None,
            };
            let docker = name.unwrap_or(r.name()).to_string();
            Some(((r.kind(), r.name().to_string()), docker))
        })
        .collect()
}

impl Inputs {
    /// The image a workload's container runs: the reference as written,
    /// pinned to a digest (`pull.pin`), or the tag semver chose.
    pub fn image_of(&self, w: &desired_state::model::WorkloadSpec) -> String {
        let declared = w.image.with_default_tag();
        let Some(pull) = &w.pull else {
            return declared;
        };
        if let Some(pin) = &pull.pin {
            let (repository, _) = desired_state::model::split_tag(&declared);
            return format!("{repository}@{pin}");
        }
        self.chosen_tags.get(&declared).cloned().unwrap_or(declared)
    }

    pub fn object_name(&self, name: &str) -> String {
        format!("{}{}", self.name_prefix, name)
    }

    /// A Network's Docker name: the external name, else prefixed.
    pub fn network_name(&self, name: &str) -> String {
        let key = (Kind::Network, name.to_string());
        self.externals
            .get(&key)
            .cloned()
            .unwrap_or_else(|| self.object_name(name))
    }

    /// A Volume's Docker name: the external name, else prefixed.
    pub fn volume_name(&self, name: &str) -> String {
        let key = (Kind::Volume, name.to_string());
        self.externals
            .get(&key)
            .cloned()
            .unwrap_or_else(|| self.object_name(name))
    }

    /// Where the engine host sees a ConfigFile's content.
    /// This project's directory on the engine host.
    pub fn host_dir(&self) -> PathBuf {
        self.files_dir.join(&self.project)
    }

    /// Where the engine host keeps one workload's copy of a SecretSet given as files.
    pub fn secret_files_dir(&self, workload: &str, set: &str) -> PathBuf {
        self.host_dir().join("secrets").join(workload).join(set)
    }

    pub fn config_path(&self, name: &str) -> String {
        self.host_dir()
            .join("configs")
            .join(name)
            .display()
            .to_string()
    }
}

/// A secret value: its Debug and Display never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(v: impl Into<String>) -> Self {
        SecretValue(v.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum EnvValue {
    Plain(String),
    /// From a SecretSet.
    Secret {
        set: String,
        value: SecretValue,
    },
}

impl EnvValue {
    pub fn expose(&self) -> &str {
        match self {
            EnvValue::Plain(s) => s,
            EnvValue::Secret { value, .. } => value.expose(),
        }
    }

    /// How the value may be shown.
    pub fn shown(&self) -> String {
        match self {
            EnvValue::Plain(s) => format!("{s:?}"),
            EnvValue::Secret { .. } => "(sensitive)".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum MountFrom {
    Volume(String),
    HostPath(String),
    /// A new unnamed volume, created with the container.
    Anonymous,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RenderedMount {
    pub target: String,
    pub from: MountFrom,
    pub read_only: bool,
    /// `z` or `Z`: a bind relabeled for SELinux.
    pub selinux: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RenderedAttachment {
    pub network: String,
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
}

/// A container as lucidctl would create it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    pub kind: Kind,
    /// The resource name (metadata.name).
    pub resource: String,
    /// The Docker container name.
    pub name: String,
    pub image: String,
    pub env: BTreeMap<String, EnvValue>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub ports: Vec<Port>,
    pub networks: Vec<RenderedAttachment>,
    pub mounts: Vec<RenderedMount>,
    pub healthcheck: Option<Healthcheck>,
    pub restart: Option<RestartPolicy>,
    pub memory: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub pids_limit: Option<i64>,
    pub security: Security,
    pub init: Option<bool>,
    pub stop_grace_seconds: Option<i64>,
    /// Replace by starting the new container beside the old one (no host
    /// port, no static IP, and the rollout strategy allows it).
    pub start_first: bool,
    /// Restart when unhealthy this long (`healthcheck.restartAfter`).
    pub restart_after: Option<std::time::Duration>,
    /// Jobs to run to completion before a recreate (`beforeRecreate`).
    pub before_recreate: Vec<String>,
    /// Logging, ulimits, hostname, DNS, tmpfs and the like.
    pub runtime: crate::runtime_options::RuntimeOptions,
    pub labels: BTreeMap<String, String>,
    pub hash: String,
    pub inputs: BTreeMap<String, String>,
}

/// Why a container cannot be rendered yet.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    #[error("{resource}: secret set {set:?} has no values; run `lucidctl secrets generate`")]
    MissingSecrets { resource: String, set: String },
    #[error("{resource}: config file {name:?} was not read")]
    MissingConfig { resource: String, name: String },
}

pub fn ownership_labels(inputs: &Inputs, kind: Kind, r: &Resource) -> BTreeMap<String, String> {
    let mut l = labels::ownership(&inputs.project, kind.as_str(), Some(r.name()));
    if let Some(rev) = &inputs.revision {
        l.insert(labels::REVISION.to_string(), rev.clone());
    }
    for (k, v) in &r.metadata.labels {
        l.insert(format!("{}{k}", labels::USER_PREFIX), v.clone());
    }
    l
}

/// The image ID a tag points to on the engine, if present.
/// The registry digest the engine's image for `reference` came from.
pub fn registry_digest_of(observed: &Observed, reference: &str) -> Option<String> {
    let (repository, _) = desired_state::model::split_tag(reference);
    observed
        .images
        .get(reference)?
        .repo_digests
        .iter()
        .filter_map(|d| d.split_once('@'))
        .find(|(repo, _)| *repo == repository)
        .map(|(_, digest)| digest.to_string())
}

pub fn image_id(observed: &Observed, image: &str) -> Option<String> {
    observed.images.get(image).map(|i| i.id.clone())
}

/// Renders a Service or Job; other kinds give None.
pub fn render_container(
    r: &Resource,
    inputs: &Inputs,
    observed: &Observed,
) -> Option<Result<ContainerSpec, RenderError>> {
    let (kind, w) = match &r.spec {
        Spec::Service(w) => (Kind::Service, w),
        Spec::Job(w) => (Kind::Job, w),
        _ => return None,
    };
    Some(render_workload(r, kind, w, inputs, observed))
}

fn render_workload(
    r: &Resource,
    kind: Kind,
    w: &WorkloadSpec,
    inputs: &Inputs,
    observed: &Observed,
) -> Result<ContainerSpec, RenderError> {
    let image = inputs.image_of(w);
    let env = render_env(r, w, inputs)?;
    let mounts = render_mounts(r, w, inputs)?;
    let networks = w
        .networks
        .iter()
        .map(|n| {
            let mut aliases = n.aliases.clone();
            // Keep the resource name resolvable when a prefix changes the container name.
            if !inputs.name_prefix.is_empty() && !aliases.contains(&r.metadata.name) {
                aliases.push(r.metadata.name.clone());
            }
            RenderedAttachment {
                network: inputs.network_name(&n.name),
                aliases,
                ipv4_address: n.ipv4_address.map(|ip| ip.to_string()),
            }
        })
        .collect();

    let mut declared = w.clone();
    // Neither changes the container: a new dependency or rollout strategy recreates nothing.
    declared.depends_on.clear();
    // When to pull is not what runs: the image ID (in the hash) says that.
    declared.pull = None;
    declared.rollout = None;
    declared.before_recreate.clear();
    // Swarm-only settings: one local container is the same whatever they say.
    declared.replicas = None;
    declared.placement = None;
    if let Some(h) = declared.healthcheck.as_mut() {
        h.restart_after = None;
    }
    let mut hash_inputs = SpecHashInputs {
        declared: serde_json::to_value(&declared).unwrap_or_default(),
        name_prefix: inputs.name_prefix.clone(),
        image_id: image_id(observed, &image).unwrap_or_else(|| format!("unresolved:{image}")),
        config_files: BTreeMap::new(),
        secret_sets: BTreeMap::new(),
    };
    for m in &w.mounts {
        if let Some(MountSource::ConfigFile(c)) = m.source() {
            let h = inputs.config_hashes.get(c).cloned().unwrap_or_default();
            hash_inputs.config_files.insert(c.to_string(), h);
        }
    }
    // A set given as env counts whole; as files, only the keys taken (a set
    // listed both ways counts whole).
    let whole: Vec<&String> = w.env_from.iter().map(|e| &e.secret_set).collect();
    let by_files = w
        .secret_files
        .iter()
        .filter(|f| !whole.contains(&&f.secret_set))
        .map(|f| (&f.secret_set, Some(f)));
    let sets = whole.iter().map(|s| (*s, None)).chain(by_files);
    for (set, files) in sets {
        let values = inputs.secrets.get(set);
        let digest = values.map(|v| {
            let joined: Vec<String> = v
                .iter()
                .filter(|(k, _)| files.is_none_or(|f: &SecretFiles| f.takes(k)))
                .map(|(k, s)| format!("{k}={}", s.expose()))
                .collect();
            short_hash(joined.join("\n").as_bytes())
        });
        hash_inputs
            .secret_sets
            .insert(set.clone(), digest.unwrap_or_default());
    }
    let (hash, component_hashes) = spec_hash(&hash_inputs);

    let mut labels = ownership_labels(inputs, kind, r);
    labels.insert(labels::SPEC_HASH.to_string(), hash.clone());
    labels.insert(
        labels::INPUTS.to_string(),
        serde_json::to_string(&component_hashes).unwrap_or_default(),
    );
    let plain_keys: Vec<&str> = w.env.keys().map(String::as_str).collect();
    labels.insert(labels::ENV_KEYS.to_string(), plain_keys.join(","));
    // Which registry image a rollout ran, when the engine knows it.
    if let Some(digest) = registry_digest_of(observed, &image) {
        labels.insert(labels::IMAGE_DIGEST.to_string(), digest);
    }

    let resources = w.resources.as_ref();
    Ok(ContainerSpec {
        kind,
        resource: r.name().to_string(),
        name: inputs.object_name(r.name()),
        image,
        env,
        command: w.command.as_deref().map(literal_words),
        entrypoint: w.entrypoint.as_deref().map(literal_words),
        user: w.user.clone(),
        working_dir: w.working_dir.clone(),
        ports: w.ports.clone(),
        networks,
        mounts,
        healthcheck: w.healthcheck.clone().map(|mut h| {
            h.test = literal_words(&h.test);
            h
        }),
        restart: w.restart,
        memory: resources.and_then(|r| r.memory).map(|m| m.0 as i64),
        nano_cpus: resources.and_then(|r| r.cpus).map(|c| (c * 1e9) as i64),
        pids_limit: resources.and_then(|r| r.pids_limit),
        security: w.security.clone().unwrap_or_default(),
        init: w.init,
        stop_grace_seconds: w.stop_grace_period.map(|d| d.0.as_secs() as i64),
        start_first: kind == Kind::Service
            && w.rollout != Some(desired_state::model::Rollout::StopFirst)
            && !w.ports.iter().any(|p| p.host_port.is_some_and(|h| h != 0))
            && !w.networks.iter().any(|n| n.ipv4_address.is_some())
            // Two containers cannot share the host's or another container's ports.
            && w.network_mode.is_none(),
        restart_after: w
            .healthcheck
            .as_ref()
            .and_then(|h| h.restart_after)
            .map(|d| d.0),
        before_recreate: w.before_recreate.clone(),
        runtime: {
            let mut rt = crate::runtime_options::render(w);
            if let Some(NetworkMode::Service(n)) = w.network_mode() {
                let peer = observed.container(&inputs.object_name(n));
                rt.network_peer_id = peer.map(|c| c.id.clone());
            }
            rt.network_mode = w.network_mode().map(|m| match m {
                NetworkMode::Host => "host".to_string(),
                NetworkMode::None => "none".to_string(),
                NetworkMode::Service(n) => format!("container:{}", inputs.object_name(n)),
            });
            rt
        },
        labels,
        hash,
        inputs: component_hashes,
    })
}

/// `$${` is the model's escape for a literal `${`: the container gets `${`.
fn literal_words(words: &[String]) -> Vec<String> {
    words.iter().map(|w| literal(w).into_owned()).collect()
}

fn render_env(
    r: &Resource,
    w: &WorkloadSpec,
    inputs: &Inputs,
) -> Result<BTreeMap<String, EnvValue>, RenderError> {
    let mut env = BTreeMap::new();
    for e in &w.env_from {
        let values =
            inputs
                .secrets
                .get(&e.secret_set)
                .ok_or_else(|| RenderError::MissingSecrets {
                    resource: r.id(),
                    set: e.secret_set.clone(),
                })?;
        for (k, v) in values {
            env.insert(
                k.clone(),
                EnvValue::Secret {
                    set: e.secret_set.clone(),
                    value: v.clone(),
                },
            );
        }
    }
    // Declared env wins over secret sets, as compose's `environment` wins over `env_file`.
    for (k, v) in &w.env {
        env.insert(k.clone(), EnvValue::Plain(literal(v).into_owned()));
    }
    Ok(env)
}

fn render_mounts(
    r: &Resource,
    w: &WorkloadSpec,
    inputs: &Inputs,
) -> Result<Vec<RenderedMount>, RenderError> {
    let mut out = Vec::new();
    for m in &w.mounts {
        let from = match m.source() {
            Some(MountSource::Volume(v)) => MountFrom::Volume(inputs.volume_name(v)),
            Some(MountSource::Bind(b)) => MountFrom::HostPath(b.to_string()),
            Some(MountSource::Anonymous) => MountFrom::Anonymous,
            Some(MountSource::ConfigFile(c)) => {
                if !inputs.config_hashes.contains_key(c) {
                    return Err(RenderError::MissingConfig {
                        resource: r.id(),
                        name: c.to_string(),
                    });
                }
                MountFrom::HostPath(inputs.config_path(c))
            }
            None => continue,
        };
        let read_only = m.read_only || matches!(m.source(), Some(MountSource::ConfigFile(_)));
        out.push(RenderedMount {
            target: m.target.clone(),
            from,
            read_only,
            selinux: m.selinux.map(|s| s.option()),
        });
    }
    // secretFiles: the set's directory of one file per key, read-only.
    for f in &w.secret_files {
        if !inputs.secrets.contains_key(&f.secret_set) {
            return Err(RenderError::MissingSecrets {
                resource: r.id(),
                set: f.secret_set.clone(),
            });
        }
        let dir = inputs.secret_files_dir(r.name(), &f.secret_set);
        out.push(RenderedMount {
            target: f.target.clone(),
            from: MountFrom::HostPath(dir.display().to_string()),
            read_only: true,
            selinux: None,
        });
    }
    Ok(out)
}

/// A volume as lucidctl creates it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VolumePlanSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
}

/// A volume's labels carry the hash of its driver and options, so a
/// changed declaration shows even where the engine does not report options.
pub fn render_volume(
    r: &Resource,
    spec: &desired_state::model::VolumeSpec,
    inputs: &Inputs,
) -> VolumePlanSpec {
    let mut labels = ownership_labels(inputs, Kind::Volume, r);
    labels.insert(
        labels::SPEC_HASH.to_string(),
        short_hash(serde_json::to_string(spec).unwrap_or_default().as_bytes()),
    );
    VolumePlanSpec {
        name: inputs.object_name(r.name()),
        labels,
        driver: spec.driver.clone(),
        driver_opts: spec.driver_opts.clone(),
    }
}

/// A network as lucidctl would create it.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkPlanSpec {
    pub name: String,
    pub spec: NetworkSpec,
    pub labels: BTreeMap<String, String>,
    pub hash: String,
}

pub fn render_network(r: &Resource, spec: &NetworkSpec, inputs: &Inputs) -> NetworkPlanSpec {
    let hash = short_hash(serde_json::to_string(spec).unwrap_or_default().as_bytes());
    let mut labels = ownership_labels(inputs, Kind::Network, r);
    labels.insert(labels::SPEC_HASH.to_string(), hash.clone());
    NetworkPlanSpec {
        name: inputs.object_name(r.name()),
        spec: spec.clone(),
        labels,
        hash,
    }
}

/// Containers worth inspecting: every managed one (the engine adds those) plus
/// any whose name a desired workload will take, to spot unmanaged conflicts.
pub fn observe_scope(desired: &desired_state::DesiredState, inputs: &Inputs) -> ObserveScope {
    ObserveScope {
        container_names: desired
            .workloads()
            .map(|r| inputs.object_name(r.name()))
            .collect(),
        project: Some(inputs.project.clone()),
        member_networks: isolated_networks(desired, inputs),
    }
}

/// The engine names of the networks an IsolationPolicy guards.
pub fn isolated_networks(
    desired: &desired_state::DesiredState,
    inputs: &Inputs,
) -> BTreeSet<String> {
    desired
        .resources
        .iter()
        .filter_map(|r| match &r.spec {
            Spec::IsolationPolicy(p) => Some(inputs.network_name(&p.network)),
            _ => None,
        })
        .collect()
}
