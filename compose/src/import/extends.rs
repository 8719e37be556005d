//! Compose `extends`: a service starts from another service, in the same file
//! (`extends: {service: base}` or `extends: base`) or in another one
//! (`extends: {file: common.yml, service: base}`), and its own keys are merged
//! over it with the rules that merge override files (merge.rs): mappings merge
//! per entry, ports and other lists accumulate, volumes merge by target, and
//! everything else is replaced by the extending service.
//!
//! Files named by `extends.file` are read here and kept as extra source
//! files, so findings in what a service inherits name that file's line. Their
//! relative paths (build contexts, env files, bind sources) are made absolute,
//! since they are relative to their own directory. A cycle, a missing service
//! or an unreadable file is an error at the `extends` that names it, as compose
//! refuses them too.

use super::SourceFile;
use desired_state::pointer::pointer as ptr;
use desired_state::yaml::parse_documents;
use desired_state::{Diagnostic, Location};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// More files than any real project splits its services into: a bound on
/// what a chain of `extends.file` can make the import read.
const MAX_FILES: usize = 64;

/// (file index, service name).
pub(crate) type ServiceRef = (usize, String);

/// What `extends` says: the file (as written, if another) and the service.
fn target(v: &Value) -> Option<(Option<String>, String)> {
    match v {
        Value::String(s) => Some((None, s.clone())),
        Value::Object(m) => Some((
            m.get("file").and_then(Value::as_str).map(str::to_string),
            m.get("service").and_then(Value::as_str)?.to_string(),
        )),
        _ => None,
    }
}

