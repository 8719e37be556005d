//! IsolationPolicy: who may join the isolated network, who may bridge it, and
//! the source scan for forbidden patterns (the build plan's TRON isolation).

use super::Report;
use crate::diagnostics::{Diagnostic, Location};
use crate::model::{Kind, Spec};
use crate::pointer::display_path;
use crate::state::{DesiredState, Resource};
use std::path::{Path, PathBuf};

/// A forbidden pattern found in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsolationFinding {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub pattern: String,
}

/// Files larger than this are not source code.
const MAX_SCAN_BYTES: u64 = 16 << 20;

/// What a scan found, and what it could not look at: a path that cannot be
/// scanned is reported, never a silent pass.
#[derive(Debug, Default)]
pub struct Scan {
    pub findings: Vec<IsolationFinding>,
    pub unscannable: Vec<(PathBuf, String)>,
}

/// Scans `path` (a file, or a directory recursively) for case-sensitive
/// substrings, as `grep -r` would, without ever leaving `boundary`: the scan
/// path itself is resolved (a symlink, or a trailing slash through one) and
/// must stay inside it; symlinks met while walking are not followed.
pub fn scan_forbidden(boundary: &Path, path: &Path, patterns: &[String]) -> Scan {
    let mut scan = Scan::default();
    let inside = match (boundary.canonicalize(), path.canonicalize()) {
        (Ok(b), Ok(t)) if t.starts_with(&b) => t,
        (Ok(b), Ok(t)) => {
            scan.unscannable.push((
                path.to_path_buf(),
                format!(
                    "resolves to {}, outside the source tree {}",
                    t.display(),
                    b.display()
                ),
            ));
            return scan;
        }
        (_, Err(e)) | (Err(e), _) => {
            scan.unscannable.push((path.to_path_buf(), e.to_string()));
            return scan;
        }
    };
    let mut pending = vec![inside];
    while let Some(p) = pending.pop() {
        let meta = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) => {
                scan.unscannable.push((p, e.to_string()));
                continue;
            }
        };
        if meta.is_dir() {
            match std::fs::read_dir(&p) {
                Ok(rd) => {
                    let mut children: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
                    children.sort_unstable_by(|a, b| b.cmp(a));
                    pending.extend(children);
                }
                Err(e) => scan.unscannable.push((p, e.to_string())),
            }
            continue;
        }
        if !meta.is_file() || meta.len() > MAX_SCAN_BYTES {
            continue;
        }
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) => {
                scan.unscannable.push((p, e.to_string()));
                continue;
            }
        };
        if bytes.iter().take(8192).any(|b| *b == 0) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            for pattern in patterns.iter().filter(|p| !p.is_empty()) {
                if let Some(col) = line.find(pattern.as_str()) {
                    scan.findings.push(IsolationFinding {
                        file: p.clone(),
                        line: n + 1,
                        column: line[..col].chars().count() + 1,
                        pattern: pattern.clone(),
                    });
                }
            }
        }
    }
    scan
}

pub(super) fn check(state: &DesiredState, out: &mut Report) {
    for r in state.of_kind(Kind::IsolationPolicy) {
        let Spec::IsolationPolicy(policy) = &r.spec else {
            continue;
        };
        check_topology(state, r, policy, out);
        check_sources(r, policy, None, out);
    }
}

/// Every IsolationPolicy check on its own (`lucidctl verify isolation`). With
/// `source_root`, scan paths are taken relative to it instead of the policy's file.
pub fn check_isolation(state: &DesiredState, source_root: Option<&Path>) -> Vec<Diagnostic> {
    let mut out = Report::default();
    for r in state.of_kind(Kind::IsolationPolicy) {
        let Spec::IsolationPolicy(policy) = &r.spec else {
            continue;
        };
        check_topology(state, r, policy, &mut out);
        check_sources(r, policy, source_root, &mut out);
    }
    out.0
}

