//! `lucidctl doctor`: the build plan's environment validation as a checklist.
//! Each check passes or fails with the value found and, on failure, a fix.
//! Advice checks only warn and never fail the run.

mod pi;

pub use pi::{check_log_rotation, check_memory_cgroup, check_memory_sum};

use crate::engine::{Engine, HostInfo, ImageSource};
use crate::hostfiles::HostFiles;
use desired_state::model::{Kind, Spec};
use desired_state::DesiredState;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The oldest engine API lucidctl is tested against.
pub const MIN_API: (u64, u64) = (1, 41);
/// BuildKit sessions through the API arrived with 1.39.
const BUILDKIT_API: (u64, u64) = (1, 39);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// Advice only: reported, never fails the run.
    Warn,
    /// Not applicable here (e.g. SSH checks against a local engine).
    Skip,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn new(
        name: &str,
        verdict: Verdict,
        value: impl Into<String>,
        fix: Option<String>,
    ) -> Check {
        Check {
            name: name.into(),
            verdict,
            value: value.into(),
            fix,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DoctorOptions {
    pub min_free_bytes: u64,
    /// The platform the images need; else what the Image resources declare.
    pub platform: Option<String>,
    /// Skip the registry lookups (slow without network).
    pub offline: bool,
}

pub fn passed(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.verdict != Verdict::Fail)
}

/// Kernel architecture names to OCI ones.
pub fn oci_arch(kernel: &str) -> &str {
    match kernel {
        "x86_64" | "amd64" => "amd64",
        "aarch64" | "arm64" => "arm64",
        "armv7l" | "armhf" => "arm",
        other => other,
    }
}

fn parse_api(v: &str) -> Option<(u64, u64)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

pub fn check_api(max_api: &str) -> Vec<Check> {
    let Some(v) = parse_api(max_api) else {
        return vec![Check::new(
            "API version",
            Verdict::Fail,
            max_api,
            Some("the engine did not report an API version; upgrade Docker".into()),
        )];
    };
    let ok = v >= MIN_API;
    vec![
        Check::new(
            "API version",
            if ok { Verdict::Pass } else { Verdict::Fail },
            format!(
                "{max_api} (lucidctl needs {}.{} or newer)",
                MIN_API.0, MIN_API.1
            ),
            (!ok).then(|| "upgrade Docker to 20.10 or newer".into()),
        ),
        Check::new(
            "BuildKit available",
            if v >= BUILDKIT_API {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            format!("API {max_api}"),
            (v < BUILDKIT_API).then(|| "upgrade Docker to 18.09 or newer".into()),
        ),
    ]
}

/// The platforms Image resources declare, e.g. `linux/arm64`.
pub fn declared_platforms(state: &DesiredState) -> BTreeSet<String> {
    state
        .of_kind(Kind::Image)
        .filter_map(|r| match &r.spec {
            Spec::Image(i) => i.platform.as_ref().map(|p| p.to_string()),
            _ => None,
        })
        .collect()
}

pub fn check_arch(host: &HostInfo, wanted: &BTreeSet<String>) -> Check {
    let have = format!("{}/{}", host.os, oci_arch(&host.architecture));
    if wanted.is_empty() {
        return Check::new(
            "architecture",
            Verdict::Pass,
            format!("{have} (no Image declares a platform)"),
            None,
        );
    }
    let wrong: Vec<&String> = wanted
        .iter()
        .filter(|w| {
            let mut parts = w.split('/');
            let (os, arch) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            os != host.os || oci_arch(arch) != oci_arch(&host.architecture)
        })
        .collect();
    if wrong.is_empty() {
        Check::new(
            "architecture",
            Verdict::Pass,
            format!("{have}, as the images need"),
            None,
        )
    } else {
        Check::new(
            "architecture",
            Verdict::Fail,
            format!("host is {have}; the images are for {}", join(wrong)),
            Some(format!("point --host at a {} machine (the Pi), or declare `platform: {have}` on the Images (a local overlay does this)", join(wanted.iter().collect()))),
        )
    }
}

pub fn check_disk(path: &str, free: u64, min: u64) -> Check {
    let gib = |b: u64| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64);
    let ok = free >= min;
    Check::new(
        "free disk space",
        if ok { Verdict::Pass } else { Verdict::Fail },
        format!("{} free on {path} (needs {})", gib(free), gib(min)),
        (!ok).then(|| "free space (`docker system prune`, `lucidctl registry prune`), or lower the threshold with --min-free-gb".into()),
    )
}

/// Base images the builds start FROM (other Images' refs excluded) and the
/// refs of Images that are pulled, each with the Images that need it.
pub fn base_images(state: &DesiredState) -> BTreeMap<String, Vec<String>> {
    let images: Vec<_> = state
        .of_kind(Kind::Image)
        .filter_map(|r| match &r.spec {
            Spec::Image(i) => Some((r, i)),
            _ => None,
        })
        .collect();
    let built: BTreeSet<String> = images
        .iter()
        .filter(|(_, i)| i.build.is_some())
        .map(|(_, i)| i.reference.with_default_tag())
        .collect();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (r, i) in images {
        let bases = match &i.build {
            None => vec![i.reference.with_default_tag()],
            Some(b) => {
                let dir = r.origin.base_dir("/spec/build/context").join(&b.context);
                std::fs::read_to_string(dir.join(b.dockerfile()))
                    .map(|t| desired_state::dockerfile::from_images(&t, &b.args))
                    .unwrap_or_default()
            }
        };
        for base in bases.into_iter().filter(|b| !built.contains(b)) {
            out.entry(base).or_default().push(r.name().to_string());
        }
    }
    out
}

fn join(items: Vec<&String>) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every check against a connected engine.
pub async fn run(
    engine: &Engine,
    files: &dyn HostFiles,
    state: Option<&DesiredState>,
    options: &DoctorOptions,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let info = match engine.host_info().await {
        Ok(i) => i,
        Err(e) => {
            checks.push(Check::new(
                "engine info",
                Verdict::Fail,
                e.to_string(),
                Some("check the daemon's log on the host".into()),
            ));
            return checks;
        }
    };
    checks.push(Check::new(
        "engine daemon running",
        Verdict::Pass,
        format!(
            "Docker {} on {} ({} CPUs, {:.1} GiB)",
            info.server_version,
            info.os,
            info.cpus,
            info.memory_bytes as f64 / (1u64 << 30) as f64
        ),
        None,
    ));
    checks.extend(check_api(&info.max_api_version));
    let wanted = match &options.platform {
        Some(p) => BTreeSet::from([p.clone()]),
        None => state.map(declared_platforms).unwrap_or_default(),
    };
    checks.push(check_arch(&info, &wanted));
    let root = if info.docker_root_dir.is_empty() {
        "/var/lib/docker".to_string()
    } else {
        info.docker_root_dir.clone()
    };
    checks.push(match files.free_bytes(std::path::Path::new(&root)).await {
        Ok(free) => check_disk(&root, free, options.min_free_bytes),
        Err(e) => Check::new(
            "free disk space",
            Verdict::Fail,
            e.to_string(),
            Some(
                "make the engine's data root readable to the SSH user, or check it by hand with df"
                    .into(),
            ),
        ),
    });
    checks.push(check_memory_cgroup(info.memory_limit));
    if let Some(state) = state {
        checks.push(check_memory_sum(state, info.memory_bytes.max(0) as u64));
    }
    // log-opts are not in /info; daemon.json on the host has them.
    let daemon_json = files
        .command(&["cat", "--", pi::DAEMON_JSON])
        .await
        .map_err(|e| e.to_string());
    checks.push(check_log_rotation(
        &info.logging_driver,
        daemon_json.as_deref().map_err(String::as_str),
    ));
    checks.push(match files.command(&["docker", "compose", "version", "--short"]).await {
        Ok(v) => Check::new("Compose v2 on the host", Verdict::Pass, v.trim().to_string(), None),
        Err(_) => Check::new("Compose v2 on the host", Verdict::Warn, "not found", Some("advice only: install docker-compose-plugin on the host for emergency use of the exported compose files".into())),
    });
    if let Some(state) = state {
        for (image, needed_by) in base_images(state) {
            let name = format!("base image {image}");
            let by = format!("needed by {}", needed_by.join(", "));
            let source = if options.offline {
                match engine.image_source_local(&image).await {
                    true => ImageSource::PresentOnEngine,
                    false => ImageSource::Unresolvable(
                        "not on the engine (registry not asked: --offline)".into(),
                    ),
                }
            } else {
                engine.image_source(&image).await
            };
            checks.push(match source {
                ImageSource::PresentOnEngine => Check::new(&name, Verdict::Pass, format!("present on the engine; {by}"), None),
                ImageSource::InRegistry => Check::new(&name, Verdict::Pass, format!("resolvable in its registry; {by}"), None),
                ImageSource::Unresolvable(why) => Check::new(&name, Verdict::Fail, format!("{why}; {by}"), Some(format!("check the name and tag, log in to its registry on the host, or load it there with `docker load`"))),
            });
        }
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(arch: &str) -> HostInfo {
        HostInfo {
            os: "linux".into(),
            architecture: arch.into(),
            ..HostInfo::default()
        }
    }

    #[test]
    fn kernel_and_oci_architectures_compare_equal() {
        let wanted = BTreeSet::from(["linux/arm64".to_string()]);
        assert_eq!(check_arch(&host("aarch64"), &wanted).verdict, Verdict::Pass);
        let c = check_arch(&host("x86_64"), &wanted);
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.value.contains("host is linux/amd64"), "{}", c.value);
        assert!(c.fix.unwrap().contains("platform"));
        assert_eq!(
            check_arch(&host("x86_64"), &BTreeSet::new()).verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn disk_threshold_fails_below_and_names_the_fix() {
        let gb = 1u64 << 30;
        assert_eq!(
            check_disk("/var/lib/docker", 25 * gb, 20 * gb).verdict,
            Verdict::Pass
        );
        let c = check_disk("/var/lib/docker", 5 * gb, 20 * gb);
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.value.contains("5.0 GiB free on /var/lib/docker"),
            "{}",
            c.value
        );
        assert!(c.fix.unwrap().contains("--min-free-gb"));
    }

    #[test]
    fn old_apis_fail_and_new_ones_pass() {
        assert!(check_api("1.41").iter().all(|c| c.verdict == Verdict::Pass));
        assert!(check_api("1.52").iter().all(|c| c.verdict == Verdict::Pass));
        assert_eq!(check_api("1.40")[0].verdict, Verdict::Fail);
        assert_eq!(check_api("garbage")[0].verdict, Verdict::Fail);
    }

    #[test]
    fn warnings_do_not_fail_the_run() {
        let c = |v| Check::new("x", v, "", None);
        assert!(passed(&[
            c(Verdict::Pass),
            c(Verdict::Warn),
            c(Verdict::Skip)
        ]));
        assert!(!passed(&[c(Verdict::Pass), c(Verdict::Fail)]));
    }
}
