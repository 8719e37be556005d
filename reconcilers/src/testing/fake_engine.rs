//! An in-memory engine that behaves like Docker where lucidctl depends on it:
//! names are unique (create and rename onto an existing name conflict),
//! missing objects are 404s (images included), a network with containers
//! cannot be removed, creating an existing volume returns it unchanged, and
//! health follows the healthcheck. Every call is logged, faults can be
//! injected, and the test can change things "by hand" as a user would.

use crate::engine::{
    BuildEvent, BuildFailure, BuildProgress, BuildRequest, Credentials, EngineApi, EngineError,
    EngineEvent, EventObject,
};
use crate::observed::*;
use crate::render::{
    ContainerSpec, MountFrom, NetworkPlanSpec, RenderedAttachment, VolumePlanSpec,
};
use desired_state::model::Kind;
use futures_util::stream::{BoxStream, StreamExt};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// Env key a test sets on a workload to choose how the fake runs it:
/// `unhealthy` (the healthcheck fails), `exit:N` (the process exits with N
/// right after start), `never-ready` (health stays `starting`, probes fail),
/// `slow-health` (health stays `starting`, as before Docker's first check,
/// but the healthcheck command passes when lucidctl runs it).
pub const BEHAVIOUR_ENV: &str = "FAKE_BEHAVIOUR";

#[derive(Debug, Clone)]
struct FakeContainer {
    observed: ObservedContainer,
    behaviour: String,
    has_healthcheck: bool,
    /// What the container printed, for `logs`.
    output: Vec<(crate::engine::LogStream, String)>,
    /// The runtime still holds a task of this container: every start fails.
    stale_task: bool,
}

#[derive(Default)]
struct World {
    containers: BTreeMap<String, FakeContainer>,
    networks: BTreeMap<String, ObservedNetwork>,
    volumes: BTreeMap<String, ObservedVolume>,
    images: BTreeMap<String, ObservedImage>,
    /// What a pull can fetch.
    registry: BTreeMap<String, ObservedImage>,
    calls: Vec<String>,
    /// Call prefix (e.g. "start lucid-redis") to the error it fails with, once.
    faults: Vec<(String, EngineError)>,
    next_id: u64,
    reachable: bool,
}

/// Cheap to clone; clones share one world.
#[derive(Clone)]
pub struct FakeEngine {
    world: Arc<Mutex<World>>,
    events: broadcast::Sender<EngineEvent>,
}

impl Default for FakeEngine {
    fn default() -> Self {
        Self::new()
    }
}

fn not_found(what: String) -> EngineError {
    EngineError::NotFound { what }
}

fn conflict(what: String, message: &str) -> EngineError {
    EngineError::Conflict {
        what,
        message: message.to_string(),
    }
}

impl FakeEngine {
    pub fn new() -> FakeEngine {
        let (events, _) = broadcast::channel(4096);
        FakeEngine {
            world: Arc::new(Mutex::new(World {
                reachable: true,
                ..World::default()
            })),
            events,
        }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        // A panicking test thread poisons the lock; the world is still usable.
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(
        &self,
        object: EventObject,
        action: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) {
        let _ = self.events.send(EngineEvent {
            object,
            action: action.to_string(),
            name: name.to_string(),
            attributes: labels.clone(),
            time_nano: 0,
        });
    }

    /// Logs the call and returns an injected fault for it, if any.
    fn call(&self, what: String) -> Result<MutexGuard<'_, World>, EngineError> {
        let mut w = self.world();
        if !w.reachable {
            return Err(EngineError::ConnectionLost {
                what,
                cause: "the fake engine is unreachable".into(),
            });
        }
        w.calls.push(what.clone());
        if let Some(i) = w
            .faults
            .iter()
            .position(|(p, _)| what.starts_with(p.as_str()))
        {
            let (_, e) = w.faults.remove(i);
            return Err(e);
        }
        Ok(w)
    }

    // ---- set-up and inspection for tests ----

    /// An image the engine has, under `reference` (with tag).
    pub fn add_image(&self, reference: &str) -> String {
        let mut w = self.world();
        w.next_id += 1;
        let id = format!("sha256:{:064x}", w.next_id);
        w.images.insert(
            reference.to_string(),
            ObservedImage {
                id: id.clone(),
                ..ObservedImage::default()
            },
        );
        id
    }

