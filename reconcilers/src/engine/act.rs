//! Writes to the engine: every mutation lucidctl makes goes through here.

use super::{Engine, EngineError, VolumePlanSpec};
use crate::render::{ContainerSpec, MountFrom, NetworkPlanSpec, RenderedAttachment};
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HealthConfig, HostConfig, Ipam,
    IpamConfig, Mount, MountType, NetworkConnectRequest, NetworkCreateRequest,
    NetworkDisconnectRequest, NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, RemoveContainerOptions, RemoveVolumeOptions, RenameContainerOptions,
    StartContainerOptions, StopContainerOptions,
};
use std::collections::{BTreeMap, HashMap};

fn map(labels: &BTreeMap<String, String>) -> HashMap<String, String> {
    labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn endpoint(a: &RenderedAttachment) -> EndpointSettings {
    EndpointSettings {
        aliases: (!a.aliases.is_empty()).then(|| a.aliases.clone()),
        ipam_config: a.ipv4_address.as_ref().map(|ip| EndpointIpamConfig {
            ipv4_address: Some(ip.clone()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `start_interval`: whether the engine knows HealthConfig.StartInterval (API 1.44+).
fn create_body(spec: &ContainerSpec, start_interval: bool) -> ContainerCreateBody {
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    let mut exposed = Vec::new();
    for p in &spec.ports {
        let key = format!("{}/{}", p.container_port, p.protocol.as_str());
        exposed.push(key.clone());
        if let Some(host) = p.host_port {
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: p.host_ip.map(|ip| ip.to_string()),
                    // Empty: a free port Docker picks.
                    host_port: Some(if host == 0 {
                        String::new()
                    } else {
                        host.to_string()
                    }),
                });
        }
    }
    // The mounts API cannot relabel for SELinux; such binds go the `Binds` way.
    let binds: Vec<String> = spec
        .mounts
        .iter()
        .filter_map(|m| {
            let (MountFrom::HostPath(source), Some(z)) = (&m.from, m.selinux) else {
                return None;
            };
            let rw = if m.read_only { "ro" } else { "rw" };
            Some(format!("{source}:{}:{rw},{z}", m.target))
        })
        .collect();
    let mounts = spec
        .mounts
        .iter()
        .filter(|m| !(matches!(m.from, MountFrom::HostPath(_)) && m.selinux.is_some()))
        .map(|m| {
            let (typ, source) = match &m.from {
                MountFrom::Volume(v) => (MountType::VOLUME, Some(v.clone())),
                MountFrom::HostPath(p) => (MountType::BIND, Some(p.clone())),
                MountFrom::Anonymous => (MountType::VOLUME, None),
            };
            Mount {
                target: Some(m.target.clone()),
                source,
                typ: Some(typ),
                read_only: Some(m.read_only),
                ..Default::default()
            }
        })
        .collect();
    let healthcheck = spec.healthcheck.as_ref().map(|h| HealthConfig {
        test: Some(h.test.clone()),
        interval: h.interval.map(|d| d.0.as_nanos() as i64),
        timeout: h.timeout.map(|d| d.0.as_nanos() as i64),
        retries: h.retries.map(i64::from),
        start_period: h.start_period.map(|d| d.0.as_nanos() as i64),
        start_interval: h
            .start_interval
            .filter(|_| start_interval)
            .map(|d| d.0.as_nanos() as i64),
        ..Default::default()
    });
    let restart = spec.restart.map(|r| RestartPolicy {
        name: Some(match r {
            desired_state::model::RestartPolicy::No => RestartPolicyNameEnum::NO,
            desired_state::model::RestartPolicy::Always => RestartPolicyNameEnum::ALWAYS,
            desired_state::model::RestartPolicy::UnlessStopped => {
                RestartPolicyNameEnum::UNLESS_STOPPED
            }
            desired_state::model::RestartPolicy::OnFailure => RestartPolicyNameEnum::ON_FAILURE,
        }),
        maximum_retry_count: None,
    });
    let sec = &spec.security;
    // API 1.41 attaches one network at create; the rest are connected before start.
    let first = spec.networks.first();
    let mut host_config = HostConfig {
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        mounts: Some(mounts),
        binds: (!binds.is_empty()).then_some(binds),
        restart_policy: restart,
        memory: spec.memory,
        nano_cpus: spec.nano_cpus,
        pids_limit: spec.pids_limit,
        readonly_rootfs: sec.read_only_root_filesystem.then_some(true),
        cap_drop: (!sec.cap_drop.is_empty()).then(|| sec.cap_drop.clone()),
        cap_add: (!sec.cap_add.is_empty()).then(|| sec.cap_add.clone()),
        security_opt: sec
            .no_new_privileges
            .then(|| vec!["no-new-privileges:true".to_string()]),
        privileged: sec.privileged.then_some(true),
        init: spec.init,
        network_mode: Some(
            first
                .map(|n| n.network.clone())
                .unwrap_or_else(|| "bridge".into()),
        ),
        ..Default::default()
    };
    super::runtime::fill_host_config(&mut host_config, &spec.runtime);
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        env: Some(
            spec.env
                .iter()
                .map(|(k, v)| format!("{k}={}", v.expose()))
                .collect(),
        ),
        cmd: spec.command.clone(),
        entrypoint: spec.entrypoint.clone(),
        user: spec.user.clone(),
        working_dir: spec.working_dir.clone(),
        labels: Some(map(&spec.labels)),
        healthcheck,
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        stop_timeout: spec.stop_grace_seconds,
        hostname: spec.runtime.hostname.clone(),
        stop_signal: spec.runtime.stop_signal.clone(),
        host_config: Some(host_config),
        networking_config: first.map(|n| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(n.network.clone(), endpoint(n))])),
        }),
        ..Default::default()
    }
}

