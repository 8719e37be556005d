//! The Registry HTTP API v2, for `lucidctl registry prune`, and the docker
//! CLI's credential file. Plain HTTP is used only for loopback registries,
//! which the engine also trusts without TLS.

use crate::engine::Credentials;
use base64::Engine as _;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry {url}: {message}")]
    Http { url: String, message: String },
    #[error("registry {url}: unexpected answer: {message}")]
    Decode { url: String, message: String },
}

/// Accept headers that make the registry return the digest of the manifest as
/// pushed; without them distribution converts to schema1 and reports its digest.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

pub struct Registry {
    base: String,
    agent: ureq::Agent,
    auth: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Removed {
    pub repository: String,
    pub tag: String,
    pub digest: String,
}

impl Registry {
    /// `url` like `http://127.0.0.1:5000` or `127.0.0.1:5000` (then http for loopback, https otherwise).
    pub fn new(url: &str, credentials: Option<&Credentials>) -> Registry {
        let base = if url.starts_with("http://") || url.starts_with("https://") {
            url.trim_end_matches('/').to_string()
        } else if url.starts_with("127.") || url.starts_with("localhost") {
            format!("http://{}", url.trim_end_matches('/'))
        } else {
            format!("https://{}", url.trim_end_matches('/'))
        };
        let auth = credentials.and_then(|c| {
            let (u, p) = (c.username.as_ref()?, c.password.as_ref()?);
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            ))
        });
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build();
        Registry {
            base,
            agent: config.into(),
            auth,
        }
    }

    fn get_json(&self, path: &str) -> Result<serde_json::Value, RegistryError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.agent.get(&url);
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.call().map_err(|e| RegistryError::Http {
            url: url.clone(),
            message: e.to_string(),
        })?;
        if !resp.status().is_success() {
            return Err(RegistryError::Http {
                url,
                message: format!("status {}", resp.status()),
            });
        }
        resp.body_mut()
            .read_json()
            .map_err(|e| RegistryError::Decode {
                url,
                message: e.to_string(),
            })
    }

    /// The whole catalog, page by page (distribution caps a page at 1000).
    pub fn repositories(&self) -> Result<Vec<String>, RegistryError> {
        const PAGE: usize = 500;
        let mut all: Vec<String> = Vec::new();
        loop {
            let path = match all.last() {
                Some(last) => format!("/v2/_catalog?n={PAGE}&last={last}"),
                None => format!("/v2/_catalog?n={PAGE}"),
            };
            let v = self.get_json(&path)?;
            let page: Vec<String> = v["repositories"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let done = page.len() < PAGE;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// Tags of a repository; none when the repository has no tags left.
    pub fn tags(&self, repository: &str) -> Result<Vec<String>, RegistryError> {
        let v = self.get_json(&format!("/v2/{repository}/tags/list"))?;
        Ok(v["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default())
    }

    pub fn digest(&self, repository: &str, tag: &str) -> Result<String, RegistryError> {
        let url = format!("{}/v2/{repository}/manifests/{tag}", self.base);
        let mut req = self.agent.head(&url).header("Accept", MANIFEST_TYPES);
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let resp = req.call().map_err(|e| RegistryError::Http {
            url: url.clone(),
            message: e.to_string(),
        })?;
        resp.headers()
            .get("Docker-Content-Digest")
            .and_then(|d| d.to_str().ok())
            .map(String::from)
            .ok_or(RegistryError::Decode {
                url,
                message: format!("no Docker-Content-Digest (status {})", resp.status()),
            })
    }

    pub fn delete(&self, repository: &str, digest: &str) -> Result<(), RegistryError> {
        let url = format!("{}/v2/{repository}/manifests/{digest}", self.base);
        let mut req = self.agent.delete(&url);
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let resp = req.call().map_err(|e| RegistryError::Http {
            url: url.clone(),
            message: e.to_string(),
        })?;
        match resp.status().as_u16() {
            200..=299 | 404 => Ok(()),
            405 => Err(RegistryError::Http {
                url,
                message: "deletes are disabled (set storage.delete.enabled: true)".into(),
            }),
            s => Err(RegistryError::Http {
                url,
                message: format!("status {s}"),
            }),
        }
    }

    /// Deletes every tag of every repository under `namespace` (e.g. `pickme/lucid`).
    pub fn prune(&self, namespace: &str, dry_run: bool) -> Result<Vec<Removed>, RegistryError> {
        let ns = namespace.trim_end_matches('/');
        let mut removed = Vec::new();
        for repo in self
            .repositories()?
            .into_iter()
            .filter(|r| in_namespace(r, ns))
        {
            for tag in self.tags(&repo)? {
                let digest = self.digest(&repo, &tag)?;
                if !dry_run {
                    self.delete(&repo, &digest)?;
                }
                removed.push(Removed {
                    repository: repo.clone(),
                    tag,
                    digest,
                });
            }
        }
        Ok(removed)
    }
}

/// `pickme/lucid` covers `pickme/lucid` and `pickme/lucid-redis` and `pickme/lucid/x`.
pub fn in_namespace(repository: &str, namespace: &str) -> bool {
    repository.starts_with(namespace)
}

/// Credentials for `server` from `~/.docker/config.json` (`auths`), as every Docker tool reads them.
pub fn docker_credentials(server: &str) -> Option<Credentials> {
    let path = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".docker")
        })
        .join("config.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let auths = v.get("auths")?.as_object()?;
    let entry = auths
        .iter()
        .find(|(k, _)| {
            k.trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_end_matches("/v1/")
                .trim_end_matches('/')
                == server
        })?
        .1;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry.get("auth")?.as_str()?)
        .ok()?;
    let (u, p) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(u, p)| (u.to_string(), p.to_string()))?;
    Some(Credentials {
        username: Some(u),
        password: Some(p),
        server: server.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_match_by_prefix() {
        assert!(in_namespace("pickme/lucid-redis", "pickme/lucid"));
        assert!(!in_namespace("other/lucid-redis", "pickme/lucid"));
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials {
            username: Some("u".into()),
            password: Some("hunter2".into()),
            server: "r".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
