//! The Swarm side of the engine seam: services, tasks, overlay networks,
//! configs, secrets and nodes through bollard, in lucidctl's own types.

pub mod convert;

use super::{Engine, EngineError};
use crate::swarm_spec::model::*;
use base64::Engine as _;
use bollard::models::{ConfigSpec, Ipam, IpamConfig, NetworkCreateRequest, SecretSpec};
use bollard::query_parameters::{
    InspectServiceOptions, ListConfigsOptions, ListNetworksOptions, ListNodesOptions,
    ListSecretsOptions, ListServicesOptions, ListTasksOptions, UpdateServiceOptions,
};
use convert::DataIds;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;

/// Everything `--target swarm` asks of a manager.
#[async_trait::async_trait]
pub trait SwarmApi: Send + Sync {
    fn host(&self) -> &str;
    /// Every service (lucidctl's and others, for conflicts and isolation),
    /// their tasks, overlay networks, configs, secrets and image tags.
    async fn observe_swarm(&self) -> Result<ObservedSwarm, EngineError>;
    /// One service with its tasks; None when it does not exist.
    async fn service(&self, name: &str) -> Result<Option<ObservedService>, EngineError>;
    async fn create_service(&self, s: &SwarmService) -> Result<(), EngineError>;
    /// Sends `s` as the service's new spec; `rerun` forces new tasks with
    /// no other change (a Job run again).
    async fn update_service(&self, s: &SwarmService, rerun: bool) -> Result<(), EngineError>;
    /// A missing service is not an error.
    async fn remove_service(&self, name: &str) -> Result<(), EngineError>;
    async fn create_overlay(&self, n: &SwarmNetwork) -> Result<(), EngineError>;
    /// A missing network is not an error.
    async fn remove_network(&self, name: &str) -> Result<(), EngineError>;
    /// Whether this node still lists the network (a removed overlay lingers
    /// for a few seconds while its last task containers go).
    async fn network_exists(&self, name: &str) -> Result<bool, EngineError>;
    async fn create_data(&self, d: &SwarmData) -> Result<(), EngineError>;
    /// A missing config or secret is not an error; one in use is.
    async fn remove_data(&self, kind: FileKind, name: &str) -> Result<(), EngineError>;
    async fn nodes(&self) -> Result<Vec<SwarmNode>, EngineError>;
    /// The names of services created, updated or removed from now on (the
    /// manager's service events): triggers for drift repair.
    fn service_events(
        &self,
    ) -> futures_util::stream::BoxStream<'static, Result<String, EngineError>>;
}

fn labels_of(l: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    l.unwrap_or_default().into_iter().collect()
}

