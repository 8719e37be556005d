use super::convert;
use super::{Engine, EngineError, PARALLEL_INSPECTS};
use crate::labels;
use crate::observed::{ObserveScope, Observed, ObservedImage};
use bollard::models::ContainerSummary;
use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptionsBuilder, ListImagesOptions, ListNetworksOptions,
    ListVolumesOptions,
};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use std::collections::{BTreeSet, HashMap};

impl Engine {
    /// Reads containers, networks, volumes and images in parallel; every
    /// container in scope is inspected (`listed_only`: none is, each is as the
    /// list shows it).
    pub(crate) async fn observe_unbounded(
        &self,
        scope: &ObserveScope,
        listed_only: bool,
    ) -> Result<Observed, EngineError> {
        let (containers, networks, volumes, images) = tokio::try_join!(
            self.observe_containers(scope, listed_only),
            self.observe_networks(scope),
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

    async fn list_containers(
        &self,
        filters: HashMap<String, Vec<String>>,
    ) -> Result<Vec<ContainerSummary>, EngineError> {
        self.docker
            .list_containers(Some(
                ListContainersOptionsBuilder::new()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(|e| EngineError::from_bollard("list containers", e))
    }

    /// The engine filters the list: the project's (or every managed)
    /// container by label, then, only for desired names that list did not
    /// hold, those names (an unmanaged or foreign container in the way).
    async fn listed_in_scope(
        &self,
        scope: &ObserveScope,
    ) -> Result<Vec<ContainerSummary>, EngineError> {
        let label = match &scope.project {
            Some(p) => format!("{}={p}", labels::PROJECT),
            None => format!("{}={}", labels::MANAGED_BY, labels::MANAGED_BY_VALUE),
        };
        let mut list = self
            .list_containers(HashMap::from([("label".to_string(), vec![label])]))
            .await?;
        let name_of = |c: &ContainerSummary| -> Option<String> {
            Some(
                c.names
                    .as_ref()?
                    .first()?
                    .trim_start_matches('/')
                    .to_string(),
            )
        };
        let listed: BTreeSet<String> = list.iter().filter_map(name_of).collect();
        let missing: Vec<String> = scope
            .container_names
            .iter()
            .filter(|n| !listed.contains(*n))
            .map(|n| name_pattern(n))
            .collect();
        if !missing.is_empty() {
            let more = self
                .list_containers(HashMap::from([("name".to_string(), missing)]))
                .await?;
            // The name filter is a regular expression match: keep exact names only.
            list.extend(more.into_iter().filter(|c| {
                name_of(c)
                    .is_some_and(|n| scope.container_names.contains(&n) && !listed.contains(&n))
            }));
        }
        // A project label without the ownership label is not ours to manage:
        // keep exactly what the unfiltered list used to keep.
        list.retain(|c| {
            let managed = c.labels.as_ref().is_some_and(|l| {
                l.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_VALUE)
            });
            managed || name_of(c).is_some_and(|n| scope.container_names.contains(&n))
        });
        Ok(list)
    }

    async fn observe_containers(
        &self,
        scope: &ObserveScope,
        listed_only: bool,
    ) -> Result<Vec<crate::observed::ObservedContainer>, EngineError> {
        let list = self.listed_in_scope(scope).await?;
        if listed_only {
            let mut containers: Vec<_> = list.into_iter().map(convert::container_summary).collect();
            containers.sort_by(|a, b| a.name.cmp(&b.name));
            return Ok(containers);
        }
        let wanted: Vec<String> = list
            .into_iter()
            .filter_map(|c| {
                let name = c
                    .names
                    .as_ref()?
                    .first()?
                    .trim_start_matches('/')
                    .to_string();
                Some(c.id.unwrap_or(name))
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

    async fn observe_networks(
        &self,
        scope: &ObserveScope,
    ) -> Result<Vec<crate::observed::ObservedNetwork>, EngineError> {
        let list = self
            .docker
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(|e| EngineError::from_bollard("list networks", e))?;
        let mut networks: Vec<_> = list.into_iter().map(convert::network).collect();
        let members = networks
            .iter_mut()
            .filter(|n| scope.member_networks.contains(&n.name))
            .map(|n| async move {
                // Removed since the list: nobody is attached.
                n.containers = self.network_members(&n.id).await?.unwrap_or_default();
                Ok::<_, EngineError>(())
            });
        futures_util::future::try_join_all(members).await?;
        Ok(networks)
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

/// The list's `name` filter is an unanchored regular expression over
/// `/name`: anchor it and escape what names may hold (`.`), so
/// `web` does not also fetch `web2` and `my-web`.
fn name_pattern(name: &str) -> String {
    let mut p = String::from("^/");
    for ch in name.chars() {
        if !ch.is_ascii_alphanumeric() && ch != '_' && ch != '-' {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('$');
    p
}

#[cfg(test)]
mod tests {
    #[test]
    fn name_patterns_are_anchored_and_escaped() {
        assert_eq!(super::name_pattern("web"), "^/web$");
        assert_eq!(super::name_pattern("lucid-web.next"), "^/lucid-web\\.next$");
    }
}
