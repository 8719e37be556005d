//! Arbitrary bytes through the strict JSON path of the loader (`.json` files:
//! serde_json, then the scanner that records positions) and every validation
//! rule. As in `load`, a NUL byte splits the input into a base file and an
//! overlay; here the base is `base.json` and the overlay `overlay.json`.

#![no_main]

use desired_state::model::Spec;
use desired_state::{load_sources, Source};
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
        file: root.join("lucid/base.json"),
        text: String::from_utf8_lossy(base).into_owned(),
    }];
    if let Some(overlay) = overlay {
        sources.push(Source {
            group: 1,
            file: root.join("lucid/overlays/local/overlay.json"),
            text: String::from_utf8_lossy(overlay).into_owned(),
        });
    }
    let mut loaded = load_sources(&sources, root);
    // Keep IsolationPolicy scan paths under the nonexistent root (see load.rs).
    for r in &mut loaded.state.resources {
        if let Spec::IsolationPolicy(policy) = &mut r.spec {
            let paths = policy
                .forbidden
                .iter_mut()
                .flat_map(|g| g.paths.iter_mut())
                .chain(policy.required_paths.iter_mut());
            for p in paths {
                if Path::new(p.as_str())
                    .components()
                    .any(|c| matches!(c, Component::RootDir | Component::Prefix(_)))
                {
                    *p = p.trim_start_matches('/').to_string();
                }
            }
        }
    }
    let mut diagnostics = loaded.diagnostics;
    diagnostics.extend(desired_state::validate::validate(&loaded.state));
    for d in &diagnostics {
        let _ = d.to_string();
    }
});
