//! Every exit code of lucidctl, in one place.
//!
//! 0: success (for diff and apply --dry-run: nothing to change).
//! 1: an error of any kind: invalid input, an unreachable engine, a failed
//!    or rolled-back change, a conflict in a plan, a usage error.
//! 2: the plan has changes (diff, apply --dry-run), as `terraform plan
//!    -detailed-exitcode`, or holds a failed rollout back (the engine still
//!    differs from the files). Nothing else may exit 2.

use clap::error::ErrorKind;
use reconcilers::plan::Plan;

pub const SUCCESS: u8 = 0;
pub const FAILURE: u8 = 1;
pub const CHANGES: u8 = 2;

/// `--help` and `--version` are answers, so 0. Every other clap error is a
/// usage error and exits 1: clap's own default, 2, would read as "changes".
pub fn usage(err: &clap::Error) -> u8 {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => SUCCESS,
        _ => FAILURE,
    }
}

/// What `diff` and `apply --dry-run` exit with for a plan.
pub fn plan(p: &Plan) -> u8 {
    if p.is_blocked() {
        FAILURE
    } else if p.is_empty() && p.held.is_empty() {
        SUCCESS
    } else {
        CHANGES
    }
}
