//! The list-first path against the in-memory fake: what it inspects, and
//! that the plan it leads to is the plan a full observation leads to.

use super::*;
use crate::plan::{plan, Action, PlanOptions};
use crate::testing::{converge_fake, desired, inputs, FakeEngine};

const SYSTEM: &str = r#"
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: net}
---
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: other}
---
apiVersion: lucid/v1alpha1
kind: Volume
metadata: {name: data}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: db}
spec:
  image: db:1
  networks: [{name: net}]
  mounts: [{volume: data, target: /data}]
  healthcheck: {test: [CMD, probe], interval: 1s}
---
apiVersion: lucid/v1alpha1
kind: Job
metadata: {name: migrate}
spec:
  image: db:1
  networks: [{name: net}]
  restart: "no"
  dependsOn: [{name: db, condition: healthy}]
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: web}
spec:
  image: db:1
  env: {GREETING: hello}
  networks: [{name: net}]
  dependsOn: [{name: migrate, condition: completed}]
"#;

async fn converged() -> FakeEngine {
    let e = FakeEngine::new();
    e.add_image("db:1");
    let report = converge_fake(&e, SYSTEM).await;
    assert!(report.failures().next().is_none(), "{:?}", report.outcomes);
    e.clear_calls();
    e
}

/// The plan after observing to `depth`, and the inspects that took.
async fn look(e: &FakeEngine, text: &str, depth: Depth) -> (crate::plan::Plan, Vec<String>) {
    e.clear_calls();
    let state = desired(text);
    let inputs = inputs();
    let observed = observe(e, &state, &inputs, depth).await.expect("observes");
    let inspects = e
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("inspect container"))
        .collect();
    (
        plan(&state, &observed, &inputs, &PlanOptions::default()),
        inspects,
    )
}

fn actions(p: &crate::plan::Plan) -> Vec<(String, Action)> {
    p.changes
        .iter()
        .map(|c| (c.name.clone(), c.action))
        .collect()
}

#[tokio::test]
async fn a_converged_engine_is_proven_from_the_list_alone() {
    let e = converged().await;
    let (p, inspects) = look(&e, SYSTEM, Depth::ListFirst).await;
    assert!(p.is_empty(), "{:?}", actions(&p));
    assert!(inspects.is_empty(), "{inspects:?}");
    assert!(e.calls().iter().any(|c| c == "observe listed"));
    let (full, inspects) = look(&e, SYSTEM, Depth::Full).await;
    assert!(full.is_empty());
    assert!(
        inspects.is_empty(),
        "a full observe inspects inside `observe`"
    );
}

#[tokio::test]
async fn a_stopped_container_is_inspected_and_started() {
    let e = converged().await;
    e.stop_by_hand("web");
    let (p, inspects) = look(&e, SYSTEM, Depth::ListFirst).await;
    assert_eq!(inspects, ["inspect container web"]);
    assert_eq!(actions(&p), [("web".to_string(), Action::Start)]);
    assert_eq!(actions(&p), actions(&look(&e, SYSTEM, Depth::Full).await.0));
}

#[tokio::test]
async fn an_unhealthy_or_extra_attached_container_is_inspected() {
    let e = converged().await;
    e.set_health("db", crate::observed::Health::Unhealthy, 3);
    e.connect_by_hand("web", "other");
    let (p, inspects) = look(&e, SYSTEM, Depth::ListFirst).await;
    let mut inspects = inspects;
    inspects.sort();
    assert_eq!(inspects, ["inspect container db", "inspect container web"]);
    assert_eq!(actions(&p), actions(&look(&e, SYSTEM, Depth::Full).await.0));
    assert!(
        actions(&p).contains(&("web".to_string(), Action::Disconnect)),
        "{:?}",
        actions(&p)
    );
}

#[tokio::test]
async fn a_changed_spec_is_inspected_so_the_diff_still_shows_its_fields() {
    let e = converged().await;
    let changed = SYSTEM.replace("GREETING: hello", "GREETING: bye");
    let (p, inspects) = look(&e, &changed, Depth::ListFirst).await;
    assert_eq!(inspects, ["inspect container web"]);
    assert_eq!(actions(&p), [("web".to_string(), Action::Recreate)]);
    let fields: Vec<String> = p.changes[0].fields.iter().map(|f| f.path.clone()).collect();
    assert_eq!(fields, ["env.GREETING"]);
}

#[tokio::test]
async fn a_removed_container_needs_no_inspect_to_be_created_again() {
    let e = converged().await;
    e.remove_by_hand("web");
    let (p, inspects) = look(&e, SYSTEM, Depth::ListFirst).await;
    assert!(inspects.is_empty(), "{inspects:?}");
    assert_eq!(actions(&p), [("web".to_string(), Action::Create)]);
}

#[tokio::test]
async fn a_job_is_proven_only_by_a_clean_exit_and_a_service_with_a_check_only_when_healthy() {
    let e = converged().await;
    let state = desired(SYSTEM);
    let inputs = inputs();
    let listed = e
        .observe_listed(&crate::render::observe_scope(&state, &inputs))
        .await
        .expect("lists");
    let spec = |name: &str| {
        let r = state
            .workloads()
            .find(|r| r.name() == name)
            .expect("declared");
        render_container(r, &inputs, &listed)
            .expect("a workload")
            .expect("renders")
    };
    let job = listed.container("migrate").expect("listed").clone();
    assert!(proves_converged(&spec("migrate"), &job));
    let failed = ObservedContainer {
        exit_code: Some(1),
        ..job.clone()
    };
    assert!(!proves_converged(&spec("migrate"), &failed));
    let db = listed.container("db").expect("listed").clone();
    assert!(proves_converged(&spec("db"), &db));
    for health in [None, Some(Health::Starting), Some(Health::Unhealthy)] {
        let c = ObservedContainer {
            health,
            ..db.clone()
        };
        assert!(!proves_converged(&spec("db"), &c), "{health:?}");
    }
    let mut foreign = db.clone();
    foreign
        .labels
        .insert(labels::PROJECT.to_string(), "someone-else".to_string());
    assert!(!proves_converged(&spec("db"), &foreign));
    let mut unmounted = db;
    unmounted.config.mounts.clear();
    assert!(!proves_converged(&spec("db"), &unmounted));
}

#[tokio::test]
async fn a_container_in_a_peers_network_stack_is_always_inspected() {
    let sidecar = format!(
        "{SYSTEM}---\napiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {{name: sidecar}}\nspec:\n  image: db:1\n  networkMode: \"service:web\"\n  dependsOn: [{{name: web}}]\n"
    );
    let e = FakeEngine::new();
    e.add_image("db:1");
    let report = converge_fake(&e, &sidecar).await;
    assert!(report.failures().next().is_none(), "{:?}", report.outcomes);
    // The list cannot show whose stack it joined: web may have been recreated since.
    let (p, inspects) = look(&e, &sidecar, Depth::ListFirst).await;
    assert!(p.is_empty(), "{:?}", actions(&p));
    assert_eq!(inspects, ["inspect container sidecar"]);
}