impl Engine {
    /// Creates the container under `name`, attached to its first declared
    /// network; the others are separate connect operations. Does not start it.
    pub async fn create_container(
        &self,
        spec: &ContainerSpec,
        name: &str,
    ) -> Result<String, EngineError> {
        let what = format!("create container {name}");
        let options = CreateContainerOptions {
            name: Some(name.to_string()),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(Some(options), create_body(spec, self.api_at_least(1, 44)))
            .await
            .map_err(|e| EngineError::from_bollard(&what, e))?;
        Ok(created.id)
    }

    pub async fn connect_network(
        &self,
        container: &str,
        a: &RenderedAttachment,
    ) -> Result<(), EngineError> {
        let req = NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(endpoint(a)),
        };
        self.docker
            .connect_network(&a.network, req)
            .await
            .map_err(|e| {
                EngineError::from_bollard(format!("connect {container} to {}", a.network), e)
            })
    }

    pub async fn disconnect_network(
        &self,
        container: &str,
        network: &str,
    ) -> Result<(), EngineError> {
        let req = NetworkDisconnectRequest {
            container: container.to_string(),
            force: Some(true),
        };
        self.docker
            .disconnect_network(network, req)
            .await
            .map_err(|e| {
                EngineError::from_bollard(format!("disconnect {container} from {network}"), e)
            })
    }

