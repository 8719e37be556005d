//! `converge` and the executor against the in-memory fake engine: every
//! path that used to need Docker, in milliseconds.

use super::*;
use crate::exec::NoBuilds;
use crate::plan::{Action, Op};
use crate::testing::{desired, inputs, FakeEngine, NoFiles, Recorded, BEHAVIOUR_ENV};
use std::collections::BTreeSet;

const SYSTEM: &str = r#"
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: net}
spec: {subnet: 172.30.0.0/16}
---
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: back}
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
  env: {MODE: primary}
  networks: [{name: net, aliases: [database]}, {name: back}]
  mounts: [{volume: data, target: /data}]
  healthcheck: {test: [CMD, probe], interval: 1s}
  rollout: stopFirst
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
metadata: {name: api}
spec:
  image: api:1
  env: {GREETING: hello}
  networks: [{name: net}]
  healthcheck: {test: [CMD, probe], interval: 1s}
  dependsOn: [{name: db, condition: healthy}, {name: migrate, condition: completed}]
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: web}
spec:
  image: api:1
  networks: [{name: net}]
  dependsOn: [{name: api, condition: healthy}]
"#;

fn engine() -> FakeEngine {
    let e = FakeEngine::new();
    e.add_image("db:1");
    e.add_image("api:1");
    e
}

struct Run {
    report: Result<Report, ApplyError>,
    progress: Vec<String>,
}

async fn apply_with(e: &FakeEngine, text: &str, options: ApplyOptions) -> Run {
    let state = desired(text);
    let inputs = inputs();
    let progress = Recorded::default();
    let ctx = ApplyContext {
        engine: e,
        desired: &state,
        inputs: &inputs,
        host_files: &[],
        files: &NoFiles,
        builder: &NoBuilds,
        progress: &progress,
        options,
    };
    let report = converge(&ctx).await;
    Run {
        report,
        progress: progress.lines(),
    }
}

async fn apply(e: &FakeEngine, text: &str) -> Run {
    let options = ApplyOptions {
        timeout: Duration::from_millis(300),
        ..ApplyOptions::default()
    };
    apply_with(e, text, options).await
}

async fn plan_of(e: &FakeEngine, text: &str, options: &PlanOptions) -> Plan {
    let state = desired(text);
    let inputs = inputs();
    let observed = e
        .observe(&crate::render::observe_scope(&state, &inputs))
        .await
        .expect("the fake answers");
    plan(&state, &observed, &inputs, options)
}

fn position(calls: &[String], call: &str) -> usize {
    calls
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("{call:?} was never called: {calls:#?}"))
}

fn with_env(text: &str, service: &str, line: &str) -> String {
    let anchor = format!("metadata: {{name: {service}}}\nspec:\n");
    assert!(text.contains(&anchor), "no service {service}");
    text.replace(&anchor, &format!("{anchor}  {line}\n"))
}

#[tokio::test]
async fn converges_from_empty_in_dependency_order_and_then_has_nothing_to_do() {
    let e = engine();
    let run = apply(&e, SYSTEM).await;
    let report = run.report.expect("converges");
    assert!(report.failures().next().is_none(), "{:?}", report.outcomes);
    let created: BTreeSet<String> = e.container_names().into_iter().collect();
    assert_eq!(
        created,
        BTreeSet::from(["api", "db", "migrate", "web"].map(String::from))
    );
    assert_eq!(e.network_names(), vec!["back", "net"]);
    let calls = e.calls();
    // db is connected to its second network before it starts, and healthy before migrate is created.
    assert!(position(&calls, "connect db to back") < position(&calls, "start container db"));
    assert!(position(&calls, "start container db") < position(&calls, "create container migrate"));
    assert!(position(&calls, "start container migrate") < position(&calls, "create container api"));
    assert!(position(&calls, "start container api") < position(&calls, "create container web"));
    assert!(
        run.progress.contains(&"Service/web: created".to_string()),
        "{:?}",
        run.progress
    );
    e.clear_calls();
    let again = apply(&e, SYSTEM).await.report.expect("converges");
    assert!(again.outcomes.is_empty(), "{:?}", again.outcomes);
    assert!(
        e.mutations().is_empty(),
        "a converged engine gets no writes: {:?}",
        e.mutations()
    );
}

