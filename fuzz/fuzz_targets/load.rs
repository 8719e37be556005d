//! Arbitrary bytes through the loader and every validation rule: nothing may
//! panic, overflow the stack or run away with memory.
//!
//! The input is split at its first NUL byte into a base file and an overlay
//! file (a later -f), so overlay merging, `$patch` and cross-file rules are
//! reached too. Bytes that are not UTF-8 are replaced (lossy), since the
//! loader's own file reading refuses them before parsing.
//!
//! The state root and both files sit under a directory that does not exist,
//! so the path rules only report "does not exist" and read nothing.

#![no_main]

use desired_state::model::Spec;
use desired_state::{load_sources, DesiredState, Source};
use libfuzzer_sys::fuzz_target;
use std::path::{Component, Path, PathBuf};

const ROOT: &str = "/nonexistent-lucidctl-fuzz-root";

fuzz_target!(|data: &[u8]| {
    let root = PathBuf::from(ROOT);
    assert!(
        !root.exists(),
        "{ROOT} must not exist: the harness relies on it"
    );
    let (base, overlay) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let mut sources = vec![Source {
        group: 0,
        file: root.join("lucid/base.yaml"),
        text: String::from_utf8_lossy(base).into_owned(),
    }];
    if let Some(overlay) = overlay {
        sources.push(Source {
            group: 1,
            file: root.join("lucid/overlays/local/overlay.yaml"),
            text: String::from_utf8_lossy(overlay).into_owned(),
        });
    }
    let mut loaded = load_sources(&sources, root);
    confine(&mut loaded.state);
    let mut diagnostics = loaded.diagnostics;
    diagnostics.extend(desired_state::validate::validate(&loaded.state));
    // Rendering walks every location and hint.
    for d in &diagnostics {
        let _ = d.to_string();
    }
});

/// IsolationPolicy scan paths are joined onto the policy file's directory, and
/// joining an absolute path replaces the base: `/` would have the scan read the
/// whole host. Keep them under the nonexistent root (without the leading `/`),
/// so no real file is read; `..` cannot climb out of a directory that does not exist.
fn confine(state: &mut DesiredState) {
    fn relative(p: &mut String) {
        if Path::new(p.as_str())
            .components()
            .any(|c| matches!(c, Component::RootDir | Component::Prefix(_)))
        {
            *p = p.trim_start_matches('/').to_string();
        }
    }
    for r in &mut state.resources {
        if let Spec::IsolationPolicy(policy) = &mut r.spec {
            for group in &mut policy.forbidden {
                group.paths.iter_mut().for_each(relative);
            }
            policy.required_paths.iter_mut().for_each(relative);
        }
    }
}
