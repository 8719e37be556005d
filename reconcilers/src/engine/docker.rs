//! `EngineApi` for the Docker Engine API: each method is one of `Engine`'s
//! bollard calls.

use super::api::{BuildProgress, EngineApi, PullProgress};
use super::{
    BuildFailure, BuildRequest, Credentials, Engine, EngineError, EngineEvent, ObserveScope,
};
use crate::observed::{Observed, ObservedContainer};
use crate::render::{ContainerSpec, NetworkPlanSpec, RenderedAttachment, VolumePlanSpec};
use futures_util::stream::{BoxStream, StreamExt};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// Bounds a whole call, body included.
async fn within<T>(
    what: &str,
    limit: Duration,
    call: impl Future<Output = Result<T, EngineError>>,
) -> Result<T, EngineError> {
    tokio::time::timeout(limit, call)
        .await
        .unwrap_or_else(|_| Err(EngineError::too_slow(what, limit)))
}

#[async_trait::async_trait]
impl EngineApi for Engine {
    fn host(&self) -> &str {
        Engine::host(self)
    }

    async fn ping(&self) -> Result<(), EngineError> {
        within("ping", self.deadline, Engine::ping(self)).await
    }

    async fn observe(&self, scope: &ObserveScope) -> Result<Observed, EngineError> {
        within(
            "observe",
            self.deadline,
            self.observe_unbounded(scope, false),
        )
        .await
    }

    async fn observe_listed(&self, scope: &ObserveScope) -> Result<Observed, EngineError> {
        within(
            "observe",
            self.deadline,
            self.observe_unbounded(scope, true),
        )
        .await
    }

    async fn inspect_container(
        &self,
        name: &str,
    ) -> Result<Option<ObservedContainer>, EngineError> {
        within("inspect container", self.deadline, self.inspect(name)).await
    }

    async fn create_container(
        &self,
        spec: &ContainerSpec,
        name: &str,
    ) -> Result<String, EngineError> {
        within(
            "create container",
            self.deadline,
            Engine::create_container(self, spec, name),
        )
        .await
    }

    async fn start_container(&self, name: &str) -> Result<(), EngineError> {
        within("start container", self.deadline, self.start(name)).await
    }

    async fn stop_container(
        &self,
        name: &str,
        grace_seconds: Option<i64>,
    ) -> Result<(), EngineError> {
        let grace = Duration::from_secs(grace_seconds.unwrap_or(10).max(0) as u64);
        within(
            "stop container",
            self.deadline + grace,
            self.stop(name, grace_seconds),
        )
        .await
    }

    async fn remove_container(&self, name: &str) -> Result<(), EngineError> {
        within(
            "remove container",
            self.deadline,
            Engine::remove_container(self, name),
        )
        .await
    }

    async fn rename_container(&self, from: &str, to: &str) -> Result<(), EngineError> {
        within("rename container", self.deadline, self.rename(from, to)).await
    }

    async fn connect_network(
        &self,
        container: &str,
        attachment: &RenderedAttachment,
    ) -> Result<(), EngineError> {
        within(
            "connect network",
            self.deadline,
            Engine::connect_network(self, container, attachment),
        )
        .await
    }

    async fn disconnect_network(&self, container: &str, network: &str) -> Result<(), EngineError> {
        within(
            "disconnect network",
            self.deadline,
            Engine::disconnect_network(self, container, network),
        )
        .await
    }

    async fn create_network(&self, network: &NetworkPlanSpec) -> Result<(), EngineError> {
        within(
            "create network",
            self.deadline,
            Engine::create_network(self, network),
        )
        .await
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        within(
            "remove network",
            self.deadline,
            Engine::remove_network(self, name),
        )
        .await
    }

    async fn create_volume(&self, volume: &VolumePlanSpec) -> Result<(), EngineError> {
        within(
            "create volume",
            self.deadline,
            Engine::create_volume(self, volume),
        )
        .await
    }

    async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        within(
            "remove volume",
            self.deadline,
            Engine::remove_volume(self, name),
        )
        .await
    }

    async fn volume_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, EngineError> {
        within(
            "inspect volume",
            self.deadline,
            Engine::volume_labels(self, name),
        )
        .await
    }

    async fn exec(
        &self,
        name: &str,
        argv: &[String],
        timeout: std::time::Duration,
    ) -> Result<i64, EngineError> {
        Engine::exec(self, name, argv, timeout).await
    }

    async fn pull_image(&self, reference: &str) -> Result<(), EngineError> {
        within(
            "pull",
            super::TRANSFER_DEADLINE,
            self.pull(reference, &|_, _| {}),
        )
        .await
    }

    async fn pull_image_reporting(
        &self,
        reference: &str,
        progress: PullProgress<'_>,
    ) -> Result<(), EngineError> {
        within(
            "pull",
            super::TRANSFER_DEADLINE,
            self.pull(reference, progress),
        )
        .await
    }

    async fn build_image(
        &self,
        request: &BuildRequest,
        progress: BuildProgress<'_>,
    ) -> Result<(), BuildFailure> {
        Engine::build_image(self, request, progress).await
    }

    async fn push_image(
        &self,
        reference: &str,
        credentials: Option<Credentials>,
    ) -> Result<(), EngineError> {
        within(
            "push",
            super::TRANSFER_DEADLINE,
            self.push(reference, credentials),
        )
        .await
    }

    async fn platform(&self) -> Result<(String, String), EngineError> {
        within("engine version", self.deadline, Engine::platform(self)).await
    }

    fn events(&self) -> BoxStream<'static, Result<EngineEvent, EngineError>> {
        Engine::events(self).boxed()
    }

    async fn registry_digest(
        &self,
        reference: &str,
        credentials: Option<Credentials>,
    ) -> Result<String, EngineError> {
        within(
            "ask the registry",
            Duration::from_secs(30),
            self.distribution_digest(reference, credentials),
        )
        .await
    }

    fn logs(
        &self,
        name: &str,
        options: &super::LogOptions,
    ) -> BoxStream<'static, Result<super::LogChunk, EngineError>> {
        self.container_logs(name, options)
    }
}