#[tokio::test]
async fn the_executor_makes_exactly_the_calls_the_plan_shows() {
    let e = engine();
    let plan = plan_of(&e, SYSTEM, &PlanOptions::default()).await;
    let options = ApplyOptions {
        concurrency: 1,
        ..ApplyOptions::default()
    };
    // Stage by stage, as converge runs them: this plan has only one stage.
    assert_eq!(plan.first_stage(), Some(Stage::Converge));
    let _ = apply_with(&e, SYSTEM, options)
        .await
        .report
        .expect("converges");
    let expected: Vec<String> = plan
        .operations
        .iter()
        .filter(|o| o.rollback_of.is_none() && !o.op.is_wait())
        .map(|o| match &o.op {
            Op::CreateContainer { name, .. } => format!("create container {name}"),
            Op::StartContainer { name } => format!("start container {name}"),
            Op::CreateNetwork(n) => format!("create network {}", n.name),
            Op::CreateVolume(v) => format!("create volume {}", v.name),
            Op::ConnectNetwork {
                container,
                attachment,
            } => format!("connect {container} to {}", attachment.network),
            other => panic!("unexpected operation in a cold plan: {other}"),
        })
        .collect();
    let mut made = e.mutations();
    made.retain(|c| !c.contains("lucidctl-lock"));
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    made.sort();
    assert_eq!(
        made, expected_sorted,
        "every planned call, and nothing else"
    );
}

#[tokio::test]
async fn a_recreate_that_never_becomes_healthy_is_rolled_back_to_the_old_container() {
    let e = engine();
    apply(&e, SYSTEM).await.report.expect("converges");
    let before = e.container("api").expect("api exists");
    e.clear_calls();
    let broken = with_env(
        SYSTEM,
        "api",
        &format!("env: {{GREETING: hello, {BEHAVIOUR_ENV}: unhealthy}}"),
    )
    .replace(
        "  env: {GREETING: hello}\n  networks: [{name: net}]\n  healthcheck",
        "  networks: [{name: net}]\n  healthcheck",
    );
    let run = apply(&e, &broken).await;
    let report = run.report.expect("an apply with a rollback still reports");
    let api = report
        .outcomes
        .iter()
        .find(|(_, n, _)| n == "api")
        .map(|(_, _, o)| o.clone());
    assert!(
        matches!(&api, Some(Outcome::RolledBack(why)) if why.contains("unhealthy")),
        "{api:?}"
    );
    let after = e.container("api").expect("the old container is back");
    assert_eq!(after.id, before.id, "the same container, not a new one");
    assert_eq!(after.state, Some(crate::observed::RunState::Running));
    assert!(e.container("api.prev").is_none(), "nothing parked is left");
    // web depends on api: it is not touched while api's rollout failed.
    assert!(!e.mutations().iter().any(|c| c.ends_with("container web")));
}

#[tokio::test]
async fn a_failed_dependency_fails_its_dependents_with_the_chain() {
    let e = engine();
    let broken = SYSTEM.replace(
        "env: {MODE: primary}",
        &format!("env: {{MODE: primary, {BEHAVIOUR_ENV}: unhealthy}}"),
    );
    let report = apply(&e, &broken).await.report.expect("reports");
    let outcome = |name: &str| {
        report
            .outcomes
            .iter()
            .find(|(_, n, _)| n == name)
            .map(|(_, _, o)| o.clone())
    };
    assert!(matches!(outcome("db"), Some(Outcome::Failed(w)) if w.contains("unhealthy")));
    assert!(
        matches!(outcome("migrate"), Some(Outcome::Failed(w)) if w.starts_with("dependency db failed")),
        "{:?}",
        outcome("migrate")
    );
    assert!(
        matches!(outcome("web"), Some(Outcome::Failed(w)) if w.contains("dependency api failed: dependency db failed")),
        "{:?}",
        outcome("web")
    );
    assert!(e.container("api").is_none() && e.container("web").is_none());
}