fn check_topology(
    state: &DesiredState,
    r: &Resource,
    policy: &crate::model::IsolationPolicySpec,
    out: &mut Report,
) {
    let isolated = policy.network.as_str();
    for w in state.workloads() {
        let Some(spec) = w.spec.workload() else {
            continue;
        };
        let Some(idx) = spec.networks.iter().position(|n| n.name == isolated) else {
            continue;
        };
        let name = w.name();
        let is_member = policy.members.iter().any(|m| m == name);
        let is_bridge = policy.bridges.iter().any(|b| b == name);
        let at = format!("/spec/networks/{idx}/name");
        if !is_member && !is_bridge {
            out.error(
                w,
                &at,
                format!(
                    "joins {isolated}, which {} reserves for its members and bridges",
                    r.id()
                ),
                Some(format!(
                    "remove the attachment, or list {name} in {}'s members",
                    r.id()
                )),
            );
        }
        let others: Vec<&str> = spec
            .networks
            .iter()
            .map(|n| n.name.as_str())
            .filter(|n| *n != isolated)
            .collect();
        if !others.is_empty() && !is_bridge {
            out.error(
                w,
                &at,
                format!(
                    "joins {isolated} and also {}; only a listed bridge may join both",
                    others.join(", ")
                ),
                Some(format!(
                    "drop the other networks, or list {name} in {}'s bridges",
                    r.id()
                )),
            );
        }
    }
    for (field, names) in [("members", &policy.members), ("bridges", &policy.bridges)] {
        for (i, name) in names.iter().enumerate() {
            let attached = state
                .get(Kind::Service, name)
                .or_else(|| state.get(Kind::Job, name))
                .and_then(|w| w.spec.workload())
                .map(|w| w.networks.iter().any(|n| n.name == isolated));
            if attached == Some(false) {
                out.warning(
                    r,
                    &format!("/spec/{field}/{i}"),
                    format!("{name} is listed but does not join {isolated}"),
                    None,
                );
            }
        }
    }
}

fn check_sources(
    r: &Resource,
    policy: &crate::model::IsolationPolicySpec,
    source_root: Option<&Path>,
    out: &mut Report,
) {
    let base = |pointer: &str| {
        source_root
            .map(Path::to_path_buf)
            .unwrap_or_else(|| r.origin.base_dir(pointer))
    };
    for (i, group) in policy.forbidden.iter().enumerate() {
        for (j, rel) in group.paths.iter().enumerate() {
            let pointer = format!("/spec/forbidden/{i}/paths/{j}");
            if !confined(rel) {
                out.error(
                    r,
                    &pointer,
                    format!("scan path {rel:?} must be relative and stay inside the source tree"),
                    Some("remove the leading '/' or '..'".into()),
                );
                continue;
            }
            let path = base(&pointer).join(rel);
            if !path.exists() {
                out.error(
                    r,
                    &pointer,
                    format!("scan path {} does not exist", path.display()),
                    Some("fix the path (relative to the policy's file), or remove it".into()),
                );
                continue;
            }
            let scan = scan_forbidden(&base(&pointer), &path, &group.patterns);
            for f in &scan.findings {
                out.0.push(finding_diagnostic(r, &pointer, f));
            }
            for (p, why) in &scan.unscannable {
                out.error(
                    r,
                    &pointer,
                    format!(
                        "{} cannot be scanned ({why}), so the isolation rule cannot be checked",
                        p.display()
                    ),
                    Some("point the scan at a readable path inside the source tree".into()),
                );
            }
        }
    }
    for (i, rel) in policy.required_paths.iter().enumerate() {
        let pointer = format!("/spec/requiredPaths/{i}");
        if !confined(rel) {
            out.error(
                r,
                &pointer,
                format!("required path {rel:?} must be relative and stay inside the source tree"),
                Some("remove the leading '/' or '..'".into()),
            );
            continue;
        }
        let path = base(&pointer).join(rel);
        if !path.exists() {
            out.error(
                r,
                &pointer,
                format!("required path {} does not exist", path.display()),
                Some("the isolated system's sources must be present".into()),
            );
        }
    }
}

/// Scans never reach outside the tree they are about: no absolute paths, no `..`.
fn confined(rel: &str) -> bool {
    let p = Path::new(rel);
    !p.is_absolute()
        && !p
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
}

