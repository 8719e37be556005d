//! lucidctl's desired state: the resource model, loading with overlays, and
//! validation. Everything here is pure apart from reading the input files.

pub mod diagnostics;
pub mod dockerfile;
pub mod envfile;
pub mod json;
pub mod literal;
pub mod load;
pub mod merge;
pub mod model;
pub mod order;
pub mod pointer;
pub mod positions;
pub mod select;
pub mod state;
pub mod validate;
pub mod yaml;

pub use diagnostics::{Diagnostic, Location, Severity};
pub use load::{load, load_sources, LoadOptions, Source};
pub use select::{active, selected};
pub use state::{DesiredState, Origin, Resource};

/// Why desired state could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{} error(s) in the desired state", .errors.len())]
pub struct InvalidState {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

/// Loads and validates. On success returns the state and any warnings.
pub fn load_valid(options: &LoadOptions) -> Result<(DesiredState, Vec<Diagnostic>), InvalidState> {
    let loaded = load::load(options);
    let mut diagnostics = loaded.diagnostics;
    diagnostics.extend(validate::validate(&loaded.state));
    let (errors, warnings): (Vec<_>, Vec<_>) =
        diagnostics.into_iter().partition(Diagnostic::is_error);
    if errors.is_empty() {
        Ok((loaded.state, warnings))
    } else {
        Err(InvalidState { errors, warnings })
    }
}