/// Kill the executor after operation k, for every k, then apply again: the
/// engine always converges, with nothing parked left and the volume kept.
#[tokio::test]
async fn an_apply_killed_at_any_operation_boundary_converges_on_the_next() {
    let changed = SYSTEM
        .replace("env: {MODE: primary}", "env: {MODE: replica}")
        .replace("env: {GREETING: hello}", "env: {GREETING: bonjour}");
    for (from, to) in [("", SYSTEM), (SYSTEM, changed.as_str())] {
        let total = {
            let e = engine();
            if !from.is_empty() {
                apply(&e, from).await.report.expect("converges");
            }
            plan_of(&e, to, &PlanOptions::default())
                .await
                .operations
                .len()
        };
        assert!(total > 10, "a real plan: {total} operations");
        for k in 0..=total {
            let e = engine();
            if !from.is_empty() {
                apply(&e, from).await.report.expect("converges");
            }
            let killed = ApplyOptions {
                concurrency: 1,
                stop_after: Some(k),
                timeout: Duration::from_millis(300),
                ..ApplyOptions::default()
            };
            let _ = apply_with(&e, to, killed).await;
            let next = apply(&e, to)
                .await
                .report
                .expect("the next apply converges");
            assert!(
                next.failures().next().is_none(),
                "killed after {k}: {:?}",
                next.outcomes
            );
            let left = plan_of(&e, to, &PlanOptions::default()).await;
            assert!(
                left.is_empty(),
                "killed after {k}: still to do {:?}",
                left.changes
            );
            assert!(
                !e.container_names().iter().any(|n| n.ends_with(".prev")),
                "killed after {k}: {:?}",
                e.container_names()
            );
            assert_eq!(e.volume_names(), vec!["data"], "killed after {k}");
        }
    }
}

#[tokio::test]
async fn prune_removes_only_managed_objects_of_the_project_and_keeps_volumes() {
    let e = engine();
    apply(&e, SYSTEM).await.report.expect("converges");
    e.add_foreign_container("web-by-hand");
    let without_web = SYSTEM
        .split("---")
        .filter(|doc| !doc.contains("name: web}"))
        .collect::<Vec<_>>()
        .join("---");
    let without_web_and_data = without_web
        .split("---")
        .filter(|doc| !doc.contains("kind: Volume"))
        .collect::<Vec<_>>()
        .join("---")
        .replace("  mounts: [{volume: data, target: /data}]\n", "");
    let prune = ApplyOptions {
        plan: PlanOptions {
            prune: true,
            ..PlanOptions::default()
        },
        ..ApplyOptions::default()
    };
    let report = apply_with(&e, &without_web_and_data, prune.clone())
        .await
        .report
        .expect("converges");
    assert!(report.failures().next().is_none(), "{:?}", report.outcomes);
    assert!(
        e.container("web").is_none(),
        "the undeclared service is pruned"
    );
    assert!(
        e.container("web-by-hand").is_some(),
        "a foreign container is never touched"
    );
    assert_eq!(
        e.volume_names(),
        vec!["data"],
        "volumes stay without --prune-volumes"
    );
    // An empty desired set is never pruned against: everything would go.
    let empty = plan_of(&e, "", &prune.plan).await;
    assert!(empty.changes.is_empty(), "{empty:?}");
    e.clear_calls();
    let refused = apply_with(&e, "", prune).await.report;
    assert!(
        matches!(refused, Err(ApplyError::EmptyPrune)),
        "{:?}",
        refused.map(|r| r.outcomes)
    );
    assert!(e.mutations().is_empty(), "{:?}", e.mutations());
}

#[tokio::test]
async fn a_conflict_blocks_the_whole_apply_before_any_write() {
    let e = engine();
    e.add_foreign_container("api");
    e.clear_calls();
    let run = apply(&e, SYSTEM).await;
    assert!(
        matches!(run.report, Err(ApplyError::Blocked(ref why)) if why.contains("ownership label"))
    );
    assert!(e.mutations().is_empty(), "{:?}", e.mutations());
    let plan = plan_of(&e, SYSTEM, &PlanOptions::default()).await;
    assert!(plan.is_blocked());
}

