//! The engine seam: everything the planner's operations, the executor, the
//! lock and the run loop ask of a container engine. Two implementations: the
//! Docker Engine API through bollard (`Engine`), and the in-memory fake in
//! `crate::testing`, which refuses what Docker refuses so that every path of
//! the executor and the run loop is testable without a daemon.

use super::{BuildEvent, BuildFailure, BuildRequest, Credentials, EngineError, EngineEvent};
use crate::observed::{ObserveScope, Observed, ObservedContainer};
use crate::render::{ContainerSpec, NetworkPlanSpec, RenderedAttachment, VolumePlanSpec};
use futures_util::stream::BoxStream;
use std::collections::BTreeMap;

/// Receives build progress.
pub type BuildProgress<'a> = &'a (dyn Fn(BuildEvent) + Sync);

/// Receives a pull's bytes so far, summed over its layers: (done, total).
pub type PullProgress<'a> = &'a (dyn Fn(u64, u64) + Sync);

#[async_trait::async_trait]
pub trait EngineApi: Send + Sync {
    /// Where the engine is, for messages: `unix:///var/run/docker.sock`.
    fn host(&self) -> &str;

    async fn ping(&self) -> Result<(), EngineError>;

    /// Containers (every managed one, plus those `scope` names), networks,
    /// volumes and image tags.
    async fn observe(&self, scope: &ObserveScope) -> Result<Observed, EngineError>;

    /// `observe` without a per-container inspect: containers as the list
    /// shows them (`summary_only`), for `crate::observe`'s list-first path.
    /// An engine whose list says no more than an inspect just observes.
    async fn observe_listed(&self, scope: &ObserveScope) -> Result<Observed, EngineError> {
        self.observe(scope).await
    }

    /// One container's current state; None when it does not exist.
    async fn inspect_container(&self, name: &str)
        -> Result<Option<ObservedContainer>, EngineError>;

    /// Creates `name` from `spec`, attached to the first declared network only
    /// (API 1.41 attaches one at create); the rest are separate connects.
    /// A name that exists is a `Conflict`.
    async fn create_container(
        &self,
        spec: &ContainerSpec,
        name: &str,
    ) -> Result<String, EngineError>;

    async fn start_container(&self, name: &str) -> Result<(), EngineError>;

    /// Stopping a stopped container succeeds.
    async fn stop_container(
        &self,
        name: &str,
        grace_seconds: Option<i64>,
    ) -> Result<(), EngineError>;

    /// Force-removes; a missing container is not an error. Named volumes stay.
    async fn remove_container(&self, name: &str) -> Result<(), EngineError>;

    /// Renaming onto an existing name is a `Conflict`.
    async fn rename_container(&self, from: &str, to: &str) -> Result<(), EngineError>;

    async fn connect_network(
        &self,
        container: &str,
        attachment: &RenderedAttachment,
    ) -> Result<(), EngineError>;

    async fn disconnect_network(&self, container: &str, network: &str) -> Result<(), EngineError>;

    async fn create_network(&self, network: &NetworkPlanSpec) -> Result<(), EngineError>;

    /// A missing network is not an error; one with containers attached is.
    async fn remove_network(&self, name: &str) -> Result<(), EngineError>;

    /// Creating an existing volume returns it unchanged (the engine lock relies on it).
    async fn create_volume(&self, volume: &VolumePlanSpec) -> Result<(), EngineError>;

    /// A missing volume is not an error; one in use is.
    async fn remove_volume(&self, name: &str) -> Result<(), EngineError>;

    /// The volume's labels; None when it does not exist.
    async fn volume_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, EngineError>;

    /// Runs `argv` in the running container `name` and returns its exit
    /// code; a probe that outlives `timeout` is an error.
    async fn exec(
        &self,
        name: &str,
        argv: &[String],
        timeout: std::time::Duration,
    ) -> Result<i64, EngineError>;

    async fn pull_image(&self, reference: &str) -> Result<(), EngineError>;

    /// A pull that reports its bytes as they arrive; engines that cannot
    /// tell just pull.
    async fn pull_image_reporting(
        &self,
        reference: &str,
        progress: PullProgress<'_>,
    ) -> Result<(), EngineError> {
        let _ = progress;
        self.pull_image(reference).await
    }

    /// Builds and tags; the tag moves only when the build succeeds.
    async fn build_image(
        &self,
        request: &BuildRequest,
        progress: BuildProgress<'_>,
    ) -> Result<(), BuildFailure>;

    async fn push_image(
        &self,
        reference: &str,
        credentials: Option<Credentials>,
    ) -> Result<(), EngineError>;

    /// The engine's OS and architecture in OCI terms, e.g. ("linux", "amd64").
    async fn platform(&self) -> Result<(String, String), EngineError>;

    /// Container, network and volume events on lucidctl's objects, from now on.
    fn events(&self) -> BoxStream<'static, Result<EngineEvent, EngineError>>;

    /// The manifest digest the registry serves for `reference` now, asked
    /// by the engine from where it runs (`/distribution/<ref>/json`), so a
    /// remote engine behind NAT asks its own registry.
    async fn registry_digest(
        &self,
        reference: &str,
        credentials: Option<Credentials>,
    ) -> Result<String, EngineError>;

    /// A container's output, stdout and stderr interleaved as the engine
    /// keeps it; with `follow`, new output until the container stops.
    fn logs(
        &self,
        name: &str,
        options: &super::LogOptions,
    ) -> BoxStream<'static, Result<super::LogChunk, EngineError>>;
}
