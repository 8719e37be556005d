//! Facts about the engine and its host, for `doctor`.

use super::{Engine, EngineError};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct HostInfo {
    pub server_version: String,
    /// The newest API the daemon speaks.
    pub max_api_version: String,
    pub os: String,
    /// As the kernel says it: x86_64, aarch64.
    pub architecture: String,
    pub docker_root_dir: String,
    pub cpus: i64,
    pub memory_bytes: i64,
    /// /info `MemoryLimit`: false when the kernel has no memory cgroup.
    pub memory_limit: Option<bool>,
    /// The default logging driver for new containers (/info `LoggingDriver`).
    pub logging_driver: String,
}

/// Where an image can come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    PresentOnEngine,
    InRegistry,
    Unresolvable(String),
}

impl Engine {
    pub async fn host_info(&self) -> Result<HostInfo, EngineError> {
        let (info, version) = tokio::try_join!(
            async {
                self.docker
                    .info()
                    .await
                    .map_err(|e| EngineError::from_bollard("engine info", e))
            },
            async {
                self.docker
                    .version()
                    .await
                    .map_err(|e| EngineError::from_bollard("engine version", e))
            }
        )?;
        Ok(HostInfo {
            server_version: info.server_version.unwrap_or_default(),
            max_api_version: version.api_version.unwrap_or_default(),
            os: info.os_type.unwrap_or_default(),
            architecture: info.architecture.unwrap_or_default(),
            docker_root_dir: info.docker_root_dir.unwrap_or_default(),
            cpus: info.ncpu.unwrap_or_default(),
            memory_bytes: info.mem_total.unwrap_or_default(),
            memory_limit: info.memory_limit,
            logging_driver: info.logging_driver.unwrap_or_default(),
        })
    }

    /// The digest behind `reference` in its registry, as the engine sees it.
    pub async fn distribution_digest(
        &self,
        reference: &str,
        credentials: Option<super::Credentials>,
    ) -> Result<String, EngineError> {
        let creds = credentials.map(|c| bollard::auth::DockerCredentials {
            username: c.username,
            password: c.password,
            serveraddress: Some(c.server),
            ..Default::default()
        });
        let info = self
            .docker
            .inspect_registry_image(reference, creds)
            .await
            .map_err(|e| {
                EngineError::from_bollard(format!("ask the registry for {reference}"), e)
            })?;
        let digest = info.descriptor.digest.unwrap_or_default();
        if desired_state::model::is_digest(&digest) {
            Ok(digest)
        } else {
            Err(EngineError::Other {
                what: format!("ask the registry for {reference}"),
                message: "the answer has no sha256 digest".into(),
            })
        }
    }

    pub async fn image_source_local(&self, reference: &str) -> bool {
        self.docker.inspect_image(reference).await.is_ok()
    }

    /// Whether the engine has `reference`, or can get it from its registry
    /// (asked by the engine itself, so from the host's network).
    pub async fn image_source(&self, reference: &str) -> ImageSource {
        if self.image_source_local(reference).await {
            return ImageSource::PresentOnEngine;
        }
        match tokio::time::timeout(
            Duration::from_secs(15),
            self.docker.inspect_registry_image(reference, None),
        )
        .await
        {
            Ok(Ok(_)) => ImageSource::InRegistry,
            Ok(Err(e)) => ImageSource::Unresolvable(
                EngineError::from_bollard(format!("image {reference}"), e).to_string(),
            ),
            Err(_) => ImageSource::Unresolvable(format!(
                "image {reference}: the registry did not answer within 15s"
            )),
        }
    }
}