#[tokio::test]
async fn an_interrupted_recreate_is_planned_as_recovery_first() {
    let e = engine();
    apply(&e, SYSTEM).await.report.expect("converges");
    // What a kill between "rename api to api.prev" and "create api" leaves.
    e.stop_by_hand("api");
    e.rename_container("api", "api.prev").await.expect("rename");
    let plan = plan_of(&e, SYSTEM, &PlanOptions::default()).await;
    assert_eq!(plan.first_stage(), Some(Stage::Recover));
    let restore = plan.changes.iter().find(|c| c.action == Action::Restore);
    assert!(
        restore.is_some_and(|c| c.name == "api"),
        "{:?}",
        plan.changes
    );
    // Planned against the engine as recovery leaves it: start api, not create it.
    assert!(plan
        .changes
        .iter()
        .any(|c| c.name == "api" && c.action == Action::Start));
    apply(&e, SYSTEM).await.report.expect("converges");
    assert!(e.container("api.prev").is_none());
    assert_eq!(
        e.container("api").and_then(|c| c.state),
        Some(crate::observed::RunState::Running)
    );
}

fn outcome_of(report: &Report, name: &str) -> Option<Outcome> {
    report
        .outcomes
        .iter()
        .find(|(_, n, _)| n == name)
        .map(|(_, _, o)| o.clone())
}

/// Issue 14: a spec whose rollout failed is held, not retried on every pass.
#[tokio::test]
async fn a_failed_revision_is_held_until_the_spec_changes_or_a_retry_is_asked() {
    let e = engine();
    apply(&e, SYSTEM).await.report.expect("converges");
    let broken = SYSTEM.replace(
        "env: {GREETING: hello}",
        &format!("env: {{GREETING: hello, {BEHAVIOUR_ENV}: unhealthy}}"),
    );
    let first = apply(&e, &broken).await.report.expect("reports");
    assert!(matches!(
        outcome_of(&first, "api"),
        Some(Outcome::RolledBack(_))
    ));
    assert!(
        e.volume_names()
            .iter()
            .any(|v| v.starts_with("lucidctl-failed-api-")),
        "the failure is recorded on the engine: {:?}",
        e.volume_names()
    );
    e.clear_calls();
    let again = apply(&e, &broken).await.report.expect("converges");
    assert!(again.outcomes.is_empty(), "{:?}", again.outcomes);
    assert!(
        !e.mutations()
            .iter()
            .any(|c| c.contains("api.next") || c == "stop container api"),
        "the same spec is not tried again: {:?}",
        e.mutations()
    );
    let held = again.held.first().expect("api is held");
    assert_eq!(held.name, "api");
    assert!(held.reason.contains("unhealthy"), "{held:?}");
    let plan = plan_of(&e, &broken, &PlanOptions::default()).await;
    assert!(
        plan.is_empty() && plan.held.len() == 1,
        "diff shows it held: {plan:?}"
    );
    // Asked to retry: tried (and rolled back) once more.
    let retry = ApplyOptions {
        plan: PlanOptions {
            retry_failed: true,
            ..PlanOptions::default()
        },
        timeout: Duration::from_millis(300),
        ..ApplyOptions::default()
    };
    let retried = apply_with(&e, &broken, retry)
        .await
        .report
        .expect("reports");
    assert!(matches!(
        outcome_of(&retried, "api"),
        Some(Outcome::RolledBack(_))
    ));
    // A new spec is a new attempt, and when it works the service moves on.
    let fixed = SYSTEM.replace("env: {GREETING: hello}", "env: {GREETING: fixed}");
    let report = apply(&e, &fixed).await.report.expect("converges");
    assert_eq!(outcome_of(&report, "api"), Some(Outcome::Recreated));
    assert!(report.held.is_empty());
}

