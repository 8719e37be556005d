//! Checks for small hosts such as a Raspberry Pi: memory limits that the
//! kernel can enforce and fit the machine, and container logs that cannot fill
//! the SD card. Pure judgements; `doctor::run` gathers their inputs.

use super::{Check, Verdict};
use desired_state::model::Kind;
use desired_state::DesiredState;

/// Where the daemon's defaults for new containers' logs are configured.
pub const DAEMON_JSON: &str = "/etc/docker/daemon.json";

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// From the engine's /info `MemoryLimit`, which Docker sets false when the
/// kernel has no memory cgroup; it then ignores every memory limit silently.
pub fn check_memory_cgroup(memory_limit: Option<bool>) -> Check {
    const NAME: &str = "memory cgroup";
    match memory_limit {
        Some(true) => Check::new(NAME, Verdict::Pass, "enabled: memory limits are enforced", None),
        Some(false) => Check::new(
            NAME,
            Verdict::Fail,
            "disabled: the engine reports no memory limit support and ignores every declared memory limit",
            Some("enable it on the host's kernel command line: append `cgroup_enable=memory cgroup_memory=1` to /boot/firmware/cmdline.txt (Raspberry Pi OS; /boot/cmdline.txt before Bookworm), reboot, and run doctor again".into()),
        ),
        None => Check::new(
            NAME,
            Verdict::Warn,
            "the engine did not say whether memory limits are supported (/info MemoryLimit)",
            Some("advice only: check `docker info` on the host for 'No memory limit support'".into()),
        ),
    }
}

/// Services' declared memory limits added up, against the host's memory.
/// Jobs are left out: they run to completion, not all at once with the rest.
pub fn check_memory_sum(state: &DesiredState, host_memory: u64) -> Check {
    const NAME: &str = "memory limits fit the host";
    let mut total = 0u64;
    let mut limited = 0usize;
    let mut unlimited = Vec::new();
    for r in state.of_kind(Kind::Service) {
        let Some(w) = r.spec.workload() else { continue };
        match w.resources.as_ref().and_then(|res| res.memory) {
            Some(m) => {
                total = total.saturating_add(m.0);
                limited += 1;
            }
            None => unlimited.push(r.name().to_string()),
        }
    }
    let without = if unlimited.is_empty() {
        String::new()
    } else {
        format!(
            "; {} without a limit: {}",
            unlimited.len(),
            unlimited.join(", ")
        )
    };
    let value = format!(
        "{} declared by {limited} service(s) on a host with {}{without}",
        gib(total),
        gib(host_memory)
    );
    if host_memory > 0 && total > host_memory {
        Check::new(
            NAME,
            Verdict::Warn,
            value,
            Some("advice only: limits are ceilings, not reservations, so this runs while the services stay below them; lower the largest limits or use a bigger host so that one busy service cannot push the others out".into()),
        )
    } else {
        Check::new(NAME, Verdict::Pass, value, None)
    }
}

/// Whether new containers' logs are rotated: by the daemon's logging driver
/// (from /info) and its `log-opts` (only visible in daemon.json, passed as
/// `daemon_json`: its text, or why it could not be read). Per-service logging
/// options are not in the model yet, so they are not counted here.
pub fn check_log_rotation(driver: &str, daemon_json: Result<&str, &str>) -> Check {
    const NAME: &str = "container logs rotated";
    let fix = format!("advice only: set {{\"log-driver\": \"local\"}} or {{\"log-driver\": \"json-file\", \"log-opts\": {{\"max-size\": \"10m\", \"max-file\": \"3\"}}}} in {DAEMON_JSON} and restart the daemon (new containers get it; `lucidctl apply` recreates changed ones)");
    match driver {
        "local" => Check::new(
            NAME,
            Verdict::Pass,
            "daemon log driver local: rotated (by default 100 MB per container)",
            None,
        ),
        "journald" | "syslog" | "none" | "fluentd" | "gelf" | "awslogs" | "splunk" | "gcplogs"
        | "logentries" | "etwlogs" => Check::new(
            NAME,
            Verdict::Pass,
            format!("daemon log driver {driver}: logs leave the container's json file"),
            None,
        ),
        "json-file" | "" => {
            let driver = if driver.is_empty() {
                "json-file (assumed)"
            } else {
                driver
            };
            match daemon_json {
                Ok(text) => match json_max_size(text) {
                    Some(size) => Check::new(NAME, Verdict::Pass, format!("daemon log driver {driver} with max-size {size} in {DAEMON_JSON}"), None),
                    None => Check::new(NAME, Verdict::Warn, format!("daemon log driver {driver} without max-size in {DAEMON_JSON}: every container's log grows until the disk is full"), Some(fix)),
                },
                Err(why) => Check::new(NAME, Verdict::Warn, format!("daemon log driver {driver}, and {DAEMON_JSON} could not be read ({why}): without its max-size, logs grow until the disk is full"), Some(fix)),
            }
        }
        other => Check::new(
            NAME,
            Verdict::Warn,
            format!("daemon log driver {other}: lucidctl does not know whether it rotates"),
            Some("advice only: check the driver's documentation".into()),
        ),
    }
}

