//! `lucidctl notify test`: one `test` event to each target, through the same
//! formats and delivery as the run loop, with a line per target.

use super::{context, fail};
use crate::cli::NotifyCommand;
use desired_state::diagnostics::escape_controls;
use reconcilers::run::{deliver_once, now_rfc3339, target, Notification, SecretWatch, Severity};
use std::process::ExitCode;

pub async fn run(cmd: NotifyCommand) -> ExitCode {
    let NotifyCommand::Test(args) = cmd;
    let watch = SecretWatch::default();
    let mut targets = Vec::new();
    for spec in &args.notify {
        match target(spec, &watch) {
            Ok(t) => targets.push(t),
            Err(e) => return fail(&e.to_string()),
        }
    }
    if args.notify.iter().any(|t| t.starts_with("secret:")) {
        match context::load(&args.source, &args.engine) {
            Ok(loaded) => watch.update(&loaded.inputs.secrets),
            Err(e) => return fail(&e),
        }
    }
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let n = Notification {
        event: "test".into(),
        severity: Severity::Info,
        resource: None,
        message: format!(
            "a test notification from `lucidctl notify test` on {}",
            escape_controls(host.trim())
        ),
        revision: None,
        time: now_rfc3339(),
    };
    let mut failed = 0;
    for t in &targets {
        match deliver_once(t, &n).await {
            Ok(()) => println!("ok      {}", t.describe()),
            Err(why) => {
                failed += 1;
                println!("FAILED  {}: {}", t.describe(), escape_controls(&why));
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} target(s) did not take the test notification",
            targets.len()
        );
        return ExitCode::from(controller::exit::FAILURE);
    }
    ExitCode::SUCCESS
}
