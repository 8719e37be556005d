//! What the operations of each change add up to, for reports and the run loop.

use super::OpStatus;
use crate::plan::{Action, Change, OpId, Operation};
use desired_state::model::Kind;
use std::collections::BTreeMap;

/// Whether a restart was for a container that stayed unhealthy (a crash, for
/// the crash-loop hold), rather than asked for by a recreated dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unhealthy(pub bool);

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Recreated,
    /// The new container never became ready; the previous one runs again.
    RolledBack(String),
    Started,
    Connected(String),
    Disconnected(String),
    Removed,
    Restored,
    /// Stopped and started: unhealthy past its grace, or a dependency was
    /// recreated. The reasons as text, and whether it was for being unhealthy.
    Restarted(String, Unhealthy),
    Built,
    Pulled,
    Failed(String),
    /// The executor stopped before finishing it.
    Interrupted,
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_) | Outcome::RolledBack(_))
    }
}

pub fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Created => "created".into(),
        Outcome::Recreated => "recreated".into(),
        Outcome::RolledBack(why) => format!("rolled back: {why}"),
        Outcome::Started => "started".into(),
        Outcome::Connected(n) => format!("connected to {n}"),
        Outcome::Disconnected(n) => format!("disconnected from {n}"),
        Outcome::Removed => "removed".into(),
        Outcome::Restored => "restored".into(),
        Outcome::Restarted(why, _) => format!("restarted ({why})"),
        Outcome::Built => "built".into(),
        Outcome::Pulled => "pulled".into(),
        Outcome::Failed(why) => format!("failed: {why}"),
        Outcome::Interrupted => "interrupted".into(),
    }
}

fn success(c: &Change) -> Outcome {
    let network = || c.network.clone().unwrap_or_default();
    match c.action {
        Action::Build => Outcome::Built,
        Action::Pull => Outcome::Pulled,
        Action::Create => Outcome::Created,
        Action::Recreate => Outcome::Recreated,
        Action::Start => Outcome::Started,
        Action::Connect => Outcome::Connected(network()),
        Action::Disconnect => Outcome::Disconnected(network()),
        Action::Remove => Outcome::Removed,
        Action::Restore => Outcome::Restored,
        Action::Restart => Outcome::Restarted(
            c.reasons
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join("; "),
            Unhealthy(
                c.reasons
                    .iter()
                    .any(|r| matches!(r, crate::plan::Reason::Unhealthy { .. })),
            ),
        ),
    }
}

/// One outcome per change that had operations in `ops`, in plan order.
pub fn outcomes(
    changes: &[Change],
    ops: &[&Operation],
    status: &BTreeMap<OpId, OpStatus>,
) -> Vec<(Kind, String, Outcome)> {
    let mut by_change: BTreeMap<usize, Vec<&Operation>> = BTreeMap::new();
    for o in ops {
        by_change.entry(o.change).or_default().push(o);
    }
    by_change
        .into_iter()
        .map(|(i, ops)| {
            let c = &changes[i];
            (c.kind, c.name.clone(), judge(c, &ops, status))
        })
        .collect()
}

fn judge(c: &Change, ops: &[&Operation], status: &BTreeMap<OpId, OpStatus>) -> Outcome {
    let get = |o: &Operation| status.get(&o.id).cloned().unwrap_or(OpStatus::NotRun);
    let (forward, rollback): (Vec<&&Operation>, Vec<&&Operation>) =
        ops.iter().partition(|o| o.rollback_of.is_none());
    let first_problem = forward.iter().find_map(|o| match get(o) {
        OpStatus::Failed(w) | OpStatus::Blocked(w) => Some(w),
        _ => None,
    });
    if let Some(why) = first_problem {
        let rolled_back =
            !rollback.is_empty() && rollback.iter().all(|o| get(o) == OpStatus::Succeeded);
        return if rolled_back {
            Outcome::RolledBack(why)
        } else {
            let rollback_failure = rollback.iter().find_map(|o| match get(o) {
                OpStatus::Failed(w) => Some(w),
                _ => None,
            });
            match rollback_failure {
                Some(r) => Outcome::Failed(format!("{why}; rolling back failed too: {r}")),
                None => Outcome::Failed(why),
            }
        };
    }
    if forward.iter().all(|o| get(o) == OpStatus::Succeeded) {
        success(c)
    } else {
        Outcome::Interrupted
    }
}