/// `log-opts.max-size` of a daemon.json text, when set.
fn json_max_size(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let size = v.get("log-opts")?.get("max-size")?;
    let size = size
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| size.to_string());
    Some(desired_state::diagnostics::escape_controls(&size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use desired_state::{load_sources, Source};
    use std::path::PathBuf;

    fn state(text: &str) -> DesiredState {
        let loaded = load_sources(
            &[Source {
                group: 0,
                file: PathBuf::from("t.yaml"),
                text: text.to_string(),
            }],
            PathBuf::from("/x"),
        );
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        loaded.state
    }

    fn service(name: &str, memory: Option<&str>) -> String {
        let res = memory
            .map(|m| format!("  resources: {{memory: {m}}}\n"))
            .unwrap_or_default();
        format!("---\napiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  image: app:1\n{res}")
    }

    #[test]
    fn a_disabled_memory_cgroup_fails_and_says_how_to_enable_it() {
        assert_eq!(check_memory_cgroup(Some(true)).verdict, Verdict::Pass);
        let c = check_memory_cgroup(Some(false));
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.fix.unwrap().contains("cgroup_enable=memory"));
        assert_eq!(check_memory_cgroup(None).verdict, Verdict::Warn);
    }

    #[test]
    fn limits_above_the_host_memory_warn_and_jobs_do_not_count() {
        let gb = 1u64 << 30;
        let text = [
            service("a", Some("3Gi")),
            service("b", Some("2Gi")),
            service("c", None),
            "---\napiVersion: lucid/v1alpha1\nkind: Job\nmetadata: {name: j}\nspec:\n  image: app:1\n  resources: {memory: 8Gi}\n".to_string(),
        ]
        .concat();
        let s = state(&text);
        let c = check_memory_sum(&s, 4 * gb);
        assert_eq!(c.verdict, Verdict::Warn);
        assert!(
            c.value.starts_with(
                "5.0 GiB declared by 2 service(s) on a host with 4.0 GiB; 1 without a limit: c"
            ),
            "{}",
            c.value
        );
        assert!(c.fix.unwrap().contains("ceilings"));
        assert_eq!(check_memory_sum(&s, 8 * gb).verdict, Verdict::Pass);
    }

    #[test]
    fn unrotated_json_logs_warn_and_rotating_setups_pass() {
        let pass = |d, j| check_log_rotation(d, j).verdict == Verdict::Pass;
        assert!(pass("local", Err("absent")));
        assert!(pass("journald", Err("absent")));
        assert!(pass(
            "json-file",
            Ok(r#"{"log-opts": {"max-size": "10m", "max-file": "3"}}"#)
        ));
        let c = check_log_rotation("json-file", Ok(r#"{"features": {"buildkit": true}}"#));
        assert_eq!(c.verdict, Verdict::Warn);
        assert!(c.value.contains("without max-size"), "{}", c.value);
        assert!(c.fix.unwrap().contains("max-size"));
        let c = check_log_rotation("json-file", Err("No such file or directory"));
        assert_eq!(c.verdict, Verdict::Warn);
        assert!(c.value.contains("could not be read"), "{}", c.value);
        assert_eq!(check_log_rotation("weird", Err("x")).verdict, Verdict::Warn);
    }
}
