//! Test support: the in-memory fake engine, and a harness that runs the real
//! planner, executor and run loop against it. Compiled for this crate's
//! tests and, with the `testing` feature, for other crates' tests.

mod fake_engine;

pub use fake_engine::{FakeEngine, BEHAVIOUR_ENV};

use crate::exec::Progress;
use crate::hostfiles::{FilesFuture, HostFile, HostFiles};
use crate::render::Inputs;
use desired_state::model::Kind;
use desired_state::{load_sources, DesiredState, Source};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Loads and validates desired-state YAML; the error lists every problem.
pub fn try_desired(text: &str) -> Result<DesiredState, String> {
    let loaded = load_sources(
        &[Source {
            group: 0,
            file: PathBuf::from("t.yaml"),
            text: text.to_string(),
        }],
        PathBuf::from("/x"),
    );
    let mut errors: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    errors.extend(
        desired_state::validate::validate(&loaded.state)
            .into_iter()
            .filter(|d| d.severity == desired_state::Severity::Error)
            .map(|d| d.to_string()),
    );
    if errors.is_empty() {
        Ok(loaded.state)
    } else {
        Err(format!("invalid desired state: {}", errors.join("; ")))
    }
}

/// Parses desired-state YAML; panics (in a test) when it is invalid.
pub fn desired(text: &str) -> DesiredState {
    try_desired(text).unwrap_or_else(|e| panic!("{e}"))
}

/// Inputs of project `t` with no secrets and no config files.
pub fn inputs() -> Inputs {
    Inputs {
        project: "t".into(),
        files_dir: PathBuf::from("/nonexistent"),
        ..Inputs::default()
    }
}

/// Converges the fake on `text` (project `t`, 300 ms waits) and returns the report.
pub async fn converge_fake(engine: &FakeEngine, text: &str) -> crate::apply::Report {
    let state = desired(text);
    let inputs = inputs();
    let progress = Recorded::default();
    let ctx = crate::apply::ApplyContext {
        engine,
        desired: &state,
        inputs: &inputs,
        host_files: &[],
        files: &NoFiles,
        builder: &crate::exec::NoBuilds,
        progress: &progress,
        options: crate::apply::ApplyOptions {
            timeout: std::time::Duration::from_millis(300),
            ..crate::apply::ApplyOptions::default()
        },
    };
    crate::apply::converge(&ctx).await.expect("converges")
}

/// Host files that go nowhere.
pub struct NoFiles;

impl HostFiles for NoFiles {
    fn sync<'a>(&'a self, _: &'a [HostFile]) -> FilesFuture<'a, Vec<String>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn stale<'a>(&'a self, _: &'a [HostFile]) -> FilesFuture<'a, Vec<String>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn free_bytes<'a>(&'a self, _: &'a Path) -> FilesFuture<'a, u64> {
        Box::pin(async { Ok(u64::MAX) })
    }
    fn command<'a>(&'a self, _: &'a [&'a str]) -> FilesFuture<'a, String> {
        Box::pin(async { Ok(String::new()) })
    }
}

/// Progress kept for assertions: "Service/web: created".
#[derive(Default)]
pub struct Recorded(pub Mutex<Vec<String>>);

impl Progress for Recorded {
    fn step(&self, kind: Kind, name: &str, status: &str) {
        if let Ok(mut l) = self.0.lock() {
            l.push(format!("{kind}/{name}: {status}"));
        }
    }
}

impl Recorded {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}
