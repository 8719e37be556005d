//! The swarm executor against an in-memory swarm: waves gated on
//! readiness, failures failing dependents, rollbacks held, removal order.

use super::*;
use crate::swarm::plan::{plan, SwarmPlanOptions};
use crate::swarm::render::tests::{desired, state};
use std::sync::Mutex;

/// A swarm in memory: a created or updated service is ready at once,
/// unless it is listed to fail (its tasks fail) or to roll back.
#[derive(Default)]
struct FakeSwarm {
    services: Mutex<BTreeMap<String, ObservedService>>,
    calls: Mutex<Vec<String>>,
    failing: Vec<String>,
    rolling_back: Vec<String>,
}

impl FakeSwarm {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn put(&self, s: &SwarmService) {
        let state = if self.failing.contains(&s.name) {
            "failed"
        } else if s.kind == Kind::Job {
            "complete"
        } else {
            "running"
        };
        let rolled_back = self.rolling_back.contains(&s.name);
        let tasks = if rolled_back {
            vec![ObservedTask {
                desired_state: "running".into(),
                state: "running".into(),
                hash: Some("old".into()),
                ..ObservedTask::default()
            }]
        } else {
            (0..FAILED_TASKS_LIMIT.max(s.replicas as usize))
                .map(|_| ObservedTask {
                    desired_state: "running".into(),
                    state: state.into(),
                    hash: Some(s.hash.clone()),
                    error: Some("task: non-zero exit (1)".into()),
                    exit_code: Some(1),
                    ..ObservedTask::default()
                })
                .take(if state == "running" {
                    s.replicas as usize
                } else {
                    FAILED_TASKS_LIMIT
                })
                .collect()
        };
        let mut labels = s.labels.clone();
        if rolled_back {
            labels.insert(crate::labels::SPEC_HASH.into(), "old".into());
        }
        self.services.lock().unwrap().insert(
            s.name.clone(),
            ObservedService {
                name: s.name.clone(),
                labels,
                update_state: rolled_back.then(|| "rollback_completed".to_string()),
                update_message: rolled_back.then(|| "rollback completed".to_string()),
                tasks,
                ..ObservedService::default()
            },
        );
    }

    fn call(&self, what: String) {
        self.calls.lock().unwrap().push(what);
    }
}

#[async_trait::async_trait]
impl SwarmApi for FakeSwarm {
    fn host(&self) -> &str {
        "fake://swarm"
    }
    async fn observe_swarm(&self) -> Result<ObservedSwarm, EngineError> {
        Ok(ObservedSwarm::default())
    }
    async fn service(&self, name: &str) -> Result<Option<ObservedService>, EngineError> {
        Ok(self.services.lock().unwrap().get(name).cloned())
    }
    async fn create_service(&self, s: &SwarmService) -> Result<(), EngineError> {
        self.call(format!("create {}", s.name));
        self.put(s);
        Ok(())
    }
    async fn update_service(&self, s: &SwarmService, rerun: bool) -> Result<(), EngineError> {
        self.call(format!("update {} rerun={rerun}", s.name));
        self.put(s);
        Ok(())
    }
    async fn remove_service(&self, name: &str) -> Result<(), EngineError> {
        self.call(format!("remove service {name}"));
        self.services.lock().unwrap().remove(name);
        Ok(())
    }
    async fn create_overlay(&self, n: &SwarmNetwork) -> Result<(), EngineError> {
        self.call(format!("create network {}", n.name));
        Ok(())
    }
    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        self.call(format!("remove network {name}"));
        Ok(())
    }
    async fn network_exists(&self, _name: &str) -> Result<bool, EngineError> {
        Ok(false)
    }
    async fn create_data(&self, d: &SwarmData) -> Result<(), EngineError> {
        self.call(format!("create {} {}", d.kind.as_str(), d.name));
        Ok(())
    }
    async fn remove_data(&self, kind: FileKind, name: &str) -> Result<(), EngineError> {
        self.call(format!("remove {} {name}", kind.as_str()));
        Ok(())
    }
    async fn nodes(&self) -> Result<Vec<SwarmNode>, EngineError> {
        Ok(Vec::new())
    }
    fn service_events(
        &self,
    ) -> futures_util::stream::BoxStream<'static, Result<String, EngineError>> {
        Box::pin(futures_util::stream::empty())
    }
}