/// Issue 22 (found by the chaos soak): while a rollout is held, the previous
/// container is all that serves. An engine restart stopped it and nothing
/// started it again (the recreate towards the held spec was dropped, and with
/// it every repair of that container); a hand connection to another network
/// stayed too. Now the previous container is started and kept on its declared
/// networks, and the held spec is still not tried.
#[tokio::test]
async fn while_a_rollout_is_held_the_previous_container_is_still_repaired() {
    let e = engine();
    apply(&e, SYSTEM).await.report.expect("converges");
    let broken = SYSTEM.replace(
        "env: {GREETING: hello}",
        &format!("env: {{GREETING: hello, {BEHAVIOUR_ENV}: unhealthy}}"),
    );
    let first = apply(&e, &broken).await.report.expect("reports");
    assert!(matches!(
        outcome_of(&first, "api"),
        Some(Outcome::RolledBack(_))
    ));
    let previous = e.container("api").expect("api").id;
    e.stop_by_hand("api");
    e.connect_by_hand("api", "back");
    e.clear_calls();
    let again = apply(&e, &broken).await.report.expect("converges");
    let api = e.container("api").expect("api");
    assert_eq!(api.id, previous, "the previous container, not a new one");
    assert_eq!(api.state, Some(crate::observed::RunState::Running));
    assert!(
        !api.config.networks.contains_key("back"),
        "taken off the network it does not declare: {:?}",
        api.config.networks
    );
    assert!(
        !e.mutations().iter().any(|c| c.contains("api.next")),
        "the held spec is not tried again: {:?}",
        e.mutations()
    );
    assert_eq!(again.held.first().map(|h| h.name.as_str()), Some("api"));
}

/// Issue 22 (found by the chaos soak): after a daemon restart the runtime
/// can keep a container's old task, and every start of it then fails with
/// `task <id>: already exists`. The start that fails records that in the
/// container's state; the next pass makes the container anew, and the
/// service runs again with its volume.
#[tokio::test]
async fn a_container_whose_old_task_blocks_every_start_is_made_anew() {
    let e = engine();
    apply(&e, SYSTEM).await.report.expect("converges");
    let stuck = e.container("db").expect("db").id;
    e.leave_stale_task("db");
    let first = apply(&e, SYSTEM).await.report.expect("reports");
    assert!(
        first.failures().any(|(_, name, _)| name == "db"),
        "the start fails as Docker's does: {:?}",
        first.outcomes
    );
    let again = apply(&e, SYSTEM).await.report.expect("converges");
    assert!(again.failures().next().is_none(), "{:?}", again.outcomes);
    let db = e.container("db").expect("db");
    assert_ne!(db.id, stuck, "a new container, not the stuck one");
    assert_eq!(db.state, Some(crate::observed::RunState::Running));
    assert!(
        db.config.mounts.contains_key("/data"),
        "its volume is mounted again"
    );
    assert!(e.volume_names().iter().any(|v| v.ends_with("data")));
}

/// Issue 14: start-first keeps the old container serving until the new one
/// is ready, and a failed new container never touches the old one.
#[tokio::test]
async fn a_start_first_rollout_never_stops_the_old_container_before_the_new_one_is_ready() {
    let e = engine();
    apply(&e, SYSTEM).await.report.expect("converges");
    let before = e.container("api").expect("api").id;
    e.clear_calls();
    let changed = SYSTEM.replace("env: {GREETING: hello}", "env: {GREETING: bonjour}");
    let report = apply(&e, &changed).await.report.expect("converges");
    assert_eq!(outcome_of(&report, "api"), Some(Outcome::Recreated));
    let calls = e.calls();
    assert!(
        position(&calls, "inspect container api.next") < position(&calls, "stop container api")
    );
    assert!(
        position(&calls, "remove container api")
            < position(&calls, "rename container api.next to api")
    );
    let after = e.container("api").expect("api");
    assert_ne!(after.id, before);
    assert_eq!(
        after.config.env.get("GREETING").map(String::as_str),
        Some("bonjour")
    );
    // A failing one: the running container is never stopped.
    let now = after.id;
    e.clear_calls();
    let broken = changed.replace(
        "env: {GREETING: bonjour}",
        &format!("env: {{GREETING: bonjour, {BEHAVIOUR_ENV}: unhealthy}}"),
    );
    let report = apply(&e, &broken).await.report.expect("reports");
    assert!(matches!(
        outcome_of(&report, "api"),
        Some(Outcome::RolledBack(_))
    ));
    assert!(
        !e.mutations().iter().any(|c| c == "stop container api"),
        "{:?}",
        e.mutations()
    );
    assert_eq!(e.container("api").map(|c| c.id), Some(now));
    assert!(e.container("api.next").is_none());
}

