//! Waiting for containers: ready after a start, and dependency conditions.
//! Polls inspect (about half a millisecond locally), starting at 20 ms and
//! backing off to 250 ms; a wait ends early when the container can no longer
//! get there. For `healthy`, lucidctl also runs the declared healthcheck test
//! itself through exec at that cadence and counts its first pass as ready:
//! on API 1.41 Docker's first check runs only one full interval after start.

use crate::engine::EngineApi;
use crate::observed::{Health, ObservedContainer, RunState};
use desired_state::model::Condition;
use std::time::{Duration, Instant};

const FIRST_POLL: Duration = Duration::from_millis(20);
const MAX_POLL: Duration = Duration::from_millis(250);
/// How long one probe may run: a healthcheck that hangs is not a pass.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

pub enum Verdict {
    Done,
    Pending,
    Failed(String),
}

pub fn judge(c: &ObservedContainer, condition: Condition) -> Verdict {
    let running = matches!(c.state, Some(RunState::Running));
    let exited = matches!(c.state, Some(RunState::Exited | RunState::Dead));
    match condition {
        Condition::Started if running => Verdict::Done,
        Condition::Healthy if running && matches!(c.health, Some(Health::Healthy) | None) => {
            Verdict::Done
        }
        Condition::Healthy if c.health == Some(Health::Unhealthy) => {
            Verdict::Failed("unhealthy".into())
        }
        Condition::Completed if exited && c.exit_code == Some(0) => Verdict::Done,
        Condition::Completed if exited => {
            Verdict::Failed(format!("exited with code {}", c.exit_code.unwrap_or(-1)))
        }
        Condition::Started | Condition::Healthy if exited => {
            Verdict::Failed(format!("exited with code {}", c.exit_code.unwrap_or(-1)))
        }
        _ => Verdict::Pending,
    }
}

/// Waits until `name` meets `condition`; the error says why not. `probe` is
/// the healthcheck command, run by lucidctl while `healthy` is pending.
pub async fn until(
    engine: &dyn EngineApi,
    name: &str,
    condition: Condition,
    probe: Option<&[String]>,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_POLL;
    loop {
        match engine.inspect_container(name).await {
            Ok(Some(c)) => match judge(&c, condition) {
                Verdict::Done => return Ok(()),
                Verdict::Failed(why) => return Err(why),
                Verdict::Pending => {
                    let running = c.state == Some(RunState::Running);
                    if let (Condition::Healthy, Some(argv), true) = (condition, probe, running) {
                        let limit =
                            PROBE_TIMEOUT.min(deadline.saturating_duration_since(Instant::now()));
                        if matches!(engine.exec(name, argv, limit).await, Ok(0)) {
                            return Ok(());
                        }
                    }
                }
            },
            Ok(None) => return Err("does not exist".into()),
            Err(e) => return Err(e.to_string()),
        }
        if Instant::now() >= deadline {
            return Err(format!("not {} within {:?}", condition.as_str(), timeout));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(state: RunState, health: Option<Health>, exit: i64) -> ObservedContainer {
        ObservedContainer {
            state: Some(state),
            health,
            exit_code: Some(exit),
            ..Default::default()
        }
    }

    #[test]
    fn conditions() {
        assert!(matches!(
            judge(
                &c(RunState::Running, Some(Health::Starting), 0),
                Condition::Healthy
            ),
            Verdict::Pending
        ));
        assert!(matches!(
            judge(
                &c(RunState::Running, Some(Health::Healthy), 0),
                Condition::Healthy
            ),
            Verdict::Done
        ));
        assert!(matches!(
            judge(&c(RunState::Running, None, 0), Condition::Healthy),
            Verdict::Done
        ));
        assert!(matches!(
            judge(&c(RunState::Exited, None, 0), Condition::Completed),
            Verdict::Done
        ));
        assert!(matches!(
            judge(&c(RunState::Exited, None, 2), Condition::Completed),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            judge(&c(RunState::Exited, None, 0), Condition::Healthy),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            judge(
                &c(RunState::Running, Some(Health::Unhealthy), 0),
                Condition::Healthy
            ),
            Verdict::Failed(_)
        ));
    }
}