    /// An image a pull of `reference` can fetch.
    /// Pushes an image under `reference` (again: a new digest behind the
    /// same tag); returns its registry digest.
    pub fn add_to_registry(&self, reference: &str) -> String {
        let mut w = self.world();
        w.next_id += 1;
        let id = format!("sha256:{:064x}", w.next_id);
        let digest = format!("sha256:{:064x}", w.next_id + (1 << 40));
        let (repository, _) = desired_state::model::split_tag(reference);
        w.registry.insert(
            reference.to_string(),
            ObservedImage {
                id,
                repo_digests: vec![format!("{repository}@{digest}")],
                ..ObservedImage::default()
            },
        );
        digest
    }

    /// The image the engine has under `reference`.
    pub fn image(&self, reference: &str) -> Option<ObservedImage> {
        self.world().images.get(reference).cloned()
    }

    /// The next call whose description starts with `prefix` fails with `error`.
    pub fn fail_next(&self, prefix: &str, error: EngineError) {
        self.world().faults.push((prefix.to_string(), error));
    }

    /// Every call so far, e.g. "create container web", "start container web".
    pub fn calls(&self) -> Vec<String> {
        self.world().calls.clone()
    }

    /// Mutating calls only (observe and inspect left out).
    pub fn mutations(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| {
                !c.starts_with("observe")
                    && !c.starts_with("inspect")
                    && !c.starts_with("ping")
                    && !c.starts_with("volume labels")
            })
            .collect()
    }

    pub fn clear_calls(&self) {
        self.world().calls.clear();
    }

    /// Every call fails as a lost connection while false.
    pub fn set_reachable(&self, reachable: bool) {
        self.world().reachable = reachable;
    }

    pub fn container(&self, name: &str) -> Option<ObservedContainer> {
        self.world()
            .containers
            .get(name)
            .map(|c| c.observed.clone())
    }

    pub fn container_names(&self) -> Vec<String> {
        self.world().containers.keys().cloned().collect()
    }

    pub fn network_names(&self) -> Vec<String> {
        self.world().networks.keys().cloned().collect()
    }

    pub fn volume_names(&self) -> Vec<String> {
        self.world().volumes.keys().cloned().collect()
    }

    /// `docker rm -f` by hand.
    pub fn remove_by_hand(&self, name: &str) {
        let removed = {
            let mut w = self.world();
            let removed = w.containers.remove(name);
            for n in w.networks.values_mut() {
                n.containers.retain(|c| c != name);
            }
            removed
        };
        if let Some(c) = removed {
            self.emit(EventObject::Container, "die", name, &c.observed.labels);
            self.emit(EventObject::Container, "destroy", name, &c.observed.labels);
        }
    }

    /// `docker network rm` by hand (of a network nothing is attached to).
    pub fn remove_network_by_hand(&self, name: &str) {
        let removed = self.world().networks.remove(name);
        if let Some(n) = removed {
            self.emit(EventObject::Network, "destroy", name, &n.labels);
        }
    }

    /// Makes the container print `line` on stdout or stderr.
    pub fn print(&self, name: &str, stream: crate::engine::LogStream, line: &str) {
        if let Some(c) = self.world().containers.get_mut(name) {
            c.output.push((stream, format!("{line}\n")));
        }
    }

    /// `docker stop` by hand.
    pub fn stop_by_hand(&self, name: &str) {
        let labels = {
            let mut w = self.world();
            let Some(c) = w.containers.get_mut(name) else {
                return;
            };
            c.observed.state = Some(RunState::Exited);
            c.observed.exit_code = Some(0);
            c.observed.labels.clone()
        };
        self.emit(EventObject::Container, "die", name, &labels);
    }

    /// What Docker's own health checks would have found by now.
    pub fn set_health(&self, name: &str, health: Health, failing_streak: i64) {
        let labels = {
            let mut w = self.world();
            let Some(c) = w.containers.get_mut(name) else {
                return;
            };
            c.observed.health = Some(health);
            c.observed.failing_streak = Some(failing_streak);
            c.observed.labels.clone()
        };
        self.emit(
            EventObject::Container,
            "health_status: unhealthy",
            name,
            &labels,
        );
    }

    /// A daemon restart that left the runtime holding the container's old
    /// task: the container is stopped and no start of it succeeds again
    /// (moby/moby#36145); only a new container runs.
    pub fn leave_stale_task(&self, name: &str) {
        let labels = {
            let mut w = self.world();
            let Some(c) = w.containers.get_mut(name) else {
                return;
            };
            c.observed.state = Some(RunState::Exited);
            c.observed.health = None;
            c.stale_task = true;
            c.observed.labels.clone()
        };
        self.emit(EventObject::Container, "die", name, &labels);
    }

    /// `docker network connect` by hand.
    pub fn connect_by_hand(&self, container: &str, network: &str) {
        let labels = {
            let mut w = self.world();
            if let Some(n) = w.networks.get_mut(network) {
                n.containers.push(container.to_string());
            }
            let Some(c) = w.containers.get_mut(container) else {
                return;
            };
            c.observed
                .config
                .networks
                .insert(network.to_string(), ObservedAttachment::default());
            c.observed.labels.clone()
        };
        self.emit(EventObject::Network, "connect", network, &labels);
    }

    /// An event about an object this world does not hold, as a neighbour
    /// (another project, a test beside it) causes on a shared engine.
    pub fn event_elsewhere(
        &self,
        object: EventObject,
        action: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) {
        self.emit(object, action, name, labels);
    }

    /// A container created outside lucidctl (no ownership label).
    pub fn add_foreign_container(&self, name: &str) {
        let mut w = self.world();
        w.next_id += 1;
        let id = format!("{:064x}", w.next_id);
        w.containers.insert(
            name.to_string(),
            FakeContainer {
                observed: ObservedContainer {
                    id,
                    name: name.to_string(),
                    state: Some(RunState::Running),
                    ..ObservedContainer::default()
                },
                behaviour: String::new(),
                has_healthcheck: false,
                output: Vec::new(),
                stale_task: false,
            },
        );
    }
}

