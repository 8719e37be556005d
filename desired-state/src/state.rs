//! The loaded, merged desired state, with where each field came from.

use crate::diagnostics::Location;
use crate::model::{Kind, Metadata, Spec};
use crate::positions::Positions;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One source document that contributed to a resource: the base or an overlay patch.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub file: PathBuf,
    /// Where each node and each mapping key of the document was written.
    pub positions: Arc<Positions>,
}

/// Where a resource's fields were declared. Later layers (overlays) win.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Origin {
    pub layers: Vec<Layer>,
}

impl Origin {
    /// The location of a JSON pointer such as `/spec/ports/0`, or of its nearest declared ancestor.
    pub fn locate(&self, pointer: &str) -> Option<Location> {
        let mut p = pointer;
        loop {
            for layer in self.layers.iter().rev() {
                if let Some(&(line, column)) = layer.positions.get(p) {
                    return Some(Location {
                        file: layer.file.clone(),
                        line,
                        column,
                    });
                }
            }
            if p.is_empty() {
                return self.layers.first().map(|l| Location {
                    file: l.file.clone(),
                    line: 1,
                    column: 1,
                });
            }
            p = &p[..p.rfind('/').unwrap_or(0)];
        }
    }

    /// The location of the key that names `pointer`, falling back to its value.
    pub fn locate_key(&self, pointer: &str) -> Option<Location> {
        self.layers
            .iter()
            .rev()
            .find_map(|l| {
                l.positions
                    .get_key(pointer)
                    .map(|&(line, column)| Location {
                        file: l.file.clone(),
                        line,
                        column,
                    })
            })
            .or_else(|| self.locate(pointer))
    }

    /// The directory that relative paths at `pointer` are relative to: that of the
    /// layer which set the field, so an overlay's paths are relative to the overlay.
    pub fn base_dir(&self, pointer: &str) -> PathBuf {
        let layer = self
            .layers
            .iter()
            .rev()
            .find(|l| l.positions.contains_key(pointer))
            .or(self.layers.first());
        layer
            .and_then(|l| l.file.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub metadata: Metadata,
    pub spec: Spec,
    pub origin: Origin,
}

impl Resource {
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// `Kind/name`, how resources are named in messages.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind(), self.metadata.name)
    }

    pub fn locate(&self, pointer: &str) -> Option<Location> {
        self.origin.locate(pointer)
    }

    /// Whether every `key=value` of the selector is among the resource's labels.
    pub fn matches(&self, selector: &[(String, String)]) -> bool {
        selector
            .iter()
            .all(|(k, v)| self.metadata.labels.get(k).is_some_and(|have| have == v))
    }
}

/// Everything the files declare, after overlays, in declaration order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DesiredState {
    pub resources: Vec<Resource>,
    /// The directory that build contexts and config files may not leave.
    pub root: PathBuf,
}

impl DesiredState {
    pub fn get(&self, kind: Kind, name: &str) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.kind() == kind && r.name() == name)
    }

    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Resource> {
        self.resources.iter().filter(move |r| r.kind() == kind)
    }

    /// Services and Jobs, which both run containers.
    pub fn workloads(&self) -> impl Iterator<Item = &Resource> {
        self.resources
            .iter()
            .filter(|r| r.spec.workload().is_some())
    }

    pub fn count(&self, kind: Kind) -> usize {
        self.of_kind(kind).count()
    }
}