fn enum_str<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Engine {
    async fn within<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        tokio::time::timeout(self.deadline, call)
            .await
            .unwrap_or_else(|_| Err(EngineError::too_slow(what, self.deadline)))
    }

    async fn network_names(&self) -> Result<BTreeMap<String, String>, EngineError> {
        let list = self
            .docker
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(|e| EngineError::from_bollard("list networks", e))?;
        Ok(list
            .into_iter()
            .filter_map(|n| Some((n.id?, n.name?)))
            .collect())
    }

    async fn tasks(
        &self,
        service: Option<&str>,
    ) -> Result<Vec<bollard::models::Task>, EngineError> {
        let mut filters = HashMap::new();
        if let Some(s) = service {
            filters.insert("service".to_string(), vec![s.to_string()]);
        }
        self.docker
            .list_tasks(Some(ListTasksOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|e| EngineError::from_bollard("list tasks", e))
    }

    async fn data_ids(&self) -> Result<DataIds, EngineError> {
        let mut ids = DataIds::new();
        let configs = self
            .docker
            .list_configs(None::<ListConfigsOptions>)
            .await
            .map_err(|e| EngineError::from_bollard("list configs", e))?;
        for c in configs {
            if let (Some(id), Some(name)) = (c.id, c.spec.and_then(|s| s.name)) {
                ids.insert((FileKind::Config, name), id);
            }
        }
        let secrets = self
            .docker
            .list_secrets(None::<ListSecretsOptions>)
            .await
            .map_err(|e| EngineError::from_bollard("list secrets", e))?;
        for s in secrets {
            if let (Some(id), Some(name)) = (s.id, s.spec.and_then(|s| s.name)) {
                ids.insert((FileKind::Secret, name), id);
            }
        }
        Ok(ids)
    }

    async fn inspect_service_raw(
        &self,
        name: &str,
    ) -> Result<Option<bollard::models::Service>, EngineError> {
        match self
            .docker
            .inspect_service(name, None::<InspectServiceOptions>)
            .await
        {
            Ok(s) => Ok(Some(s)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(EngineError::from_bollard(
                format!("inspect service {name}"),
                e,
            )),
        }
    }

    async fn observe_swarm_unbounded(&self) -> Result<ObservedSwarm, EngineError> {
        let services = self
            .docker
            .list_services(None::<ListServicesOptions>)
            .await
            .map_err(|e| EngineError::from_bollard("list services", e))?;
        let (tasks, names, images, data) = tokio::try_join!(
            self.tasks(None),
            self.network_names(),
            self.observe_images(),
            self.data_objects()
        )?;
        let networks = self
            .docker
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(|e| EngineError::from_bollard("list networks", e))?
            .into_iter()
            .map(super::convert::network)
            .collect();
        let mut by_service: HashMap<String, Vec<bollard::models::Task>> = HashMap::new();
        for t in tasks {
            by_service
                .entry(t.service_id.clone().unwrap_or_default())
                .or_default()
                .push(t);
        }
        let services = services
            .into_iter()
            .map(|s| {
                let tasks = by_service
                    .remove(s.id.as_deref().unwrap_or_default())
                    .unwrap_or_default();
                service_of(s, tasks, &names)
            })
            .collect();
        let (configs, secrets) = data;
        Ok(ObservedSwarm {
            services,
            networks,
            configs,
            secrets,
            images,
        })
    }

    /// Configs and secrets, listed side by side.
    async fn data_objects(&self) -> Result<(Vec<SwarmObject>, Vec<SwarmObject>), EngineError> {
        let configs = async {
            self.docker
                .list_configs(None::<ListConfigsOptions>)
                .await
                .map_err(|e| EngineError::from_bollard("list configs", e))
        };
        let secrets = async {
            self.docker
                .list_secrets(None::<ListSecretsOptions>)
                .await
                .map_err(|e| EngineError::from_bollard("list secrets", e))
        };
        let (configs, secrets) = tokio::try_join!(configs, secrets)?;
        let configs = configs
            .into_iter()
            .map(|c| {
                let spec = c.spec.unwrap_or_default();
                swarm_object(c.id, spec.name, spec.labels)
            })
            .collect();
        let secrets = secrets
            .into_iter()
            .map(|c| {
                let spec = c.spec.unwrap_or_default();
                swarm_object(c.id, spec.name, spec.labels)
            })
            .collect();
        Ok((configs, secrets))
    }

    async fn send_update(
        &self,
        name: &str,
        build: impl FnOnce(&bollard::models::Service) -> bollard::models::ServiceSpec,
    ) -> Result<(), EngineError> {
        let what = format!("update service {name}");
        let current = self
            .inspect_service_raw(name)
            .await?
            .ok_or_else(|| EngineError::NotFound { what: what.clone() })?;
        let version = current.version.as_ref().and_then(|v| v.index).unwrap_or(0);
        let spec = build(&current);
        self.docker
            .update_service(
                name,
                spec,
                UpdateServiceOptions {
                    version: version as i32,
                    ..Default::default()
                },
                None,
            )
            .await
            .map(|_| ())
            .map_err(|e| EngineError::from_bollard(what, e))
    }
}

fn service_of(
    s: bollard::models::Service,
    tasks: Vec<bollard::models::Task>,
    network_names: &BTreeMap<String, String>,
) -> ObservedService {
    let spec = s.spec.clone().unwrap_or_default();
    let view = convert::view_of(&spec, network_names);
    let networks = spec
        .task_template
        .as_ref()
        .and_then(|t| t.networks.clone())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| n.target)
        .map(|t| network_names.get(&t).cloned().unwrap_or(t))
        .collect();
    let update = s.update_status.clone();
    ObservedService {
        id: s.id.clone().unwrap_or_default(),
        name: spec.name.clone().unwrap_or_default(),
        version: s.version.as_ref().and_then(|v| v.index).unwrap_or(0),
        labels: labels_of(spec.labels.clone()),
        view,
        is_job: spec
            .mode
            .as_ref()
            .is_some_and(|m| m.replicated_job.is_some()),
        networks,
        update_state: update.as_ref().and_then(|u| u.state.as_ref()).map(enum_str),
        update_message: update.and_then(|u| u.message),
        tasks: tasks.into_iter().map(task_of).collect(),
    }
}