/// A finding points at the offending source line, not at the policy.
pub fn finding_diagnostic(r: &Resource, pointer: &str, f: &IsolationFinding) -> Diagnostic {
    Diagnostic::error(format!(
        "forbidden pattern {:?} found (isolation rule at {})",
        f.pattern,
        display_path(pointer)
    ))
    .at(Some(Location {
        file: f.file.clone(),
        line: f.line,
        column: f.column,
    }))
    .resource(r.id())
    .hint(format!(
        "remove every reference to {:?} from this path; it belongs only on the isolated side",
        f.pattern
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn policy(extra: &str) -> String {
        format!("---\n{HEADER}kind: IsolationPolicy\nmetadata: {{name: tron}}\nspec:\n  network: iso\n  members: [client]\n  bridges: [gateway]\n{extra}")
    }

    #[test]
    fn only_members_and_the_bridge_may_join() {
        let yaml = format!(
            "{}{}{}{}{}{}",
            network("iso", "{}"),
            network("main", "{}"),
            policy(""),
            service("client", "  networks: [{name: iso}, {name: main}]\n"),
            service("gateway", "  networks: [{name: main}, {name: iso}]\n"),
            service("intruder", "  networks: [{name: iso}]\n"),
        );
        let mut out = Report::default();
        check(&state(&yaml), &mut out);
        let m = messages(&out.0);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m.iter().any(|m| m.contains("Service/client: spec.networks[0].name: joins iso and also main; only a listed bridge may join both")), "{m:?}");
        assert!(m.iter().any(|m| m.contains("Service/intruder: spec.networks[0].name: joins iso, which IsolationPolicy/tron reserves")), "{m:?}");
    }

    #[test]
    fn scan_paths_may_not_leave_the_tree() {
        let yaml = format!(
            "{}{}",
            network("iso", "{}"),
            policy("  forbidden: [{paths: [/, ../x], patterns: [tron]}]\n")
        );
        let mut out = Report::default();
        check(&state(&yaml), &mut out);
        let m = messages(&out.0);
        assert_eq!(
            m.iter()
                .filter(|m| m.contains("must be relative and stay inside the source tree"))
                .count(),
            2,
            "{m:?}"
        );
    }

    #[test]
    fn scan_reports_file_line_and_column() {
        let dir = std::env::temp_dir().join(format!("lucid-scan-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("blockchain/core")).unwrap();
        std::fs::write(
            dir.join("blockchain/core/engine.py"),
            "import os\nfrom x import TronWeb\n",
        )
        .unwrap();
        std::fs::write(dir.join("blockchain/clean.py"), "print('electron-free')\n").unwrap();
        let found = scan_forbidden(
            &dir,
            &dir.join("blockchain"),
            &["TronWeb".to_string(), "USDT".to_string()],
        )
        .findings;
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].line, found[0].column), (2, 15));
        assert!(found[0].file.ends_with("blockchain/core/engine.py"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Issue 18, defect 2: a scan path that is a symlink inside the tree was
    /// skipped ("no violations"), and with a trailing slash it was followed
    /// out of the tree.
    #[test]
    fn a_symlinked_scan_path_is_scanned_inside_the_tree_and_refused_outside_it() {
        let dir = std::env::temp_dir().join(format!("lucid-scan-link-{}", std::process::id()));
        let tree = dir.join("repo");
        let outside = dir.join("elsewhere");
        std::fs::create_dir_all(tree.join("src/core")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(tree.join("src/core/a.py"), "TronWeb\n").unwrap();
        std::fs::write(outside.join("b.py"), "TronWeb\n").unwrap();
        std::os::unix::fs::symlink(tree.join("src"), tree.join("inner-link")).unwrap();
        std::os::unix::fs::symlink(&outside, tree.join("outer-link")).unwrap();
        let pats = ["TronWeb".to_string()];
        let inner = scan_forbidden(&tree, &tree.join("inner-link"), &pats);
        assert_eq!(inner.findings.len(), 1, "{inner:?}");
        for p in ["outer-link", "outer-link/"] {
            let outer = scan_forbidden(&tree, &tree.join(p), &pats);
            assert!(outer.findings.is_empty(), "{p}: left the tree: {outer:?}");
            assert!(
                outer
                    .unscannable
                    .iter()
                    .any(|(_, why)| why.contains("outside the source tree")),
                "{p}: {outer:?}"
            );
        }
        let missing = scan_forbidden(&tree, &tree.join("nope"), &pats);
        assert_eq!(missing.unscannable.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
