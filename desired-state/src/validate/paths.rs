//! Build contexts and config files come from the state directory and may not
//! leave it, by `..` or by a symlink: what is applied must be what is committed.

use super::Report;
use crate::model::Spec;
use crate::state::{DesiredState, Resource};
use std::path::{Component, Path, PathBuf};

pub(super) fn check(state: &DesiredState, out: &mut Report) {
    let root = std::fs::canonicalize(&state.root).unwrap_or_else(|_| state.root.clone());
    for r in &state.resources {
        match &r.spec {
            Spec::Image(img) => {
                let Some(build) = &img.build else { continue };
                if let Some(ctx) =
                    inside(out, r, "/spec/build/context", &build.context, &root, true)
                {
                    let df = build.dockerfile();
                    let at = if build.dockerfile.is_some() {
                        "/spec/build/dockerfile"
                    } else {
                        "/spec/build/context"
                    };
                    if escapes_lexically(Path::new(df)) || Path::new(df).is_absolute() {
                        out.error(
                            r,
                            at,
                            format!("dockerfile {df:?} must stay inside the build context"),
                            Some("give a path relative to the context".into()),
                        );
                    } else if !ctx.join(df).is_file() {
                        out.error(
                            r,
                            at,
                            format!("dockerfile {} does not exist", ctx.join(df).display()),
                            Some("create it, or set spec.build.dockerfile".into()),
                        );
                    }
                }
            }
            Spec::ConfigFile(c) => {
                if let Some(file) = &c.file {
                    if let Some(p) = inside(out, r, "/spec/file", file, &root, false) {
                        if !p.is_file() {
                            out.error(
                                r,
                                "/spec/file",
                                format!("{} is not a regular file", p.display()),
                                None,
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn escapes_lexically(p: &Path) -> bool {
    let mut depth = 0i32;
    for c in p.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// Resolves a declared relative path and checks it stays under the root.
pub(crate) fn inside(
    out: &mut Report,
    r: &Resource,
    pointer: &str,
    declared: &str,
    root: &Path,
    want_dir: bool,
) -> Option<PathBuf> {
    let rel = Path::new(declared);
    if rel.is_absolute() {
        out.error(
            r,
            pointer,
            format!("{declared:?} must be relative to the file that declares it"),
            Some("use a path inside the state directory".into()),
        );
        return None;
    }
    let joined = r.origin.base_dir(pointer).join(rel);
    let resolved = match std::fs::canonicalize(&joined) {
        Ok(p) => p,
        Err(_) => {
            out.error(
                r,
                pointer,
                format!("{} does not exist", joined.display()),
                Some(format!(
                    "create it, or fix the path (relative to {})",
                    r.origin.base_dir(pointer).display()
                )),
            );
            return None;
        }
    };
    if !resolved.starts_with(root) {
        out.error(
            r,
            pointer,
            format!("{declared:?} resolves to {}, outside the state directory {}", resolved.display(), root.display()),
            Some("keep build contexts and config files inside the repository (no '..' or symlinks out of it), or pass --state-root".into()),
        );
        return None;
    }
    if want_dir && !resolved.is_dir() {
        out.error(
            r,
            pointer,
            format!("{} is not a directory", resolved.display()),
            None,
        );
        return None;
    }
    Some(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{load_sources, Source};

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lucid-paths-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("state/ctx")).unwrap();
        std::fs::write(dir.join("state/ctx/Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::create_dir_all(dir.join("outside")).unwrap();
        std::fs::write(dir.join("outside/secret.conf"), "x").unwrap();
        dir
    }

    fn run(dir: &Path, yaml: &str) -> Vec<String> {
        let sources = [Source {
            group: 0,
            file: dir.join("state/x.yaml"),
            text: yaml.to_string(),
        }];
        let loaded = load_sources(&sources, dir.join("state"));
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let mut out = Report::default();
        check(&loaded.state, &mut out);
        out.0.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn dotdot_and_symlinks_out_of_the_state_dir_are_refused() {
        let dir = scratch("escape");
        std::os::unix::fs::symlink(dir.join("outside"), dir.join("state/link")).unwrap();
        let yaml = "apiVersion: lucid/v1alpha1\nkind: ConfigFile\nmetadata: {name: a}\nspec: {file: ../outside/secret.conf}\n---\napiVersion: lucid/v1alpha1\nkind: ConfigFile\nmetadata: {name: b}\nspec: {file: link/secret.conf}\n---\napiVersion: lucid/v1alpha1\nkind: Image\nmetadata: {name: i}\nspec: {ref: app, build: {context: ctx}}\n";
        let m = run(&dir, yaml);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(
            m[0].contains("ConfigFile/a: spec.file: \"../outside/secret.conf\" resolves to")
                && m[0].contains("outside the state directory"),
            "{}",
            m[0]
        );
        assert!(
            m[1].contains("ConfigFile/b: spec.file: \"link/secret.conf\" resolves to"),
            "{}",
            m[1]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_dockerfile_is_reported() {
        let dir = scratch("dockerfile");
        let yaml = "apiVersion: lucid/v1alpha1\nkind: Image\nmetadata: {name: i}\nspec: {ref: app, build: {context: ctx, dockerfile: Nope}}\n";
        let m = run(&dir, yaml);
        assert!(
            m[0].contains("spec.build.dockerfile: dockerfile") && m[0].contains("does not exist"),
            "{m:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
