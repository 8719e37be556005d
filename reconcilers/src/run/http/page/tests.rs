use super::*;
use crate::graph::tests::topology;
use crate::plan::Held;
use crate::run::notify::Severity;
use crate::run::status::ResourceStatus;
use desired_state::model::Kind;
use std::sync::Arc;
use std::time::Instant;

fn resource(kind: &str, name: &str, state: Readiness, error: Option<&str>) -> ResourceStatus {
    ResourceStatus {
        kind: kind.into(),
        name: name.into(),
        state,
        last_reconcile: Some("2026-01-02T03:04:05Z".into()),
        last_error: error.map(str::to_string),
    }
}

fn status() -> Status {
    let mut s = Status {
        applied_revision: Some("0123abcd".into()),
        last_reconcile: Some("2026-01-02T03:04:05Z".into()),
        last_duration_seconds: Some(1.25),
        topology: Some(Arc::new(topology())),
        ..Status::default()
    };
    s.resources = vec![
        resource("Network", "front", Readiness::Ready, None),
        resource("Service", "db", Readiness::Ready, None),
        resource(
            "Service",
            "api",
            Readiness::Degraded,
            Some("health check <failed> & gave up"),
        ),
        resource("Service", "tron", Readiness::CrashLooping, None),
        resource("Service", "gw", Readiness::Degraded, None),
        resource("Service", "loner", Readiness::Progressing, None),
    ];
    s.held = vec![Held {
        kind: Kind::Service,
        name: "gw".into(),
        hash: "abcdef0123456789".into(),
        reason: "unhealthy after 60s".into(),
        failed_at: 0,
    }];
    s.events.record(
        "policy-violation",
        Severity::Critical,
        Some("Service/api".into()),
        "Service/api was attached to isolated network pay; disconnected".into(),
        "2026-01-02T03:04:06Z".into(),
        Instant::now(),
    );
    s
}

#[test]
fn the_page_shows_revision_timing_states_by_phase_held_rollouts_and_events() {
    let html = render(&status(), "v1");
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains("name=\"viewport\""));
    assert!(html.contains("data-version=\"v1\""));
    assert!(html.contains("<b id=\"revision\">0123abcd</b>"));
    assert!(
        html.contains("(took 1.2 s)") || html.contains("(took 1.3 s)"),
        "{html}"
    );
    // Grouped by phase in dependency order; the held rollout shows as held.
    let at = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing"))
    };
    assert!(at("data-phase=\"foundation\"") < at("data-phase=\"core\""));
    assert!(at("data-phase=\"core\"") < at("data-phase=\"support\""));
    assert!(
        html.contains("data-name=\"gw\" data-state=\"held\""),
        "{html}"
    );
    assert!(html.contains("data-name=\"tron\" data-state=\"crash-looping\""));
    assert!(html.contains("rollout of abcdef012345 failed: unhealthy after 60s"));
    assert!(
        html.contains("1 rollout(s) held"),
        "a banner at the top: {html}"
    );
    assert!(html.contains("data-event=\"policy-violation\""));
    // The graph, coloured by the same states, with its boundary and the networks.
    assert!(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"lucid-graph\""));
    assert!(html.contains("data-name=\"db\" data-kind=\"Service\" data-state=\"ready\""));
    assert!(html.contains(
        "data-name=\"gw\" data-kind=\"Service\" data-state=\"held\" data-role=\"bridge\""
    ));
    assert!(html.contains("class=\"isolation-boundary\" data-network=\"pay\""));
    assert!(html.contains("bridged by gw"), "{html}");
    assert!(html.contains("/events/stream"));
    // Messages are escaped.
    assert!(html.contains("health check &lt;failed&gt; &amp; gave up"));
    assert!(!html.contains("<failed>"));
}

#[test]
fn hostile_text_from_files_and_the_engine_is_escaped() {
    let mut s = status();
    s.input_error = Some("t.yaml:1:1: <img src=x onerror=alert(1)>".into());
    s.resources[1].name = "<script>alert(1)</script>".into();
    let html = render(&s, "\"><script>");
    assert_eq!(
        html.matches("<script>").count(),
        1,
        "only the page's own script: {html}"
    );
    assert!(!html.contains("<img"), "{html}");
}

#[test]
fn a_loop_that_has_not_loaded_anything_yet_still_renders() {
    let html = render(&Status::default(), "v0");
    assert!(html.contains("No pass has finished yet."));
    assert!(html.contains("no Services or Jobs"));
    assert!(html.contains("revision <b id=\"revision\">none yet</b>"));
}