/// Issue 14: readiness by the controller. Docker's first health check runs
/// one interval after start (API 1.41); lucidctl runs the declared test
/// itself and counts its first pass as ready, so dependents start at once.
#[tokio::test]
async fn a_passing_healthcheck_run_by_lucidctl_is_ready_before_docker_checks() {
    let e = engine();
    let slow = SYSTEM.replace(
        "env: {MODE: primary}",
        &format!("env: {{MODE: primary, {BEHAVIOUR_ENV}: slow-health}}"),
    );
    let report = apply(&e, &slow).await.report.expect("converges");
    assert!(report.failures().next().is_none(), "{:?}", report.outcomes);
    assert_eq!(
        e.container("db").and_then(|c| c.health),
        Some(crate::observed::Health::Starting),
        "Docker has not checked yet"
    );
    let calls = e.calls();
    assert!(
        position(&calls, "exec in db: probe") < position(&calls, "create container migrate"),
        "the dependent started on the probe's pass"
    );
    // A probe that never passes is not ready: the wait times out.
    let e = engine();
    let never = SYSTEM.replace(
        "env: {MODE: primary}",
        &format!("env: {{MODE: primary, {BEHAVIOUR_ENV}: never-ready}}"),
    );
    let report = apply(&e, &never).await.report.expect("reports");
    let db = outcome_of(&report, "db");
    assert!(
        matches!(&db, Some(Outcome::Failed(w)) if w.contains("not healthy within")),
        "{db:?}"
    );
}

/// Issue 14: `dependsOn: [{name, restart: true}]` restarts the dependent once
/// its dependency was recreated and is ready again.
#[tokio::test]
async fn dependents_with_restart_true_follow_a_recreated_dependency() {
    let e = engine();
    let system = SYSTEM.replace(
        "dependsOn: [{name: api, condition: healthy}]",
        "dependsOn: [{name: api, condition: healthy, restart: true}]",
    );
    apply(&e, &system).await.report.expect("converges");
    let web_id = e.container("web").expect("web").id;
    e.clear_calls();
    let changed = system.replace("env: {GREETING: hello}", "env: {GREETING: hi}");
    let report = apply(&e, &changed).await.report.expect("converges");
    assert!(
        matches!(outcome_of(&report, "web"), Some(Outcome::Restarted(why, _)) if why.contains("dependency api")),
        "{:?}",
        report.outcomes
    );
    let calls = e.calls();
    assert!(
        position(&calls, "rename container api.next to api")
            < position(&calls, "stop container web")
    );
    assert_eq!(
        e.container("web").map(|c| c.id),
        Some(web_id),
        "restarted, not recreated"
    );
    assert!(plan_of(&e, &changed, &PlanOptions::default())
        .await
        .is_empty());
}

