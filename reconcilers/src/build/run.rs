//! Running prepared builds on the target engine: the `Builder` that apply and
//! `lucidctl build` use.

use super::{context, PreparedBuild};
use crate::engine::{BuildEvent, BuildRequest, EngineApi};
use crate::exec::Builder;
use crate::labels;
use futures_util::future::BoxFuture;

pub struct ImageBuilder<'a> {
    pub builds: &'a [PreparedBuild],
    pub project: &'a str,
    /// Build steps and output, for the terminal.
    pub on_event: &'a (dyn Fn(&str, BuildEvent) + Sync),
}

impl ImageBuilder<'_> {
    pub fn find(&self, reference: &str) -> Option<&PreparedBuild> {
        self.builds.iter().find(|b| b.reference == reference)
    }

    async fn run(&self, engine: &dyn EngineApi, b: &PreparedBuild) -> Result<(), String> {
        check_platform(engine, b).await?;
        // Reading a context of hundreds of MB blocks: off the async workers.
        let (dir, walk) = (b.context_dir.clone(), b.walk.clone());
        let tar = tokio::task::spawn_blocking(move || {
            let mut tar = Vec::with_capacity(walk.total_bytes as usize + 64 * 1024);
            context::write_tar(&dir, &walk, &mut tar)
                .map(|()| tar)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| format!("writing the build context: {e}"))??;
        let mut l = labels::ownership(self.project, "Image", Some(&b.resource));
        l.insert(labels::BUILD_HASH.to_string(), b.hash.clone());
        let req = BuildRequest {
            tag: b.reference.clone(),
            dockerfile: b.dockerfile.clone(),
            args: b.args.clone(),
            target: b.target.clone(),
            platform: b.platform.clone(),
            labels: l,
            context_tar: tar,
        };
        let name = b.resource.clone();
        engine
            .build_image(&req, &|e| (self.on_event)(&name, e))
            .await
            .map_err(|f| f.to_string())?;
        if b.push {
            let server = registry_of(&b.reference);
            (self.on_event)(
                &name,
                BuildEvent::Step {
                    name: format!("push to {server}"),
                    cached: false,
                },
            );
            engine
                .push_image(&b.reference, crate::registry::docker_credentials(&server))
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// A foreign-architecture build fails late and obscurely (`exec format error`
/// in a RUN step), so refuse before sending anything.
async fn check_platform(engine: &dyn EngineApi, b: &PreparedBuild) -> Result<(), String> {
    let Some(platform) = &b.platform else {
        return Ok(());
    };
    let want = platform.split('/').nth(1).unwrap_or("");
    let (_, have) = engine.platform().await.map_err(|e| e.to_string())?;
    if want == have || std::env::var_os("LUCID_ALLOW_EMULATION").is_some() {
        return Ok(());
    }
    Err(format!(
        "{} is for {platform}, but the engine at {} is {have} and cannot run {want} build steps; build on the target (--host ssh://pi) or register qemu-user-static binfmt on the engine host and set LUCID_ALLOW_EMULATION=1",
        b.reference,
        engine.host()
    ))
}

impl Builder for ImageBuilder<'_> {
    fn build<'a>(
        &'a self,
        engine: &'a dyn EngineApi,
        image: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let b = self
                .find(image)
                .ok_or_else(|| format!("{image} has no build in the desired state"))?;
            self.run(engine, b).await
        })
    }
}

/// The registry host of a reference; Docker Hub when it names none.
pub fn registry_of(reference: &str) -> String {
    use desired_state::model::{registry_host, DEFAULT_REGISTRY};
    registry_host(reference)
        .unwrap_or(DEFAULT_REGISTRY)
        .to_string()
}