fn fast() -> SwarmApplyOptions {
    SwarmApplyOptions {
        timeout: Duration::from_secs(5),
        poll: Duration::from_millis(1),
    }
}

async fn cold(fake: &FakeSwarm) -> SwarmReport {
    let st = state();
    let d = desired("s3cret", "c1");
    let p = plan(
        &st,
        &d,
        &ObservedSwarm::default(),
        "t",
        SwarmPlanOptions::default(),
    );
    apply(fake, &st, &d, &p, &fast(), &|_| {}).await
}

#[tokio::test]
async fn a_cold_apply_creates_what_services_use_first_then_services_in_waves() {
    let fake = FakeSwarm::default();
    let report = cold(&fake).await;
    assert_eq!(report.failures().count(), 0, "{report:#?}");
    let calls = fake.calls();
    let at = |what: &str| {
        calls
            .iter()
            .position(|c| c == what)
            .unwrap_or_else(|| panic!("{what}: {calls:#?}"))
    };
    assert!(at("create network p-iso") < at("create p-db"));
    assert!(at("create config p-conf-c1") < at("create p-db"));
    assert!(at("create p-db") < at("create p-migrate"));
    assert!(at("create p-migrate") < at("create p-web"));
}

#[tokio::test]
async fn a_failing_service_fails_its_dependents_without_touching_them() {
    let fake = FakeSwarm {
        failing: vec!["p-db".into()],
        ..FakeSwarm::default()
    };
    let report = cold(&fake).await;
    let failed: Vec<&str> = report.failures().map(|o| o.name.as_str()).collect();
    assert_eq!(failed, ["p-db", "p-migrate", "p-web"]);
    let migrate = report
        .outcomes
        .iter()
        .find(|o| o.name == "p-migrate")
        .unwrap();
    assert!(migrate
        .result
        .as_ref()
        .unwrap_err()
        .starts_with("dependency db failed: 3 tasks failed"));
    let calls = fake.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c == "create p-migrate" || c == "create p-web"),
        "{calls:#?}"
    );
}

#[tokio::test]
async fn a_rolled_back_update_is_held_with_a_marker() {
    let fake = FakeSwarm {
        rolling_back: vec!["p-web".into()],
        ..FakeSwarm::default()
    };
    let report = cold(&fake).await;
    assert_eq!(report.held, ["p-web"]);
    let web = report.outcomes.iter().find(|o| o.name == "p-web").unwrap();
    assert!(web
        .result
        .as_ref()
        .unwrap_err()
        .contains("rolled the update back"));
    assert!(
        fake.calls()
            .iter()
            .any(|c| c.starts_with("create config p-web-failed-")),
        "{:#?}",
        fake.calls()
    );
}

#[tokio::test]
async fn delete_removes_services_before_configs_and_networks() {
    let fake = FakeSwarm::default();
    cold(&fake).await;
    let d = desired("s3cret", "c1");
    let mut observed = crate::swarm::render::tests::applied(&d);
    for s in &mut observed.services {
        s.labels = d
            .services
            .iter()
            .find(|x| x.name == s.name)
            .unwrap()
            .labels
            .clone();
    }
    let p = crate::swarm::plan::plan_delete(&d, &observed, "t");
    fake.calls.lock().unwrap().clear();
    let report = apply(
        &fake,
        &state(),
        &SwarmDesired::default(),
        &p,
        &fast(),
        &|_| {},
    )
    .await;
    assert_eq!(report.failures().count(), 0);
    let calls = fake.calls();
    let last_service = calls
        .iter()
        .rposition(|c| c.starts_with("remove service"))
        .unwrap();
    let first_other = calls
        .iter()
        .position(|c| !c.starts_with("remove service"))
        .unwrap();
    assert!(last_service < first_other, "{calls:#?}");
    assert!(
        calls.last().unwrap().starts_with("remove network"),
        "{calls:#?}"
    );
}