    pub async fn start(&self, name: &str) -> Result<(), EngineError> {
        match self
            .docker
            .start_container(name, None::<StartContainerOptions>)
            .await
        {
            Ok(()) => Ok(()),
            // 304: already running, which is what was asked for.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::from_bollard(
                format!("start container {name}"),
                e,
            )),
        }
    }

    pub async fn stop(&self, name: &str, grace_seconds: Option<i64>) -> Result<(), EngineError> {
        let options = StopContainerOptions {
            t: grace_seconds.map(|t| t as i32),
            ..Default::default()
        };
        match self.docker.stop_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::from_bollard(
                format!("stop container {name}"),
                e,
            )),
        }
    }

    /// Force-removes a container; its volumes stay, anonymous ones included.
    pub async fn remove_container(&self, name: &str) -> Result<(), EngineError> {
        let options = RemoveContainerOptions {
            force: true,
            // No volume is removed unless a person asks: an image's VOLUME
            // (a database's data directory, say) is an anonymous volume too,
            // and `v=true` would delete it with the container. Old anonymous
            // volumes are left for `docker volume prune`.
            v: false,
            ..Default::default()
        };
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::from_bollard(
                format!("remove container {name}"),
                e,
            )),
        }
    }

    pub async fn rename(&self, from: &str, to: &str) -> Result<(), EngineError> {
        self.docker
            .rename_container(
                from,
                RenameContainerOptions {
                    name: to.to_string(),
                },
            )
            .await
            .map_err(|e| EngineError::from_bollard(format!("rename container {from} to {to}"), e))
    }

    pub async fn create_network(&self, n: &NetworkPlanSpec) -> Result<(), EngineError> {
        let ipam = n.spec.subnet.map(|s| Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(s.to_string()),
                gateway: n.spec.gateway.map(|g| g.to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let req = NetworkCreateRequest {
            name: n.name.clone(),
            driver: Some(n.spec.driver().to_string()),
            internal: Some(n.spec.internal),
            ipam,
            labels: Some(map(&n.labels)),
            ..Default::default()
        };
        self.docker
            .create_network(req)
            .await
            .map_err(|e| EngineError::from_bollard(format!("create network {}", n.name), e))?;
        self.settle_duplicate_network(n).await
    }

    /// Engine 20.10 creates a second network of an existing name unless the
    /// request says CheckDuplicate, which bollard no longer sends; and the
    /// create of an apply killed a moment ago can still be running in the
    /// daemon when the next apply looks, so both make one, and the name then
    /// resolves to neither ("network is ambiguous"). Of same-named networks of
    /// this project the oldest stays; a newer one goes while it is still empty.
    async fn settle_duplicate_network(&self, n: &NetworkPlanSpec) -> Result<(), EngineError> {
        let filters = HashMap::from([("name".to_string(), vec![n.name.clone()])]);
        let listed = self
            .docker
            .list_networks(Some(bollard::query_parameters::ListNetworksOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|e| EngineError::from_bollard(format!("list networks named {}", n.name), e))?;
        let mut same: Vec<_> = listed
            .into_iter()
            .filter(|x| x.name.as_deref() == Some(n.name.as_str()))
            .collect();
        if same.len() < 2 {
            return Ok(());
        }
        same.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        let project = n.labels.get(crate::labels::PROJECT);
        for newer in same.iter().skip(1) {
            let labels = newer.labels.clone().unwrap_or_default();
            let ours = labels.contains_key(crate::labels::MANAGED_BY)
                && labels.get(crate::labels::PROJECT) == project;
            let Some(id) = newer.id.as_deref().filter(|_| ours) else {
                continue;
            };
            // A list leaves the attached containers out; only an inspect shows them.
            let empty = self
                .docker
                .inspect_network(id, None::<bollard::query_parameters::InspectNetworkOptions>)
                .await
                .is_ok_and(|i| i.containers.as_ref().is_none_or(|c| c.is_empty()));
            if empty {
                tracing::warn!(
                    "network {} was created twice; removing the newer copy {id}",
                    n.name
                );
                let _ = self.docker.remove_network(id).await;
            }
        }
        Ok(())
    }

    pub async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::from_bollard(
                format!("remove network {name}"),
                e,
            )),
        }
    }

    pub async fn create_volume(&self, v: &VolumePlanSpec) -> Result<(), EngineError> {
        let name = &v.name;
        let req = VolumeCreateRequest {
            name: Some(name.clone()),
            driver: v.driver.clone(),
            driver_opts: (!v.driver_opts.is_empty()).then(|| map(&v.driver_opts)),
            labels: Some(map(&v.labels)),
            ..Default::default()
        };
        self.docker
            .create_volume(req)
            .await
            .map(|_| ())
            .map_err(|e| EngineError::from_bollard(format!("create volume {name}"), e))
    }

    /// Only ever called for an explicit `--prune-volumes`.
    pub async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        match self
            .docker
            .remove_volume(name, None::<RemoveVolumeOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::from_bollard(
                format!("remove volume {name}"),
                e,
            )),
        }
    }

    /// The volume's labels, or None when it does not exist.
    pub async fn volume_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, EngineError> {
        match self.docker.inspect_volume(name).await {
            Ok(v) => Ok(Some(v.labels.into_iter().collect())),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(EngineError::from_bollard(
                format!("inspect volume {name}"),
                e,
            )),
        }
    }

    /// One container's current state, for health and completion waits.
    pub async fn inspect(
        &self,
        name: &str,
    ) -> Result<Option<crate::observed::ObservedContainer>, EngineError> {
        match self
            .docker
            .inspect_container(
                name,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        {
            Ok(c) => Ok(Some(super::convert::container(c))),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(EngineError::from_bollard(
                format!("inspect container {name}"),
                e,
            )),
        }
    }

    /// Runs `argv` detached in `name`, then reads its exit code. Detached,
    /// because attaching needs a hijacked connection for nothing we read.
    pub async fn exec(
        &self,
        name: &str,
        argv: &[String],
        timeout: std::time::Duration,
    ) -> Result<i64, EngineError> {
        let what = format!("exec in {name}");
        let deadline = std::time::Instant::now() + timeout;
        let created = self
            .docker
            .create_exec(
                name,
                bollard::models::ExecConfig {
                    cmd: Some(argv.to_vec()),
                    attach_stdout: Some(false),
                    attach_stderr: Some(false),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| EngineError::from_bollard(&what, e))?;
        self.docker
            .start_exec(
                &created.id,
                Some(bollard::exec::StartExecOptions {
                    detach: true,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| EngineError::from_bollard(&what, e))?;
        let mut pause = std::time::Duration::from_millis(2);
        loop {
            let state = self
                .docker
                .inspect_exec(&created.id)
                .await
                .map_err(|e| EngineError::from_bollard(&what, e))?;
            if state.running != Some(true) {
                return Ok(state.exit_code.unwrap_or(-1));
            }
            if std::time::Instant::now() >= deadline {
                return Err(EngineError::Other {
                    what,
                    message: format!("still running after {timeout:?}"),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_millis(50));
        }
    }

    /// Pulls `reference`, waiting for the stream to finish and reporting
    /// the bytes downloaded so far.
    pub async fn pull(
        &self,
        reference: &str,
        progress: super::PullProgress<'_>,
    ) -> Result<(), EngineError> {
        use futures_util::StreamExt;
        let (image, tag) = super::split_tag(reference);
        let options = bollard::query_parameters::CreateImageOptions {
            from_image: Some(image),
            tag: Some(tag),
            ..Default::default()
        };
        let mut layers = LayerBytes::default();
        let mut stream = self.docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            let info =
                item.map_err(|e| EngineError::from_bollard(format!("pull {reference}"), e))?;
            if layers.update(&info) {
                let (done, total) = layers.sum();
                progress(done, total);
            }
        }
        Ok(())
    }
}

/// Per-layer byte counts from a pull's progress messages. The engine sends
/// them per layer and repeats; only the sum is worth showing.
#[derive(Default)]
struct LayerBytes(BTreeMap<String, (u64, u64)>);

impl LayerBytes {
    /// Takes one message; true when the counts changed.
    fn update(&mut self, info: &bollard::models::CreateImageInfo) -> bool {
        let (Some(id), Some(status)) = (&info.id, &info.status) else {
            return false;
        };
        let entry = self.0.entry(id.clone()).or_default();
        let before = *entry;
        match (status.as_str(), &info.progress_detail) {
            ("Downloading", Some(d)) => {
                let total = d.total.unwrap_or(0).max(0) as u64;
                let current = d.current.unwrap_or(0).max(0) as u64;
                *entry = (current.min(total.max(current)), total.max(entry.1));
            }
            ("Download complete" | "Pull complete" | "Already exists", _) => {
                entry.0 = entry.1;
            }
            _ => {}
        }
        *entry != before
    }

    fn sum(&self) -> (u64, u64) {
        self.0
            .values()
            .fold((0, 0), |(d, t), (ld, lt)| (d + ld, t + lt))
    }
}

#[cfg(test)]
mod layer_bytes_tests {
    use super::LayerBytes;
    use bollard::models::{CreateImageInfo, ProgressDetail};

    fn msg(id: &str, status: &str, current: i64, total: i64) -> CreateImageInfo {
        CreateImageInfo {
            id: Some(id.into()),
            status: Some(status.into()),
            progress_detail: Some(ProgressDetail {
                current: Some(current),
                total: Some(total),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn layers_are_summed_and_completed_layers_count_in_full() {
        let mut l = LayerBytes::default();
        assert!(l.update(&msg("a", "Downloading", 10, 100)));
        assert!(l.update(&msg("b", "Downloading", 5, 50)));
        assert_eq!(l.sum(), (15, 150));
        assert!(
            !l.update(&msg("b", "Downloading", 5, 50)),
            "a repeat changes nothing"
        );
        assert!(l.update(&msg("a", "Download complete", 0, 0)));
        assert_eq!(l.sum(), (105, 150));
    }

    #[test]
    fn negative_or_missing_counts_from_the_engine_are_ignored() {
        let mut l = LayerBytes::default();
        l.update(&msg("a", "Downloading", -5, -1));
        l.update(&CreateImageInfo {
            status: Some("Pulling fs layer".into()),
            ..Default::default()
        });
        assert_eq!(l.sum(), (0, 0));
    }
}
