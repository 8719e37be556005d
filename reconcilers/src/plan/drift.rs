//! Which planned changes undo a change made outside lucidctl, so the run
//! loop can tell a person about drift it repaired whatever else the pass
//! does (a rollout in progress, a resource that keeps failing).

use super::{Plan, Reason};
use desired_state::model::Kind;
use std::collections::BTreeSet;

impl Reason {
    /// The object is not on the engine at all.
    pub fn is_missing(&self) -> bool {
        matches!(self, Reason::NotFound | Reason::ImageMissing)
    }

    /// The engine no longer matches what lucidctl left it as. `existed`:
    /// the resource was there after an earlier pass, so a missing one was
    /// removed rather than never made (a new revision's resource is not drift).
    pub fn is_outside_change(&self, existed: bool) -> bool {
        if self.is_missing() {
            return existed;
        }
        matches!(
            self,
            Reason::ManualChange
                | Reason::MountMissing { .. }
                | Reason::NetworkMissing { .. }
                | Reason::NetworkNotDeclared { .. }
                | Reason::Stopped
                | Reason::StaleRuntimeTask
                | Reason::NetworkReplaced { .. }
        )
    }
}

/// The resources whose every planned change undoes a change made outside
/// lucidctl. One reason of another sort (a new spec, a rebuilt image)
/// makes the change a rollout, and a rollout is not announced as drift.
pub fn outside_changes(
    plan: &Plan,
    existed: impl Fn(Kind, &str) -> bool,
) -> BTreeSet<(Kind, String)> {
    let mut drift = BTreeSet::new();
    let mut other = BTreeSet::new();
    for c in &plan.changes {
        let key = (c.kind, c.name.clone());
        let known = existed(c.kind, &c.name);
        if !c.reasons.is_empty() && c.reasons.iter().all(|r| r.is_outside_change(known)) {
            drift.insert(key);
        } else {
            other.insert(key);
        }
    }
    drift.retain(|k| !other.contains(k));
    drift
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Change, Target};

    fn change(kind: Kind, name: &str, reasons: Vec<Reason>) -> Change {
        Change {
            kind,
            name: name.into(),
            action: Action::Recreate,
            reasons,
            fields: vec![],
            network: None,
            target: Target::Existing { name: name.into() },
            before: vec![],
        }
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            changes,
            ..Plan::default()
        }
    }

    #[test]
    fn a_removed_resource_that_existed_is_drift_and_a_new_one_is_not() {
        let p = plan(vec![
            change(Kind::Service, "old", vec![Reason::NotFound]),
            change(Kind::Service, "new", vec![Reason::NotFound]),
        ]);
        let drift = outside_changes(&p, |_, n| n == "old");
        assert_eq!(drift, BTreeSet::from([(Kind::Service, "old".to_string())]));
    }

    #[test]
    fn hand_edits_stops_and_network_changes_are_drift() {
        let p = plan(vec![
            change(Kind::Service, "a", vec![Reason::ManualChange]),
            change(Kind::Service, "b", vec![Reason::Stopped]),
            change(
                Kind::Service,
                "c",
                vec![Reason::NetworkMissing {
                    network: "n".into(),
                }],
            ),
            change(Kind::Service, "d", vec![Reason::StaleRuntimeTask]),
        ]);
        assert_eq!(outside_changes(&p, |_, _| false).len(), 4);
    }

    #[test]
    fn a_change_with_any_rollout_reason_is_not_drift() {
        let p = plan(vec![
            change(
                Kind::Service,
                "a",
                vec![Reason::SpecChanged, Reason::Stopped],
            ),
            change(Kind::Service, "b", vec![Reason::ImageChanged]),
            change(Kind::Service, "c", vec![Reason::NotDesired]),
        ]);
        assert!(outside_changes(&p, |_, _| true).is_empty());
    }

    #[test]
    fn one_rollout_change_of_a_resource_makes_all_its_changes_a_rollout() {
        let p = plan(vec![
            change(
                Kind::Service,
                "a",
                vec![Reason::NetworkNotDeclared {
                    network: "n".into(),
                    policy_violation: false,
                }],
            ),
            change(Kind::Service, "a", vec![Reason::SpecChanged]),
        ]);
        assert!(outside_changes(&p, |_, _| true).is_empty());
    }
}
