//! When a workload's image is fetched again: the pull policy.

use super::values::DurationSpec;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// When lucidctl asks the registry for a newer image behind the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PullPolicy {
    /// Pull only when the engine does not have the image (the default).
    #[default]
    IfNotPresent,
    /// On every apply and diff (and every pass of `run`), ask the registry
    /// for the tag's digest and pull and roll out when it moved.
    Always,
    /// As always, and `lucidctl run` also asks every `interval`, rolling a
    /// new digest out in dependency order, health-gated, with rollback.
    Watch,
    /// Take the highest tag of the repository that matches `range`
    /// (semver, as Cargo reads ranges); asked like watch.
    Semver,
}

/// `pull: {policy: watch, interval: 5m}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PullSpec {
    #[serde(default)]
    pub policy: PullPolicy,
    /// How often `run` asks the registry (watch, semver); default 5m, at least 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<DurationSpec>,
    /// Freeze the image at this manifest digest (`sha256:` and 64 hex
    /// digits): it is pulled as `<repository>@<digest>` and nothing newer
    /// is taken, whatever the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// With policy semver: the tags to choose from, e.g. `^1.4` or `>=2, <3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
}

impl PullSpec {
    /// Whether the registry is asked on apply and diff.
    pub fn asks_registry(&self) -> bool {
        self.pin.is_none() && self.policy != PullPolicy::IfNotPresent
    }

    /// Whether `run` asks on a timer.
    pub fn watched(&self) -> bool {
        self.pin.is_none() && matches!(self.policy, PullPolicy::Watch | PullPolicy::Semver)
    }

    pub fn interval(&self) -> std::time::Duration {
        self.interval
            .map_or(std::time::Duration::from_secs(300), |d| d.0)
    }
}

/// `sha256:` and 64 lowercase hex digits.
pub fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}
