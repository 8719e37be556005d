//! The mapping to bollard's ServiceSpec, and back to a view that must equal
//! the desired one (or every apply would update every service).

use super::*;
use crate::swarm::render::tests::{applied, desired};

fn spec_of(name: &str) -> (SwarmService, ServiceSpec) {
    let d = desired("s3cret", "c1");
    let s = d
        .services
        .iter()
        .find(|s| s.resource == name)
        .unwrap()
        .clone();
    let mut ids = DataIds::new();
    for f in &s.files {
        ids.insert((f.kind, f.object.clone()), format!("id-{}", f.object));
    }
    let spec = service_spec(&s, &ids, None);
    (s, spec)
}

#[test]
fn a_stored_spec_reads_back_as_the_desired_view() {
    let d = desired("s3cret", "c1");
    let _ = applied(&d);
    for s in &d.services {
        let (want, spec) = spec_of(&s.resource);
        // What the engine sends back went through JSON, as on the wire.
        let text = serde_json::to_string(&spec).unwrap();
        let stored: ServiceSpec = serde_json::from_str(&text).unwrap();
        let have = view_of(&stored, &BTreeMap::new());
        assert_eq!(view::view(&want), have, "{}", s.name);
    }
}

#[test]
fn network_ids_read_back_as_names() {
    let (want, mut spec) = spec_of("web");
    let nets = spec
        .task_template
        .as_mut()
        .unwrap()
        .networks
        .as_mut()
        .unwrap();
    nets[0].target = Some("n0id".into());
    let names = BTreeMap::from([("n0id".to_string(), "p-net".to_string())]);
    assert_eq!(view_of(&spec, &names), view::view(&want));
}

#[test]
fn a_service_maps_to_replicas_placement_ports_and_a_rolling_update() {
    let (_, spec) = spec_of("web");
    assert_eq!(spec.name.as_deref(), Some("p-web"));
    let mode = spec.mode.as_ref().unwrap();
    assert_eq!(mode.replicated.as_ref().unwrap().replicas, Some(3));
    let task = spec.task_template.as_ref().unwrap();
    let placement = task.placement.as_ref().unwrap();
    assert_eq!(
        placement.constraints.as_deref().unwrap(),
        ["node.labels.edge == true"]
    );
    assert_eq!(placement.max_replicas, Some(2));
    let platform = &placement.platforms.as_ref().unwrap()[0];
    assert_eq!(
        (platform.os.as_deref(), platform.architecture.as_deref()),
        (Some("linux"), Some("arm64"))
    );
    let update = spec.update_config.as_ref().unwrap();
    assert_eq!(
        update.failure_action,
        Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK)
    );
    assert_eq!(
        update.order,
        Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST)
    );
    assert_eq!(update.monitor, Some(5_000_000_000));
    assert_eq!(update.parallelism, Some(1));
    let rollback = spec.rollback_config.as_ref().unwrap();
    assert_eq!(
        rollback.failure_action,
        Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE)
    );
    let endpoint = spec.endpoint_spec.as_ref().unwrap();
    assert_eq!(endpoint.mode, Some(EndpointSpecModeEnum::VIP));
    let port = &endpoint.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.target_port, port.published_port),
        (Some(80), Some(8080))
    );
    let container = task.container_spec.as_ref().unwrap();
    assert_eq!(container.env.as_deref().unwrap(), ["MODE=prod"]);
    let config = &container.configs.as_ref().unwrap()[0];
    assert_eq!(config.config_id.as_deref(), Some("id-p-conf-c1"));
    assert_eq!(
        config.file.as_ref().unwrap().name.as_deref(),
        Some("/etc/web.conf")
    );
    let hash = container.labels.as_ref().unwrap().get(TASK_HASH).unwrap();
    assert_eq!(
        Some(hash),
        spec.labels.as_ref().unwrap().get(crate::labels::SPEC_HASH)
    );
    assert_eq!(
        task.restart_policy.as_ref().unwrap().condition,
        Some(TaskSpecRestartPolicyConditionEnum::ANY)
    );
}

#[test]
fn a_job_is_a_replicated_job_never_restarted_and_unpublished_services_use_dns() {
    let (_, spec) = spec_of("migrate");
    let job = spec.mode.as_ref().unwrap().replicated_job.as_ref().unwrap();
    assert_eq!(
        (job.max_concurrent, job.total_completions),
        (Some(1), Some(1))
    );
    assert!(spec.update_config.is_none());
    let task = spec.task_template.as_ref().unwrap();
    assert_eq!(
        task.restart_policy.as_ref().unwrap().condition,
        Some(TaskSpecRestartPolicyConditionEnum::NONE)
    );
    let (_, db) = spec_of("db");
    assert_eq!(
        db.endpoint_spec.as_ref().unwrap().mode,
        Some(EndpointSpecModeEnum::DNSRR)
    );
    let container = db
        .task_template
        .as_ref()
        .unwrap()
        .container_spec
        .as_ref()
        .unwrap();
    let secret = &container.secrets.as_ref().unwrap()[0];
    assert_eq!(secret.file.as_ref().unwrap().mode, Some(0o400));
    let health = container.health_check.as_ref().unwrap();
    assert_eq!(health.interval, Some(2_000_000_000));
    assert_eq!(health.retries, Some(5));
    assert_eq!(
        db.update_config.as_ref().unwrap().order,
        Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST)
    );
}
