//! Where the loop reads the desired state from: files, or a git repository.

use super::git::GitSource;
use crate::context::{load, LoadError, Loaded, Target};
use desired_state::LoadOptions;
use std::path::PathBuf;

/// Loads the newest desired state, with its revision (the git commit, if any).
pub trait DesiredSource: Send + Sync {
    fn load(&mut self) -> Result<(Loaded, Option<String>), String>;
    /// The files to watch for changes; none for a git source, which is polled.
    fn watched_paths(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    /// The desired state as it was at `revision` (recorded on the engine's
    /// objects), for a restart while the current input is broken.
    fn load_at(&mut self, revision: &str) -> Result<(Loaded, Option<String>), String> {
        Err(format!("this source cannot go back to revision {revision}"))
    }

    /// Revisions recorded on the engine's objects, newest first; None when
    /// the source cannot date them.
    fn newest_first(&mut self, revisions: &[String]) -> Option<Vec<String>> {
        let _ = revisions;
        None
    }

    /// Why the last fetch from a remote failed, while it keeps failing.
    fn fetch_error(&self) -> Option<String> {
        None
    }
}

/// The error, with the first diagnostic's file:line:col for the status.
fn explain(e: LoadError) -> String {
    if let LoadError::Invalid { errors, .. } = &e {
        for d in errors {
            tracing::error!("{d}");
        }
        if let Some(first) = errors.first() {
            return format!("{e}; first: {first}");
        }
    }
    e.to_string()
}

pub struct FilesSource {
    pub options: LoadOptions,
    pub target: Target,
}

impl DesiredSource for FilesSource {
    fn load(&mut self) -> Result<(Loaded, Option<String>), String> {
        load(&self.options, &self.target)
            .map(|l| (l, None))
            .map_err(explain)
    }

    fn watched_paths(&self) -> Vec<PathBuf> {
        self.options.paths.clone()
    }
}

pub struct GitRepoSource {
    pub git: GitSource,
    /// Directories inside the repository (repeat for overlays).
    pub paths: Vec<PathBuf>,
    pub recursive: bool,
    pub target: Target,
    last: Option<String>,
    fetch_error: Option<String>,
}

impl GitRepoSource {
    pub fn new(git: GitSource, paths: Vec<PathBuf>, recursive: bool, target: Target) -> Self {
        GitRepoSource {
            git,
            paths,
            recursive,
            target,
            last: None,
            fetch_error: None,
        }
    }
}

impl GitRepoSource {
    fn load_checkout(&self) -> Result<Loaded, String> {
        for p in &self.paths {
            super::git::check_path(p)?;
        }
        let options = LoadOptions {
            paths: self
                .paths
                .iter()
                .map(|p| self.git.checkout.join(p))
                .collect(),
            recursive: self.recursive,
            root: Some(self.git.checkout.clone()),
        };
        load(&options, &self.target).map_err(explain)
    }
}

impl DesiredSource for GitRepoSource {
    fn load_at(&mut self, revision: &str) -> Result<(Loaded, Option<String>), String> {
        self.git.checkout_commit(revision)?;
        let loaded = self.load_checkout()?;
        Ok((loaded, Some(revision.to_string())))
    }

    fn newest_first(&mut self, revisions: &[String]) -> Option<Vec<String>> {
        Some(self.git.newest_first(revisions))
    }

    fn fetch_error(&self) -> Option<String> {
        self.fetch_error.clone()
    }

    fn load(&mut self) -> Result<(Loaded, Option<String>), String> {
        let commit = self
            .git
            .sync()
            .inspect_err(|e| self.fetch_error = Some(e.clone()))?;
        self.fetch_error = None;
        if self.last.as_deref() != Some(&commit) {
            tracing::info!(
                "git: {} {} is at {commit}",
                super::git::without_credentials(&self.git.url),
                self.git.branch
            );
            self.last = Some(commit.clone());
        }
        let loaded = self.load_checkout()?;
        Ok((loaded, Some(commit)))
    }
}
