//! Image builds through the engine's BuildKit (the `/session` endpoint), with
//! the classic builder as a fallback for engines without it. bollard's build
//! types stay here.

use super::{Engine, EngineError};
use bollard::query_parameters::{BuildImageOptions, BuilderVersion};
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};

pub struct BuildRequest {
    pub tag: String,
    pub dockerfile: String,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub platform: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// The context as an uncompressed tar, from the same walk as the build hash.
    pub context_tar: Vec<u8>,
}

/// Progress from a build: one line per step, then its output.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildEvent {
    Step {
        name: String,
        cached: bool,
    },
    Log(String),
    /// BuildKit was refused and the classic builder is used instead.
    FellBack(String),
}

#[derive(Debug, thiserror::Error)]
#[error("build of {tag} failed{}: {message}{}", step.as_ref().map(|s| format!(" at step {s:?}")).unwrap_or_default(), if last_lines.is_empty() { String::new() } else { format!("\n    {}", last_lines.join("\n    ")) })]
pub struct BuildFailure {
    pub tag: String,
    pub step: Option<String>,
    pub message: String,
    /// The failing step's last lines of output.
    pub last_lines: Vec<String>,
}

const LAST_LINES: usize = 12;

fn options(req: &BuildRequest, buildkit: bool) -> BuildImageOptions {
    BuildImageOptions {
        dockerfile: req.dockerfile.clone(),
        t: Some(req.tag.clone()),
        buildargs: Some(
            req.args
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
        ),
        labels: Some(
            req.labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
        ),
        target: req.target.clone().unwrap_or_default(),
        platform: req.platform.clone().unwrap_or_default(),
        rm: true,
        forcerm: true,
        version: if buildkit {
            BuilderVersion::BuilderBuildKit
        } else {
            BuilderVersion::BuilderV1
        },
        session: buildkit.then(|| format!("lucidctl-{}-{:x}", std::process::id(), rand_suffix())),
        ..Default::default()
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl Engine {
    /// Builds and tags; the tag moves only when the build succeeds.
    pub async fn build_image(
        &self,
        req: &BuildRequest,
        on_event: &(dyn Fn(BuildEvent) + Sync),
    ) -> Result<(), BuildFailure> {
        match self.build_once(req, true, on_event).await {
            Err(f) if is_buildkit_unsupported(&f.message) => {
                on_event(BuildEvent::FellBack(f.message.clone()));
                self.build_once(req, false, on_event).await
            }
            other => other,
        }
    }

    async fn build_once(
        &self,
        req: &BuildRequest,
        buildkit: bool,
        on_event: &(dyn Fn(BuildEvent) + Sync),
    ) -> Result<(), BuildFailure> {
        let body = bollard::body_full(req.context_tar.clone().into());
        let mut stream = self
            .docker
            .build_image(options(req, buildkit), None, Some(body));
        let mut names: HashMap<String, String> = HashMap::new();
        let mut logs: HashMap<String, Vec<String>> = HashMap::new();
        let mut announced = std::collections::HashSet::new();
        let mut failed_step: Option<String> = None;
        let mut classic_lines: Vec<String> = Vec::new();
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                Err(e) => {
                    let message = match e {
                        bollard::errors::Error::DockerStreamError { error } => error,
                        other => other.to_string(),
                    };
                    let last_lines = failed_step
                        .as_ref()
                        .and_then(|d| logs.get(d))
                        .map(|l| l.iter().rev().take(LAST_LINES).rev().cloned().collect())
                        .unwrap_or_else(|| {
                            classic_lines
                                .iter()
                                .rev()
                                .take(LAST_LINES)
                                .rev()
                                .cloned()
                                .collect()
                        });
                    return Err(BuildFailure {
                        tag: req.tag.clone(),
                        step: failed_step.and_then(|d| names.get(&d).cloned()),
                        message,
                        last_lines,
                    });
                }
            };
            if let Some(bollard::models::BuildInfoAux::BuildKit(status)) = &info.aux {
                for v in &status.vertexes {
                    names.insert(v.digest.clone(), v.name.clone());
                    if (v.started.is_some() || v.cached) && announced.insert(v.digest.clone()) {
                        on_event(BuildEvent::Step {
                            name: v.name.clone(),
                            cached: v.cached,
                        });
                    }
                    if !v.error.is_empty() {
                        failed_step = Some(v.digest.clone());
                    }
                }
                for l in &status.logs {
                    let text = String::from_utf8_lossy(&l.msg);
                    let lines = logs.entry(l.vertex.clone()).or_default();
                    for line in text.lines().filter(|s| !s.trim().is_empty()) {
                        lines.push(line.to_string());
                        on_event(BuildEvent::Log(line.to_string()));
                    }
                }
            }
            if let Some(s) = &info.stream {
                for line in s.lines().filter(|l| !l.trim().is_empty()) {
                    if line.starts_with("Step ") {
                        on_event(BuildEvent::Step {
                            name: line.to_string(),
                            cached: false,
                        });
                    } else {
                        on_event(BuildEvent::Log(line.to_string()));
                    }
                    classic_lines.push(line.to_string());
                }
            }
            if let Some(detail) = &info.error_detail {
                let message = detail.message.clone().unwrap_or_default();
                return Err(BuildFailure {
                    tag: req.tag.clone(),
                    step: None,
                    message,
                    last_lines: classic_lines
                        .iter()
                        .rev()
                        .take(LAST_LINES)
                        .rev()
                        .cloned()
                        .collect(),
                });
            }
        }
        Ok(())
    }

    /// The engine's OS and architecture in OCI terms, e.g. ("linux", "amd64").
    pub async fn platform(&self) -> Result<(String, String), EngineError> {
        let v = self
            .docker
            .version()
            .await
            .map_err(|e| EngineError::from_bollard("engine version", e))?;
        Ok((
            v.os.unwrap_or_else(|| "linux".into()),
            v.arch.unwrap_or_default(),
        ))
    }
}

fn is_buildkit_unsupported(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("buildkit")
        && (m.contains("not supported") || m.contains("not enabled") || m.contains("unknown"))
        || m.contains("session") && m.contains("not found")
}
