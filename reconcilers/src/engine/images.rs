//! Pushing, removing and pruning images.

use super::{Engine, EngineError};
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{PruneBuildOptions, PushImageOptions, RemoveImageOptions};
use futures_util::TryStreamExt;

/// Registry credentials, as the docker CLI stores them.
#[derive(Clone, Default)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<String>,
    pub server: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials({}, user {:?}, password (sensitive))",
            self.server, self.username
        )
    }
}

impl Engine {
    pub async fn push(
        &self,
        reference: &str,
        credentials: Option<Credentials>,
    ) -> Result<(), EngineError> {
        let (name, tag) = split_tag(reference);
        let creds = credentials.map(|c| DockerCredentials {
            username: c.username,
            password: c.password,
            serveraddress: Some(c.server),
            ..Default::default()
        });
        self.docker
            .push_image(
                &name,
                Some(PushImageOptions {
                    tag: Some(tag),
                    ..Default::default()
                }),
                creds,
            )
            .try_collect::<Vec<_>>()
            .await
            .map(|_| ())
            .map_err(|e| EngineError::from_bollard(format!("push {reference}"), e))
    }

    pub async fn remove_image(&self, reference: &str) -> Result<(), EngineError> {
        match self
            .docker
            .remove_image(
                reference,
                Some(RemoveImageOptions {
                    force: true,
                    ..Default::default()
                }),
                None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::from_bollard(
                format!("remove image {reference}"),
                e,
            )),
        }
    }

    /// Removes all build cache; returns bytes reclaimed.
    pub async fn prune_build_cache(&self) -> Result<u64, EngineError> {
        let r = self
            .docker
            .prune_build(Some(PruneBuildOptions {
                all: Some(true),
                ..Default::default()
            }))
            .await
            .map_err(|e| EngineError::from_bollard("prune build cache", e))?;
        Ok(r.space_reclaimed.unwrap_or(0).max(0) as u64)
    }

    /// Every local tag, e.g. for pruning a namespace.
    pub async fn image_tags(&self) -> Result<Vec<String>, EngineError> {
        Ok(self.observe_images().await?.into_keys().collect())
    }
}

pub use desired_state::model::split_tag;

impl Engine {
    /// Names of the containers attached to a network; None when it does not exist.
    pub async fn network_members(&self, network: &str) -> Result<Option<Vec<String>>, EngineError> {
        match self
            .docker
            .inspect_network(
                network,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
        {
            Ok(n) => {
                let mut names: Vec<String> = n
                    .containers
                    .unwrap_or_default()
                    .into_values()
                    .filter_map(|c| c.name)
                    .collect();
                names.sort();
                Ok(Some(names))
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(EngineError::from_bollard(
                format!("inspect network {network}"),
                e,
            )),
        }
    }
}