/// Docker's network list leaves out who is attached; the engine inspects
/// only the scope's `member_networks` to fill it in.
fn networks_as_listed(
    networks: &BTreeMap<String, ObservedNetwork>,
    scope: &ObserveScope,
) -> Vec<ObservedNetwork> {
    networks
        .values()
        .map(|n| {
            let mut n = n.clone();
            if !scope.member_networks.contains(&n.name) {
                n.containers.clear();
            }
            n
        })
        .collect()
}

/// What Docker's filtered list holds: the project's managed containers (every
/// managed one without a project), and any at a name the files want.
fn in_scope(c: &ObservedContainer, scope: &ObserveScope) -> bool {
    let ours = c.is_managed()
        && scope
            .project
            .as_deref()
            .is_none_or(|p| c.label(crate::labels::PROJECT) == Some(p));
    ours || scope.container_names.contains(&c.name)
}

/// What `docker inspect` would show for a container created from `spec`.
fn observed_config(spec: &ContainerSpec) -> ObservedConfig {
    ObservedConfig {
        env: spec
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().to_string()))
            .collect(),
        cmd: spec.command.clone(),
        entrypoint: spec.entrypoint.clone(),
        user: spec.user.clone(),
        working_dir: spec.working_dir.clone(),
        healthcheck_test: spec.healthcheck.as_ref().map(|h| h.test.clone()),
        healthcheck_interval: spec
            .healthcheck
            .as_ref()
            .and_then(|h| h.interval.map(|d| d.0)),
        ports: {
            let mut ports: Vec<ObservedPort> = spec
                .ports
                .iter()
                .filter(|p| p.host_port.is_some())
                .map(|p| ObservedPort {
                    container_port: p.container_port,
                    protocol: p.protocol.as_str().to_string(),
                    host_ip: Some(
                        p.host_ip
                            .map(|i| i.to_string())
                            .unwrap_or_else(|| "0.0.0.0".into()),
                    ),
                    host_port: p.host_port,
                })
                .collect();
            ports.sort();
            ports
        },
        networks: spec
            .networks
            .iter()
            .take(1)
            .map(|a| (a.network.clone(), attachment(a)))
            .collect(),
        mounts: spec
            .mounts
            .iter()
            .map(|m| {
                let source = match &m.from {
                    MountFrom::Volume(v) | MountFrom::HostPath(v) => v.clone(),
                    MountFrom::Anonymous => format!("anonymous-{}", spec.name),
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
        restart: Some(
            spec.restart
                .map(|r| r.as_str().to_string())
                .unwrap_or_else(|| "no".into()),
        ),
        memory: spec.memory,
        nano_cpus: spec.nano_cpus,
        read_only_rootfs: Some(spec.security.read_only_root_filesystem),
        cap_drop: spec.security.cap_drop.clone(),
        cap_add: spec.security.cap_add.clone(),
        init: spec.init,
        privileged: Some(spec.security.privileged),
        runtime: spec.runtime.clone(),
    }
}

fn attachment(a: &RenderedAttachment) -> ObservedAttachment {
    ObservedAttachment {
        aliases: a.aliases.clone(),
        ipv4_address: a.ipv4_address.clone(),
        network_id: None,
    }
}

#[async_trait::async_trait]
impl EngineApi for FakeEngine {
    fn host(&self) -> &str {
        "fake://"
    }

    async fn ping(&self) -> Result<(), EngineError> {
        self.call("ping".into()).map(|_| ())
    }

    async fn observe(&self, scope: &ObserveScope) -> Result<Observed, EngineError> {
        let w = self.call("observe".into())?;
        Ok(Observed {
            containers: w
                .containers
                .values()
                .filter(|c| in_scope(&c.observed, scope))
                .map(|c| c.observed.clone())
                .collect(),
            networks: networks_as_listed(&w.networks, scope),
            volumes: w.volumes.values().cloned().collect(),
            images: w.images.clone(),
        })
    }

    /// As Docker's list shows them: labels, state, health, network names and
    /// mount targets; no env, command, ports, aliases or resources.
    async fn observe_listed(&self, scope: &ObserveScope) -> Result<Observed, EngineError> {
        let mut observed = {
            let w = self.call("observe listed".into())?;
            Observed {
                containers: w
                    .containers
                    .values()
                    .filter(|c| in_scope(&c.observed, scope))
                    .map(|c| c.observed.clone())
                    .collect(),
                networks: networks_as_listed(&w.networks, scope),
                volumes: w.volumes.values().cloned().collect(),
                images: w.images.clone(),
            }
        };
        for c in &mut observed.containers {
            c.summary_only = true;
            c.failing_streak = None;
            if c.state != Some(RunState::Exited) {
                c.exit_code = None;
            }
            let full = std::mem::take(&mut c.config);
            c.config.networks = full
                .networks
                .into_keys()
                .map(|n| (n, Default::default()))
                .collect();
            c.config.mounts = full.mounts;
        }
        Ok(observed)
    }

    async fn inspect_container(
        &self,
        name: &str,
    ) -> Result<Option<ObservedContainer>, EngineError> {
        let w = self.call(format!("inspect container {name}"))?;
        Ok(w.containers.get(name).map(|c| c.observed.clone()))
    }

    async fn create_container(
        &self,
        spec: &ContainerSpec,
        name: &str,
    ) -> Result<String, EngineError> {
        let what = format!("create container {name}");
        let mut w = self.call(what.clone())?;
        if w.containers.contains_key(name) {
            return Err(conflict(
                what,
                &format!("the container name \"/{name}\" is already in use"),
            ));
        }
        let Some(image) = w.images.get(&spec.image).cloned() else {
            return Err(not_found(format!("{what} (No such image: {})", spec.image)));
        };
        if let Some(first) = spec.networks.first() {
            if !w.networks.contains_key(&first.network) {
                return Err(not_found(format!(
                    "{what} (network {} not found)",
                    first.network
                )));
            }
        }
        for m in &spec.mounts {
            if let MountFrom::Volume(v) = &m.from {
                // Docker creates a missing named volume silently; lucidctl must not rely on it.
                if !w.volumes.contains_key(v) {
                    w.volumes.insert(
                        v.clone(),
                        ObservedVolume {
                            name: v.clone(),
                            driver: "local".into(),
                            ..ObservedVolume::default()
                        },
                    );
                }
            }
        }
        w.next_id += 1;
        let id = format!("{:064x}", w.next_id);
        if let Some(first) = spec.networks.first() {
            if let Some(n) = w.networks.get_mut(&first.network) {
                n.containers.push(name.to_string());
            }
        }
        let behaviour = spec
            .env
            .get(BEHAVIOUR_ENV)
            .map(|v| v.expose().to_string())
            .unwrap_or_default();
        w.containers.insert(
            name.to_string(),
            FakeContainer {
                observed: ObservedContainer {
                    id: id.clone(),
                    name: name.to_string(),
                    labels: spec.labels.clone(),
                    image_id: image.id,
                    image_ref: spec.image.clone(),
                    state: Some(RunState::Created),
                    health: None,
                    failing_streak: None,
                    exit_code: Some(0),
                    start_error: None,
                    summary_only: false,
                    config: observed_config(spec),
                },
                behaviour,
                has_healthcheck: spec.healthcheck.is_some(),
                output: Vec::new(),
                stale_task: false,
            },
        );
        Ok(id)
    }

    async fn start_container(&self, name: &str) -> Result<(), EngineError> {
        let what = format!("start container {name}");
        let labels = {
            let mut w = self.call(what.clone())?;
            let Some(c) = w.containers.get_mut(name) else {
                return Err(not_found(what));
            };
            if c.stale_task {
                // As Docker 20.10 answers, and records in State.Error.
                let message = format!("task {}: already exists", c.observed.id);
                c.observed.start_error = Some(message.clone());
                return Err(EngineError::Api {
                    what,
                    status: 500,
                    message,
                });
            }
            let job = c.observed.label(crate::labels::KIND) == Some(Kind::Job.as_str());
            if let Some(code) = c.behaviour.strip_prefix("exit:") {
                c.observed.state = Some(RunState::Exited);
                c.observed.exit_code = Some(code.parse().unwrap_or(1));
            } else if job {
                c.observed.state = Some(RunState::Exited);
                c.observed.exit_code = Some(0);
            } else {
                c.observed.state = Some(RunState::Running);
                c.observed.health = c.has_healthcheck.then_some(match c.behaviour.as_str() {
                    "unhealthy" => Health::Unhealthy,
                    // Docker's first check is still an interval away; a probe passes.
                    "never-ready" | "slow-health" => Health::Starting,
                    _ => Health::Healthy,
                });
            }
            c.observed.labels.clone()
        };
        self.emit(EventObject::Container, "start", name, &labels);
        Ok(())
    }

    async fn stop_container(&self, name: &str, _grace: Option<i64>) -> Result<(), EngineError> {
        let what = format!("stop container {name}");
        let labels = {
            let mut w = self.call(what.clone())?;
            let Some(c) = w.containers.get_mut(name) else {
                return Err(not_found(what));
            };
            if c.observed.state != Some(RunState::Running) {
                return Ok(());
            }
            c.observed.state = Some(RunState::Exited);
            c.observed.health = None;
            c.observed.labels.clone()
        };
        self.emit(EventObject::Container, "die", name, &labels);
        Ok(())
    }

    async fn remove_container(&self, name: &str) -> Result<(), EngineError> {
        let removed = {
            let mut w = self.call(format!("remove container {name}"))?;
            let removed = w.containers.remove(name);
            for n in w.networks.values_mut() {
                n.containers.retain(|c| c != name);
            }
            removed
        };
        if let Some(c) = removed {
            self.emit(EventObject::Container, "destroy", name, &c.observed.labels);
        }
        Ok(())
    }

    async fn rename_container(&self, from: &str, to: &str) -> Result<(), EngineError> {
        let what = format!("rename container {from} to {to}");
        let mut w = self.call(what.clone())?;
        if w.containers.contains_key(to) {
            return Err(conflict(
                what,
                &format!("the container name \"/{to}\" is already in use"),
            ));
        }
        let Some(mut c) = w.containers.remove(from) else {
            return Err(not_found(what));
        };
        c.observed.name = to.to_string();
        w.containers.insert(to.to_string(), c);
        for n in w.networks.values_mut() {
            for member in n.containers.iter_mut().filter(|m| *m == from) {
                *member = to.to_string();
            }
        }
        Ok(())
    }

    async fn connect_network(
        &self,
        container: &str,
        a: &RenderedAttachment,
    ) -> Result<(), EngineError> {
        let what = format!("connect {container} to {}", a.network);
        let mut w = self.call(what.clone())?;
        if !w.networks.contains_key(&a.network) {
            return Err(not_found(format!(
                "{what} (network {} not found)",
                a.network
            )));
        }
        let Some(c) = w.containers.get_mut(container) else {
            return Err(not_found(format!("{what} (no such container)")));
        };
        if c.observed.config.networks.contains_key(&a.network) {
            return Err(EngineError::Api {
                what,
                status: 403,
                message: format!(
                    "endpoint with name {container} already exists in network {}",
                    a.network
                ),
            });
        }
        c.observed
            .config
            .networks
            .insert(a.network.clone(), attachment(a));
        if let Some(n) = w.networks.get_mut(&a.network) {
            n.containers.push(container.to_string());
        }
        Ok(())
    }

    async fn disconnect_network(&self, container: &str, network: &str) -> Result<(), EngineError> {
        let what = format!("disconnect {container} from {network}");
        let mut w = self.call(what.clone())?;
        let Some(c) = w.containers.get_mut(container) else {
            return Err(not_found(what));
        };
        if c.observed.config.networks.remove(network).is_none() {
            return Err(EngineError::Api {
                what,
                status: 403,
                message: format!("container {container} is not connected to network {network}"),
            });
        }
        if let Some(n) = w.networks.get_mut(network) {
            n.containers.retain(|m| m != container);
        }
        Ok(())
    }

    async fn create_network(&self, n: &NetworkPlanSpec) -> Result<(), EngineError> {
        let what = format!("create network {}", n.name);
        let mut w = self.call(what.clone())?;
        if w.networks.contains_key(&n.name) {
            return Err(conflict(
                what,
                &format!("network with name {} already exists", n.name),
            ));
        }
        w.next_id += 1;
        let id = format!("{:064x}", w.next_id);
        w.networks.insert(
            n.name.clone(),
            ObservedNetwork {
                id,
                name: n.name.clone(),
                labels: n.labels.clone(),
                driver: n.spec.driver().to_string(),
                subnets: n.spec.subnet.iter().map(|s| s.to_string()).collect(),
                internal: n.spec.internal,
                containers: Vec::new(),
            },
        );
        Ok(())
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        let what = format!("remove network {name}");
        let mut w = self.call(what.clone())?;
        if w.networks
            .get(name)
            .is_some_and(|n| !n.containers.is_empty())
        {
            return Err(conflict(
                what,
                &format!("error while removing network: network {name} has active endpoints"),
            ));
        }
        w.networks.remove(name);
        Ok(())
    }

    async fn create_volume(&self, v: &VolumePlanSpec) -> Result<(), EngineError> {
        let mut w = self.call(format!("create volume {}", v.name))?;
        w.volumes
            .entry(v.name.clone())
            .or_insert_with(|| ObservedVolume {
                name: v.name.clone(),
                labels: v.labels.clone(),
                driver: v.driver.clone().unwrap_or_else(|| "local".into()),
                driver_opts: v.driver_opts.clone(),
            });
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        let what = format!("remove volume {name}");
        let mut w = self.call(what.clone())?;
        let in_use = w
            .containers
            .values()
            .any(|c| c.observed.config.mounts.values().any(|m| m.source == name));
        if in_use {
            return Err(conflict(what, &format!("remove {name}: volume is in use")));
        }
        w.volumes.remove(name);
        Ok(())
    }

    async fn volume_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, EngineError> {
        let w = self.call(format!("volume labels {name}"))?;
        Ok(w.volumes.get(name).map(|v| v.labels.clone()))
    }

    async fn exec(
        &self,
        name: &str,
        argv: &[String],
        _timeout: std::time::Duration,
    ) -> Result<i64, EngineError> {
        let what = format!("exec in {name}: {}", argv.join(" "));
        let w = self.call(what.clone())?;
        let Some(c) = w.containers.get(name) else {
            return Err(not_found(what));
        };
        if c.observed.state != Some(RunState::Running) {
            return Err(conflict(what, &format!("container {name} is not running")));
        }
        // The probe passes exactly when Docker's healthcheck would.
        Ok(
            if matches!(c.behaviour.as_str(), "unhealthy" | "never-ready") {
                1
            } else {
                0
            },
        )
    }

    async fn pull_image(&self, reference: &str) -> Result<(), EngineError> {
        let what = format!("pull {reference}");
        let mut w = self.call(what.clone())?;
        let Some(image) = w.registry.get(reference).cloned() else {
            return Err(not_found(format!("{what} (manifest unknown)")));
        };
        w.images.insert(reference.to_string(), image);
        Ok(())
    }

    async fn build_image(
        &self,
        request: &BuildRequest,
        progress: BuildProgress<'_>,
    ) -> Result<(), BuildFailure> {
        let mut w = self
            .call(format!("build {}", request.tag))
            .map_err(|e| BuildFailure {
                tag: request.tag.clone(),
                step: None,
                message: e.to_string(),
                last_lines: Vec::new(),
            })?;
        progress(BuildEvent::Step {
            name: "fake build".into(),
            cached: false,
        });
        w.next_id += 1;
        let id = format!("sha256:{:064x}", w.next_id);
        w.images.insert(
            request.tag.clone(),
            ObservedImage {
                id,
                labels: request.labels.clone(),
                architecture: String::new(),
                repo_digests: Vec::new(),
            },
        );
        Ok(())
    }

    async fn push_image(
        &self,
        reference: &str,
        _credentials: Option<Credentials>,
    ) -> Result<(), EngineError> {
        let w = self.call(format!("push {reference}"))?;
        if !w.images.contains_key(reference) {
            return Err(not_found(format!("push {reference}")));
        }
        Ok(())
    }

    async fn platform(&self) -> Result<(String, String), EngineError> {
        self.call("platform".into())
            .map(|_| ("linux".to_string(), "amd64".to_string()))
    }

    /// The digest the fake registry holds for `reference` (the first repo
    /// digest of its image there); 404 when it has none, as a registry says.
    async fn registry_digest(
        &self,
        reference: &str,
        _credentials: Option<Credentials>,
    ) -> Result<String, EngineError> {
        let what = format!("ask the registry for {reference}");
        let w = self.call(what.clone())?;
        w.registry
            .get(reference)
            .and_then(|i| i.repo_digests.first())
            .and_then(|d| d.split_once('@'))
            .map(|(_, d)| d.to_string())
            .ok_or_else(|| not_found(format!("{what} (manifest unknown)")))
    }

    /// What the container printed so far (no following: the fake prints
    /// nothing on its own); a missing container is a 404, as in Docker.
    fn logs(
        &self,
        name: &str,
        options: &crate::engine::LogOptions,
    ) -> BoxStream<'static, Result<crate::engine::LogChunk, EngineError>> {
        let what = format!("logs of {name}");
        let items: Vec<Result<crate::engine::LogChunk, EngineError>> = match self.call(what.clone())
        {
            Err(e) => vec![Err(e)],
            Ok(w) => match w.containers.get(name) {
                None => vec![Err(not_found(format!("{what} (No such container)")))],
                Some(c) => {
                    let skip = options
                        .tail
                        .map_or(0, |n| c.output.len().saturating_sub(n as usize));
                    c.output
                        .iter()
                        .skip(skip)
                        .map(|(stream, line)| {
                            Ok(crate::engine::LogChunk {
                                stream: *stream,
                                bytes: bytes::Bytes::from(line.clone()),
                            })
                        })
                        .collect()
                }
            },
        };
        futures_util::stream::iter(items).boxed()
    }

    fn events(&self) -> BoxStream<'static, Result<EngineEvent, EngineError>> {
        let rx = self.events.subscribe();
        futures_util::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(e) => return Some((Ok(e), rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .boxed()
    }
}
