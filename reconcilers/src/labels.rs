//! The labels every object lucidctl creates carries. Docker is the only store
//! of actual state, so these are how lucidctl recognises its own objects.

pub const MANAGED_BY: &str = "io.lucidctl.managed-by";
pub const MANAGED_BY_VALUE: &str = "lucidctl";
/// Groups objects as compose's project name does; prune stays inside one project.
pub const PROJECT: &str = "io.lucidctl.project";
pub const KIND: &str = "io.lucidctl.kind";
pub const NAME: &str = "io.lucidctl.name";
pub const SPEC_HASH: &str = "io.lucidctl.spec-hash";
/// Short hashes of each input (spec, image, each config file, each secret set),
/// so a recreate can say which input changed.
pub const INPUTS: &str = "io.lucidctl.inputs";
pub const REVISION: &str = "io.lucidctl.revision";
/// Keys of the declared environment, so a removed variable shows in a diff.
pub const ENV_KEYS: &str = "io.lucidctl.env-keys";
pub const BUILD_HASH: &str = "io.lucidctl.build-hash";
/// The registry digest of the image a container was created from.
pub const IMAGE_DIGEST: &str = "io.lucidctl.image-digest";
/// On a failed-rollout record: why the new container was rolled back, and when (Unix seconds).
pub const FAILURE_REASON: &str = "io.lucidctl.failure-reason";
pub const FAILED_AT: &str = "io.lucidctl.failed-at";
/// User labels from metadata.labels are copied under this prefix, for selectors.
pub const USER_PREFIX: &str = "io.lucidctl.label.";

/// The labels that make an object lucidctl's: managed-by, project, kind and,
/// for declared resources, the resource name. Every object lucidctl creates
/// starts from these.
pub fn ownership(
    project: &str,
    kind: &str,
    name: Option<&str>,
) -> std::collections::BTreeMap<String, String> {
    let mut l = std::collections::BTreeMap::new();
    l.insert(MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string());
    l.insert(PROJECT.to_string(), project.to_string());
    l.insert(KIND.to_string(), kind.to_string());
    if let Some(name) = name {
        l.insert(NAME.to_string(), name.to_string());
    }
    l
}
