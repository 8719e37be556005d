//! Validation: every rule runs over the whole state and reports every problem,
//! each at the line and column that causes it. Rules that read the source tree
//! (paths, isolation scans) are in their own modules; the rest are pure.

mod dangerous;
mod external;
mod graph;
mod isolation;
mod names;
mod network_mode;
mod networking;
mod paths;
mod placeholders;
mod pull;
mod references;
mod runtime;
mod secret_files;
mod swarm;
mod workloads;

#[cfg(test)]
pub(crate) mod testing;

use crate::diagnostics::Diagnostic;
use crate::pointer::display_path;
use crate::state::{DesiredState, Resource};

pub use graph::dependency_cycle;
pub use isolation::{check_isolation, scan_forbidden, IsolationFinding, Scan};
pub use names::is_env_name;
pub use swarm::validate_for_swarm;

pub fn validate(state: &DesiredState) -> Vec<Diagnostic> {
    let mut out = Report::default();
    names::check(state, &mut out);
    references::check(state, &mut out);
    graph::check(state, &mut out);
    networking::check(state, &mut out);
    workloads::check(state, &mut out);
    runtime::check(state, &mut out);
    dangerous::check(state, &mut out);
    external::check(state, &mut out);
    network_mode::check(state, &mut out);
    pull::check(state, &mut out);
    placeholders::check(state, &mut out);
    paths::check(state, &mut out);
    isolation::check(state, &mut out);
    out.0
}

/// Collects diagnostics; each names a resource and the pointer of the field at fault.
#[derive(Default)]
pub(crate) struct Report(pub Vec<Diagnostic>);

impl Report {
    pub fn error(
        &mut self,
        r: &Resource,
        pointer: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(Diagnostic::error(message), r, pointer, hint);
    }

    pub fn warning(
        &mut self,
        r: &Resource,
        pointer: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(Diagnostic::warning(message), r, pointer, hint);
    }

    fn push(&mut self, d: Diagnostic, r: &Resource, pointer: &str, hint: Option<String>) {
        self.0.push(
            d.at(r.locate(pointer))
                .resource(r.id())
                .path(display_path(pointer))
                .hint_opt(hint),
        );
    }
}
