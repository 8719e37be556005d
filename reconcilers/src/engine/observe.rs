use super::convert;
use super::{Engine, EngineError, PARALLEL_INSPECTS};
use crate::labels;
use crate::observed::{ObserveScope, Observed, ObservedImage};
use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptionsBuilder, ListImagesOptions, ListNetworksOptions,
    ListVolumesOptions,
};
use futures_util::stream::{self, StreamExt, TryStreamExt};

impl Engine {
    /// Reads containers, networks, volumes and images in parallel.
    pub(crate) async fn observe_unbounded(
        &self,
        scope: &ObserveScope,
    ) -> Result<Observed, EngineError> {
        let (containers, networks, volumes, images) = tokio::try_join!(
            self.observe_containers(scope),
            self.observe_networks(),
            self.observe_volumes(),
            self.observe_images()
        )?;
        Ok(Observed {
            containers,
            networks,
            volumes,
            images,
        })
    }

    async fn observe_containers(
        &self,
        scope: &ObserveScope,
    ) -> Result<Vec<crate::observed::ObservedContainer>, EngineError> {
        let list = self
            .docker
            .list_containers(Some(ListContainersOptionsBuilder::new().all(true).build()))
            .await
            .map_err(|e| EngineError::from_bollard("list containers", e))?;
        let wanted: Vec<String> = list
            .into_iter()
            .filter_map(|c| {
                let name = c
                    .names
                    .as_ref()?
                    .first()?
                    .trim_start_matches('/')
                    .to_string();
                let managed = c.labels.as_ref().is_some_and(|l| {
                    l.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_VALUE)
                });
                (managed || scope.container_names.contains(&name)).then(|| c.id.unwrap_or(name))
            })
            .collect();
        let inspected: Vec<Option<_>> = stream::iter(wanted)
            .map(|id| async move {
                match self
                    .docker
                    .inspect_container(&id, None::<InspectContainerOptions>)
                    .await
                {
                    Ok(c) => Ok(Some(convert::container(c))),
                    // Removed between list and inspect: it simply is not there.
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => Ok(None),
                    Err(e) => Err(EngineError::from_bollard(
                        format!("inspect container {id}"),
                        e,
                    )),
                }
            })
            .buffer_unordered(PARALLEL_INSPECTS)
            .try_collect()
            .await?;
        let mut containers: Vec<_> = inspected.into_iter().flatten().collect();
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(containers)
    }

    async fn observe_networks(&self) -> Result<Vec<crate::observed::ObservedNetwork>, EngineError> {
        let list = self
            .docker
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(|e| EngineError::from_bollard("list networks", e))?;
        Ok(list.into_iter().map(convert::network).collect())
    }

    async fn observe_volumes(&self) -> Result<Vec<crate::observed::ObservedVolume>, EngineError> {
        let list = self
            .docker
            .list_volumes(None::<ListVolumesOptions>)
            .await
            .map_err(|e| EngineError::from_bollard("list volumes", e))?;
        Ok(list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(convert::volume)
            .collect())
    }

    pub(crate) async fn observe_images(
        &self,
    ) -> Result<std::collections::BTreeMap<String, ObservedImage>, EngineError> {
        let list = self
            .docker
            .list_images(None::<ListImagesOptions>)
            .await
            .map_err(|e| EngineError::from_bollard("list images", e))?;
        let mut images = std::collections::BTreeMap::new();
        for img in list {
            // An image pulled by digest has no tag: `repo@sha256:...` finds it too.
            let names = img.repo_tags.iter().chain(img.repo_digests.iter());
            for tag in names {
                if tag == "<none>:<none>" || tag == "<none>@<none>" {
                    continue;
                }
                let labels = img
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                images.insert(
                    tag.clone(),
                    ObservedImage {
                        id: img.id.clone(),
                        labels,
                        architecture: String::new(),
                        repo_digests: img.repo_digests.clone(),
                    },
                );
            }
        }
        Ok(images)
    }
}