/// Issue 14: Docker never restarts an unhealthy container; past
/// `healthcheck.restartAfter` lucidctl does, and asks to look again before that.
#[tokio::test]
async fn an_unhealthy_service_is_restarted_after_its_grace() {
    let e = engine();
    let system = SYSTEM.replace(
        "  env: {GREETING: hello}\n  networks: [{name: net}]\n  healthcheck: {test: [CMD, probe], interval: 1s}",
        "  env: {GREETING: hello}\n  networks: [{name: net}]\n  healthcheck: {test: [CMD, probe], interval: 1s, restartAfter: 3s}",
    );
    assert_ne!(system, SYSTEM, "the healthcheck was patched");
    apply(&e, &system).await.report.expect("converges");
    let id = e.container("api").expect("api").id;
    e.set_health("api", crate::observed::Health::Unhealthy, 1);
    let early = plan_of(&e, &system, &PlanOptions::default()).await;
    assert!(
        early.changes.iter().all(|c| c.name != "api"),
        "{:?}",
        early.changes
    );
    assert_eq!(early.requeue_after, Some(Duration::from_secs(2)));
    e.set_health("api", crate::observed::Health::Unhealthy, 3);
    let report = apply(&e, &system).await.report.expect("converges");
    assert!(
        matches!(outcome_of(&report, "api"), Some(Outcome::Restarted(why, _)) if why.starts_with("unhealthy for 3s")),
        "{:?}",
        report.outcomes
    );
    assert_eq!(e.container("api").map(|c| c.id), Some(id));
}

/// Issue 14: a store's `beforeRecreate` Job (a backup) runs first; if it
/// fails, the store is not recreated.
#[tokio::test]
async fn a_failing_before_recreate_hook_keeps_the_store_as_it_is() {
    let hooked = |backup_env: &str| {
        format!(
            "{SYSTEM}---\napiVersion: lucid/v1alpha1\nkind: Job\nmetadata: {{name: backup}}\nspec:\n  image: db:1\n  restart: \"no\"\n  networks: [{{name: net}}]\n  env: {{{backup_env}}}\n"
        )
        .replace(
            "  rollout: stopFirst\n",
            "  rollout: stopFirst\n  beforeRecreate: [backup]\n",
        )
    };
    let e = engine();
    let good = hooked("TARGET: /backups");
    apply(&e, &good).await.report.expect("converges");
    e.clear_calls();
    let changed = good.replace("env: {MODE: primary}", "env: {MODE: replica}");
    let report = apply(&e, &changed).await.report.expect("converges");
    assert_eq!(outcome_of(&report, "db"), Some(Outcome::Recreated));
    let calls = e.calls();
    assert!(position(&calls, "start container backup") < position(&calls, "stop container db"));
    // A failing backup: db is left alone.
    let e = engine();
    let failing = hooked(&format!("TARGET: /backups, {BEHAVIOUR_ENV}: \"exit:1\""));
    apply(&e, &failing).await.report.expect("reports");
    let db = e.container("db").expect("db").id;
    e.clear_calls();
    let changed = failing.replace("env: {MODE: primary}", "env: {MODE: replica}");
    let report = apply(&e, &changed).await.report.expect("reports");
    assert!(
        matches!(outcome_of(&report, "db"), Some(Outcome::Failed(why)) if why.contains("backup failed")),
        "{:?}",
        report.outcomes
    );
    assert!(
        !e.mutations().iter().any(|c| c == "stop container db"),
        "{:?}",
        e.mutations()
    );
    assert_eq!(e.container("db").map(|c| c.id), Some(db));
}

/// A store stuck on its old task is made anew without its backup hook: the
/// spec and the volume stay the same, and a backup could not read a store
/// that is down (the chaos soak's smoke: the hook never completed, so the
/// recreate was refused on every pass). A spec change still runs the hook.
#[tokio::test]
async fn a_store_stuck_on_its_old_task_is_remade_without_its_backup_hook() {
    let hooked = format!(
        "{SYSTEM}---\napiVersion: lucid/v1alpha1\nkind: Job\nmetadata: {{name: backup}}\nspec:\n  image: db:1\n  restart: \"no\"\n  networks: [{{name: net}}]\n  env: {{TARGET: /backups}}\n"
    )
    .replace(
        "  rollout: stopFirst\n",
        "  rollout: stopFirst\n  beforeRecreate: [backup]\n",
    );
    let e = engine();
    apply(&e, &hooked).await.report.expect("converges");
    let stuck = e.container("db").expect("db").id;
    e.leave_stale_task("db");
    apply(&e, &hooked).await.report.expect("reports");
    e.clear_calls();
    let again = apply(&e, &hooked).await.report.expect("reports");
    assert_eq!(
        outcome_of(&again, "db"),
        Some(Outcome::Recreated),
        "{:?}",
        again.outcomes
    );
    assert_ne!(e.container("db").map(|c| c.id), Some(stuck));
    assert!(
        !e.mutations()
            .iter()
            .any(|c| c.contains("start container backup")),
        "no backup for a remake: {:?}",
        e.mutations()
    );
}

