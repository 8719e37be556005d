//! Synthetic systems of N stand-in services, to show how cost grows with size.
//!
//! Shape: one bridge network; the first N/20 services (1 to 10) are "backends"
//! with a 1 s health check; every other service depends on one backend being
//! healthy. Only backends have health checks: each probe is an exec, and 300
//! containers probed every second would saturate a 2-core engine host and
//! measure the probes, not the tools.

use lucid_e2e::doc;
use std::fmt::Write;

pub const NETWORK: &str = "bench-net";

/// The desired-state YAML of an N-service system running `image`.
pub fn system_yaml(services: usize, image: &str) -> String {
    let backends = (services / 20).clamp(1, 10);
    let mut out = format!(
        "# Synthetic bench system: {services} stand-in services, {backends} of them health-checked backends.\n"
    );
    out.push_str(&doc("Network", NETWORK, "driver: bridge"));
    for i in 0..services {
        let name = service_name(i);
        let port = 8080;
        let mut spec = format!(
            "image: {image}\ncommand: [\"serve\"]\nnetworks:\n  - {{name: {NETWORK}}}\nenv:\n  STANDIN_NAME: {name}\n  STANDIN_PORTS: \"{port}\"\nrestart: unless-stopped\nstopGracePeriod: 2s\n"
        );
        if i < backends {
            let _ = writeln!(
                spec,
                "healthcheck: {{test: [\"CMD\", \"/standin\", \"probe\", \"{port}\"], interval: 1s, timeout: 2s, retries: 30, startPeriod: 0s}}"
            );
        } else {
            let _ = writeln!(
                spec,
                "dependsOn:\n  - {{name: {}, condition: healthy}}",
                service_name(i % backends)
            );
        }
        out.push_str(&doc("Service", &name, &spec));
    }
    out
}

pub fn service_name(i: usize) -> String {
    format!("svc-{i:03}")
}