fn task_of(t: bollard::models::Task) -> ObservedTask {
    let status = t.status.unwrap_or_default();
    ObservedTask {
        desired_state: t.desired_state.as_ref().map(enum_str).unwrap_or_default(),
        state: status.state.as_ref().map(enum_str).unwrap_or_default(),
        hash: t
            .spec
            .and_then(|s| s.container_spec)
            .and_then(|c| c.labels)
            .and_then(|l| l.get(TASK_HASH).cloned()),
        message: status.message.unwrap_or_default(),
        error: status.err,
        exit_code: status.container_status.and_then(|c| c.exit_code),
    }
}

#[async_trait::async_trait]
impl SwarmApi for Engine {
    fn host(&self) -> &str {
        Engine::host(self)
    }

    fn service_events(
        &self,
    ) -> futures_util::stream::BoxStream<'static, Result<String, EngineError>> {
        use futures_util::StreamExt;
        let filters = HashMap::from([("type".to_string(), vec!["service".to_string()])]);
        self.docker
            .events(Some(bollard::query_parameters::EventsOptions {
                filters: Some(filters),
                ..Default::default()
            }))
            .map(|item| {
                item.map(|m| {
                    m.actor
                        .and_then(|a| a.attributes)
                        .and_then(|a| a.get("name").cloned())
                        .unwrap_or_default()
                })
                .map_err(|e| EngineError::from_bollard("service events", e))
            })
            .boxed()
    }

    async fn observe_swarm(&self) -> Result<ObservedSwarm, EngineError> {
        self.within("observe swarm", self.observe_swarm_unbounded())
            .await
    }

    async fn service(&self, name: &str) -> Result<Option<ObservedService>, EngineError> {
        self.within("inspect service", async {
            let Some(s) = self.inspect_service_raw(name).await? else {
                return Ok(None);
            };
            let (tasks, names) = tokio::try_join!(self.tasks(Some(name)), self.network_names())?;
            Ok(Some(service_of(s, tasks, &names)))
        })
        .await
    }

    async fn create_service(&self, s: &SwarmService) -> Result<(), EngineError> {
        self.within("create service", async {
            let ids = self.data_ids().await?;
            self.docker
                .create_service(convert::service_spec(s, &ids, None), None)
                .await
                .map(|_| ())
                .map_err(|e| EngineError::from_bollard(format!("create service {}", s.name), e))
        })
        .await
    }

    async fn update_service(&self, s: &SwarmService, rerun: bool) -> Result<(), EngineError> {
        self.within("update service", async {
            let ids = self.data_ids().await?;
            self.send_update(&s.name, |current| {
                let force = current
                    .spec
                    .as_ref()
                    .and_then(|c| c.task_template.as_ref())
                    .and_then(|t| t.force_update)
                    .unwrap_or(0);
                convert::service_spec(s, &ids, Some(if rerun { force + 1 } else { force }))
            })
            .await
        })
        .await
    }

    async fn remove_service(&self, name: &str) -> Result<(), EngineError> {
        self.within("remove service", async {
            match self.docker.delete_service(name).await {
                Ok(()) => Ok(()),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => Ok(()),
                Err(e) => Err(EngineError::from_bollard(
                    format!("remove service {name}"),
                    e,
                )),
            }
        })
        .await
    }

    async fn create_overlay(&self, n: &SwarmNetwork) -> Result<(), EngineError> {
        let mut options = HashMap::new();
        if n.encrypted {
            options.insert("encrypted".to_string(), String::new());
        }
        let req = NetworkCreateRequest {
            name: n.name.clone(),
            driver: Some("overlay".into()),
            internal: Some(n.internal),
            attachable: Some(true),
            ipam: n.subnet.as_ref().map(|s| Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(s.clone()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            options: Some(options),
            labels: Some(
                n.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            ..Default::default()
        };
        self.within("create network", async {
            self.docker
                .create_network(req)
                .await
                .map(|_| ())
                .map_err(|e| {
                    EngineError::from_bollard(format!("create overlay network {}", n.name), e)
                })
        })
        .await
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        self.within("remove network", Engine::remove_network(self, name))
            .await
    }

    async fn network_exists(&self, name: &str) -> Result<bool, EngineError> {
        self.within("inspect network", async {
            Ok(self.network_names().await?.values().any(|n| n == name))
        })
        .await
    }

    async fn create_data(&self, d: &SwarmData) -> Result<(), EngineError> {
        let data = base64::engine::general_purpose::STANDARD.encode(&d.bytes);
        let labels = Some(
            d.labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
        let what = format!("create {} {} ({})", d.kind.as_str(), d.name, d.what);
        self.within("create config or secret", async {
            let result = match d.kind {
                FileKind::Config => self
                    .docker
                    .create_config(ConfigSpec {
                        name: Some(d.name.clone()),
                        labels,
                        data: Some(data),
                        ..Default::default()
                    })
                    .await
                    .map(|_| ()),
                FileKind::Secret => self
                    .docker
                    .create_secret(SecretSpec {
                        name: Some(d.name.clone()),
                        labels,
                        data: Some(data),
                        ..Default::default()
                    })
                    .await
                    .map(|_| ()),
            };
            result.map_err(|e| EngineError::from_bollard(what, e))
        })
        .await
    }

    async fn remove_data(&self, kind: FileKind, name: &str) -> Result<(), EngineError> {
        self.within("remove config or secret", async {
            let result = match kind {
                FileKind::Config => self.docker.delete_config(name).await,
                FileKind::Secret => self.docker.delete_secret(name).await,
            };
            match result {
                Ok(()) => Ok(()),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => Ok(()),
                Err(e) => Err(EngineError::from_bollard(
                    format!("remove {} {name}", kind.as_str()),
                    e,
                )),
            }
        })
        .await
    }

    async fn nodes(&self) -> Result<Vec<SwarmNode>, EngineError> {
        self.within("list nodes", async {
            let list = self
                .docker
                .list_nodes(None::<ListNodesOptions>)
                .await
                .map_err(|e| EngineError::from_bollard("list nodes", e))?;
            Ok(list
                .into_iter()
                .map(|n| {
                    let spec = n.spec.unwrap_or_default();
                    let desc = n.description.unwrap_or_default();
                    let platform = desc.platform.unwrap_or_default();
                    SwarmNode {
                        id: n.id.unwrap_or_default(),
                        hostname: desc.hostname.unwrap_or_default(),
                        role: spec.role.as_ref().map(enum_str).unwrap_or_default(),
                        state: n
                            .status
                            .and_then(|s| s.state)
                            .as_ref()
                            .map(enum_str)
                            .unwrap_or_default(),
                        availability: spec.availability.as_ref().map(enum_str).unwrap_or_default(),
                        os: platform.os.unwrap_or_default(),
                        architecture: platform.architecture.unwrap_or_default(),
                        labels: labels_of(spec.labels),
                    }
                })
                .collect())
        })
        .await
    }
}

/// A config or a secret as the plan sees it: its ID, name and labels.
fn swarm_object(
    id: Option<String>,
    name: Option<String>,
    labels: Option<HashMap<String, String>>,
) -> SwarmObject {
    SwarmObject {
        id: id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        labels: labels_of(labels),
    }
}