/// `delete` removes the records of failed rollouts with the workloads,
/// even without `--volumes` (they hold no data).
#[tokio::test]
async fn delete_removes_failed_rollout_records_and_keeps_data_volumes() {
    let e = engine();
    apply(&e, SYSTEM).await.report.expect("converges");
    let broken = SYSTEM.replace(
        "env: {GREETING: hello}",
        &format!("env: {{GREETING: hello, {BEHAVIOUR_ENV}: unhealthy}}"),
    );
    apply(&e, &broken).await.report.expect("reports");
    assert!(e
        .volume_names()
        .iter()
        .any(|v| v.starts_with("lucidctl-failed-api-")));
    let state = desired(&broken);
    let inputs = inputs();
    let observed = e.observe(&Default::default()).await.expect("observe");
    let p = crate::plan::plan_delete(&state, &observed, &inputs, false);
    let progress = Recorded::default();
    let ctx = ApplyContext {
        engine: &e,
        desired: &state,
        inputs: &inputs,
        host_files: &[],
        files: &NoFiles,
        builder: &NoBuilds,
        progress: &progress,
        options: ApplyOptions::default(),
    };
    let outcomes = execute_once(&ctx, &p).await;
    assert!(
        outcomes.iter().all(|(_, _, o)| !o.is_failure()),
        "{outcomes:?}"
    );
    assert!(e.container_names().is_empty(), "{:?}", e.container_names());
    assert_eq!(
        e.volume_names(),
        vec!["data"],
        "the data volume stays, the record goes"
    );
}

/// A no-op costs one observation: nothing to do only with an empty plan, no
/// engine lock of the project (a live or killed holder goes the lock path)
/// and every host file in place.
#[tokio::test]
async fn nothing_to_do_needs_an_empty_plan_no_lock_and_host_files_in_place() {
    let e = engine();
    apply(&e, SYSTEM).await.report.expect("converges");
    let state = desired(SYSTEM);
    let inputs = inputs();
    let progress = Recorded::default();
    let dir = tempfile::tempdir().expect("a temp dir");
    let host_files = vec![crate::hostfiles::HostFile {
        what: "ConfigFile/conf".into(),
        path: dir.path().join("conf"),
        bytes: b"v=1\n".to_vec(),
        mode: 0o644,
        owner: None,
        exclusive_dir: false,
    }];
    use crate::hostfiles::HostFiles;
    let files = crate::hostfiles::LocalFiles;
    let ctx = ApplyContext {
        engine: &e,
        desired: &state,
        inputs: &inputs,
        host_files: &host_files,
        files: &files,
        builder: &NoBuilds,
        progress: &progress,
        options: ApplyOptions {
            observe: crate::observe::Depth::ListFirst,
            ..ApplyOptions::default()
        },
    };
    let check = || async {
        let (p, observed) = ctx.plan_observed().await.expect("observes");
        ctx.nothing_to_do(&p, observed, Duration::ZERO)
            .await
            .expect("checks")
            .is_some()
    };
    assert!(!check().await, "the host file is missing");
    files.sync(&host_files).await.expect("writes");
    e.clear_calls();
    assert!(check().await);
    assert!(
        e.mutations().is_empty(),
        "nothing written: {:?}",
        e.mutations()
    );
    let lock = lock::EngineLock::acquire(&e, "t", Duration::from_secs(60), true, |_| {})
        .await
        .expect("locks");
    assert!(!check().await, "a lock is held");
    lock.release(&e).await.expect("releases");
    assert!(check().await);
    e.stop_by_hand("web");
    assert!(!check().await, "web is stopped");
}