fn services(doc: &Value) -> Vec<(String, &Value)> {
    match doc.get("services") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn dir_of(path: &Path) -> PathBuf {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    crate::text::absolute(parent)
}

fn error_at(file: &SourceFile, pointer: &str, message: String) -> Diagnostic {
    Diagnostic::error(message).at(Some(file.locate(pointer, false)))
}

/// Reads every file that an `extends.file` names (transitively) and appends
/// it to `files`. `expand` interpolates a path as written.
// A Diagnostic is what every reader in the import returns, as `import` does.
#[allow(clippy::result_large_err)]
pub(crate) fn load_files(
    files: &mut Vec<SourceFile>,
    expand: &dyn Fn(&str) -> String,
) -> Result<(), Diagnostic> {
    let mut i = 0;
    while i < files.len() {
        let mut wanted: Vec<(String, PathBuf)> = Vec::new();
        for (name, svc) in services(&files[i].doc.value) {
            let Some((Some(file), _)) = svc.get("extends").and_then(target) else {
                continue;
            };
            let path = dir_of(&files[i].path).join(expand(&file));
            wanted.push((name, crate::text::absolute(&path)));
        }
        for (name, path) in wanted {
            if files.iter().any(|f| crate::text::absolute(&f.path) == path) {
                continue;
            }
            let at = ptr(["services", &name, "extends", "file"]);
            if files.len() >= MAX_FILES {
                return Err(error_at(
                    &files[i],
                    &at,
                    format!("extends reaches more than {MAX_FILES} files: refused"),
                ));
            }
            let text = super::read_text(&path).map_err(|e| {
                error_at(
                    &files[i],
                    &at,
                    format!(
                        "services.{name}.extends: cannot read {}: {e}",
                        path.display()
                    ),
                )
                .hint("point extends.file at the compose file that declares the service")
            })?;
            let mut docs = parse_documents(&path, &text)?;
            if docs.is_empty() || !docs[0].value.is_object() {
                return Err(Diagnostic::error(
                    "a compose file named by extends must be a mapping with services",
                )
                .at(Some(Location {
                    file: path.clone(),
                    line: 1,
                    column: 1,
                })));
            }
            let mut doc = docs.swap_remove(0);
            super::apply_merge_keys(&mut doc.value);
            files.push(SourceFile { path, doc });
        }
        i += 1;
    }
    Ok(())
}

/// Rewrites a file's relative paths, written against its own directory
/// `dir`, against the project directory: a service taken from another
/// directory keeps pointing at its own files.
pub(crate) fn rebase_paths(doc: &mut Value, dir: &Path, project_dir: &Path) {
    let abs = |p: &str| -> Option<String> {
        let remote = p.contains("://") || p.starts_with("git@") || p.starts_with("github.com/");
        (!remote && !p.starts_with('/') && !p.starts_with('~'))
            .then(|| crate::text::relative(project_dir, &dir.join(p)))
    };
    let Some(Value::Object(services)) = doc.get_mut("services") else {
        return;
    };
    for svc in services.values_mut() {
        let Value::Object(s) = svc else { continue };
        match s.get_mut("build") {
            Some(Value::String(c)) => {
                if let Some(a) = abs(c) {
                    *c = a;
                }
            }
            Some(Value::Object(b)) => {
                let context = b.get("context").and_then(Value::as_str).unwrap_or(".");
                if let Some(a) = abs(context) {
                    b.insert("context".into(), Value::String(a));
                }
            }
            _ => {}
        }
        let env_files: Vec<&mut Value> = match s.get_mut("env_file") {
            Some(Value::Array(items)) => items.iter_mut().collect(),
            Some(v) => vec![v],
            None => Vec::new(),
        };
        for e in env_files {
            let slot = match e {
                Value::Object(o) => o.get_mut("path"),
                other => Some(other),
            };
            if let Some(Value::String(p)) = slot {
                if let Some(a) = abs(p) {
                    *p = a;
                }
            }
        }
        if let Some(Value::Array(vols)) = s.get_mut("volumes") {
            for v in vols {
                match v {
                    Value::String(text) => {
                        if let Some((src, rest)) = text.split_once(':') {
                            if src.starts_with('.') {
                                if let Some(a) = abs(src) {
                                    *text = format!("{a}:{rest}");
                                }
                            }
                        }
                    }
                    Value::Object(m) if m.get("type").and_then(Value::as_str) == Some("bind") => {
                        if let Some(Value::String(src)) = m.get_mut("source") {
                            if let Some(a) = abs(src) {
                                *src = a;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Every service's base: `(file, service)` to the `(file, service)` it
/// extends. A base that does not exist, or a chain that comes back to
/// itself, is an error naming the `extends` and the chain.
#[allow(clippy::result_large_err)]
pub(crate) fn bases(
    files: &[SourceFile],
    values: &[Value],
    expand: &dyn Fn(&str) -> String,
) -> Result<HashMap<ServiceRef, ServiceRef>, Diagnostic> {
    let mut out = HashMap::new();
    for (i, doc) in values.iter().enumerate() {
        for (name, svc) in services(doc) {
            let Some(ext) = svc.get("extends") else {
                continue;
            };
            let at = ptr(["services", &name, "extends"]);
            let Some((file, base)) = target(ext) else {
                return Err(error_at(
                    &files[i],
                    &at,
                    format!("services.{name}.extends: expected a service name or {{service: NAME, file: PATH}}"),
                ));
            };
            let j = match file {
                None => i,
                Some(f) => {
                    let path = crate::text::absolute(&dir_of(&files[i].path).join(expand(&f)));
                    files
                        .iter()
                        .position(|s| crate::text::absolute(&s.path) == path)
                        .unwrap_or(i)
                }
            };
            let declared = values[j]
                .get("services")
                .and_then(|s| s.get(&base))
                .is_some();
            if !declared {
                return Err(error_at(
                    &files[i],
                    &at,
                    format!(
                        "services.{name}.extends: {} declares no service {base:?}",
                        files[j].path.display()
                    ),
                )
                .hint("name a service of that file"));
            }
            out.insert((i, name), (j, base));
        }
    }
    let mut starts: Vec<&ServiceRef> = out.keys().collect();
    starts.sort();
    for start in starts {
        let mut seen: HashSet<&ServiceRef> = HashSet::from([start]);
        let mut chain = vec![start.1.clone()];
        let mut at = start;
        while let Some(next) = out.get(at) {
            chain.push(next.1.clone());
            if !seen.insert(next) {
                return Err(error_at(
                    &files[start.0],
                    &ptr(["services", &start.1, "extends"]),
                    format!(
                        "services.{}.extends: a cycle ({}): a service cannot extend itself",
                        start.1,
                        chain.join(" -> ")
                    ),
                )
                .hint("break the chain: let one of these services declare its keys instead of extending"));
            }
            at = next;
        }
    }
    Ok(out)
}
