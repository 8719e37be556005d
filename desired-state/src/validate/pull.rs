//! `pull:` on Services and Jobs: a pin is a digest, a semver policy has a
//! range that parses, the interval is not a hammering one, and there is a
//! registry to ask (an image built here and never pushed has none).

use super::Report;
use crate::model::{is_digest, PullPolicy, Spec};
use crate::state::DesiredState;
use std::collections::BTreeSet;
use std::time::Duration;

const SHORTEST_INTERVAL: Duration = Duration::from_secs(10);

pub(super) fn check(state: &DesiredState, out: &mut Report) {
    let built_here: BTreeSet<String> = state
        .resources
        .iter()
        .filter_map(|r| match &r.spec {
            Spec::Image(i) if i.build.is_some() && !i.push => Some(i.reference.with_default_tag()),
            _ => None,
        })
        .collect();
    for r in &state.resources {
        let (Spec::Service(w) | Spec::Job(w)) = &r.spec else {
            continue;
        };
        let Some(pull) = &w.pull else { continue };
        if let Some(pin) = &pull.pin {
            if !is_digest(pin) {
                out.error(
                    r,
                    "/spec/pull/pin",
                    format!("pin {pin:?} is not a manifest digest"),
                    Some("write `sha256:` and the 64 hex digits, e.g. from `docker buildx imagetools inspect <image>`".into()),
                );
            }
        }
        if pull.policy == PullPolicy::Semver {
            match &pull.range {
                None => out.error(
                    r,
                    "/spec/pull",
                    "policy semver needs a range of tags",
                    Some("add e.g. `range: ^1.4`".into()),
                ),
                Some(range) => {
                    if let Err(e) = semver::VersionReq::parse(range) {
                        out.error(
                            r,
                            "/spec/pull/range",
                            format!("range {range:?} is not a semver range: {e}"),
                            Some("write it as Cargo does: ^1.4, ~2.0, >=1.2, <2".into()),
                        );
                    }
                }
            }
        } else if pull.range.is_some() {
            out.error(
                r,
                "/spec/pull/range",
                "a range is only read with policy semver",
                Some("set `policy: semver`, or remove `range`".into()),
            );
        }
        if pull.interval.is_some_and(|d| d.0 < SHORTEST_INTERVAL) {
            out.error(
                r,
                "/spec/pull/interval",
                "the registry would be asked more often than every 10s",
                Some("use 10s or more; 5m is the default".into()),
            );
        }
        if pull.policy != PullPolicy::IfNotPresent
            && built_here.contains(&w.image.with_default_tag())
        {
            out.error(
                r,
                "/spec/pull/policy",
                format!("{} is built here and never pushed: no registry has a newer one", w.image),
                Some("leave `pull` out (a changed build context rebuilds it), or set `push: true` on the Image".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn run(yaml: &str) -> Vec<String> {
        let mut out = Report::default();
        check(&state(yaml), &mut out);
        messages(&out.0)
    }

    fn service(pull: &str) -> String {
        format!("---\n{HEADER}kind: Service\nmetadata: {{name: web}}\nspec:\n  image: r.example/web:1\n  pull: {pull}\n")
    }

    #[test]
    fn a_good_pull_spec_passes() {
        assert!(run(&service("{policy: watch, interval: 1m}")).is_empty());
        assert!(run(&service("{policy: semver, range: ^1.4}")).is_empty());
        let pin = format!("{{pin: sha256:{}}}", "a".repeat(64));
        assert!(run(&service(&pin)).is_empty());
    }

    #[test]
    fn bad_pins_ranges_and_intervals_are_located_with_a_fix() {
        let m = run(&service("{pin: latest}"));
        assert!(
            m.iter().any(|m| m.starts_with("test.yaml:7:15:")
                && m.contains("spec.pull.pin")
                && m.contains("fix:")),
            "{m:?}"
        );
        let m = run(&service("{policy: semver}"));
        assert!(m.iter().any(|m| m.contains("needs a range")), "{m:?}");
        let m = run(&service("{policy: semver, range: 'one.four'}"));
        assert!(
            m.iter()
                .any(|m| m.contains("spec.pull.range") && m.contains("not a semver range")),
            "{m:?}"
        );
        let m = run(&service("{policy: watch, range: ^1}"));
        assert!(
            m.iter().any(|m| m.contains("only read with policy semver")),
            "{m:?}"
        );
        let m = run(&service("{policy: watch, interval: 1s}"));
        assert!(m.iter().any(|m| m.contains("spec.pull.interval")), "{m:?}");
    }

    #[test]
    fn an_image_built_here_cannot_be_watched() {
        let yaml = format!(
            "---\n{HEADER}kind: Image\nmetadata: {{name: web}}\nspec:\n  ref: r.example/web:1\n  build: {{context: .}}\n{}",
            service("{policy: watch}")
        );
        let m = run(&yaml);
        assert!(
            m.iter().any(|m| m.contains("built here and never pushed")),
            "{m:?}"
        );
    }
}
