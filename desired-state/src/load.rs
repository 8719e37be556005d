//! Files to `DesiredState`: collect, parse, merge overlays, deserialize.
//! Every problem becomes a `Diagnostic`; loading goes on past errors so that
//! `validate` can report all of them at once.

use crate::diagnostics::{did_you_mean, Diagnostic, Location};
use crate::merge::merge_patch;
use crate::model::{Kind, Metadata, Spec, API_VERSION};
use crate::pointer::display_path;
use crate::state::{DesiredState, Layer, Origin, Resource};
use crate::yaml::{parse_documents, ParsedDocument};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Each `-f`: a file, or a directory whose `*.yaml`, `*.yml` and `*.json` files are read.
    pub paths: Vec<PathBuf>,
    /// Descend into subdirectories (`-R`).
    pub recursive: bool,
    /// Overrides the state root: the enclosing git work tree, else the first `-f` directory.
    pub root: Option<PathBuf>,
}

pub struct Loaded {
    pub state: DesiredState,
    pub diagnostics: Vec<Diagnostic>,
}

/// A document awaiting typing, possibly patched by later `-f` arguments.
struct Entry {
    kind: Kind,
    name: String,
    group: usize,
    value: Value,
    layers: Vec<Layer>,
    deleted: bool,
}

/// The documents so far, in declaration order, with an index of the live
/// (not deleted) ones by kind and name: finding the earlier declaration of
/// each document by scanning the list made loading quadratic in documents.
#[derive(Default)]
struct Entries {
    list: Vec<Entry>,
    live: HashMap<(Kind, String), usize>,
}

const TOP_LEVEL_KEYS: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "$patch"];

pub fn load(options: &LoadOptions) -> Loaded {
    let mut diagnostics = Vec::new();
    let mut sources = Vec::new();
    if options.paths.is_empty() {
        diagnostics
            .push(Diagnostic::error("no input files").hint("pass -f PATH (a file or a directory)"));
    }
    for (group, path) in options.paths.iter().enumerate() {
        for file in collect_files(path, options.recursive, &mut diagnostics) {
            match read_regular(&file) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => match text.find('\0') {
                        Some(at) => diagnostics.push(
                            at_offset(&file, text.as_bytes(), at, "the file contains a NUL byte")
                                .hint(
                                    "desired-state files are text; remove the NUL byte or the file",
                                ),
                        ),
                        None => sources.push(Source { group, file, text }),
                    },
                    Err(e) => {
                        let at = e.utf8_error().valid_up_to();
                        diagnostics.push(
                            at_offset(&file, e.as_bytes(), at, "the file is not valid UTF-8")
                                .hint("save the file as UTF-8"),
                        )
                    }
                },
                Err(why) => diagnostics.push(whole_file(&file, &why)),
            }
        }
    }
    let root = options
        .root
        .clone()
        .unwrap_or_else(|| default_root(&options.paths));
    let mut loaded = load_sources(&sources, root);
    diagnostics.append(&mut loaded.diagnostics);
    loaded.diagnostics = diagnostics;
    loaded
}

/// One input file's text. Sources of a later `group` (-f argument) patch earlier ones.
pub struct Source {
    pub group: usize,
    pub file: PathBuf,
    pub text: String,
}

/// Loading without touching the filesystem, for callers (and tests) that hold the text.
pub fn load_sources(sources: &[Source], root: PathBuf) -> Loaded {
    let mut diagnostics = Vec::new();
    let mut entries = Entries::default();
    for source in sources {
        match parse_file(&source.file, &source.text) {
            Ok(docs) => {
                for doc in docs {
                    add_document(
                        &mut entries,
                        source.group,
                        &source.file,
                        doc,
                        &mut diagnostics,
                    );
                }
            }
            Err(d) => diagnostics.push(d),
        }
    }
    let resources = entries
        .list
        .into_iter()
        .filter(|e| !e.deleted)
        .filter_map(|e| type_entry(e, &mut diagnostics))
        .collect();
    Loaded {
        state: DesiredState { resources, root },
        diagnostics,
    }
}

/// `.json` files are strict JSON; everything else is YAML.
pub fn parse_file(file: &Path, text: &str) -> Result<Vec<ParsedDocument>, Diagnostic> {
    let is_json = file
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        crate::json::parse_document(file, text)
    } else {
        parse_documents(file, text)
    }
}

/// Largest desired-state file read; the whole Lucid system is under 100 KB.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Reads a regular file of at most `MAX_FILE_BYTES`. A FIFO would block the
/// open itself, and `/dev/zero` behind a symlink never ends: the file is
/// opened without blocking and checked on the open descriptor.
pub fn read_regular(file: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK (the same value on every Linux architecture lucidctl runs on).
    const O_NONBLOCK: i32 = 0o4000;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(file)
        .map_err(|e| format!("cannot read: {e}"))?;
    let meta = f.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err(
            "not a regular file (a FIFO, socket or device); only regular files are read".into(),
        );
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{} bytes is more than the {} MiB a desired-state file may have",
            meta.len(),
            MAX_FILE_BYTES >> 20
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("more than {} MiB", MAX_FILE_BYTES >> 20));
    }
    Ok(bytes)
}

/// A diagnostic at the line and column of byte `at` (columns count characters).
fn at_offset(file: &Path, bytes: &[u8], at: usize, msg: &str) -> Diagnostic {
    let before = &bytes[..at.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Diagnostic::error(msg).at(Some(Location {
        file: file.to_path_buf(),
        line,
        column,
    }))
}

fn whole_file(file: &Path, msg: &str) -> Diagnostic {
    Diagnostic::error(msg).at(Some(Location {
        file: file.to_path_buf(),
        line: 0,
        column: 0,
    }))
}

fn collect_files(path: &Path, recursive: bool, diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            diagnostics.push(
                Diagnostic::error(format!("{}: {e}", path.display()))
                    .hint("pass an existing file or directory to -f"),
            );
            return Vec::new();
        }
    };
    if meta.is_file() {
        return vec![path.to_path_buf()];
    }
    if !meta.is_dir() {
        diagnostics.push(whole_file(
            path,
            "not a regular file or a directory (a FIFO, socket or device); pass a file or a directory to -f",
        ));
        return Vec::new();
    }
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    match std::fs::read_dir(path) {
        Ok(rd) => {
            for entry in rd.flatten() {
                let p = entry.path();
                let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
                if is_dir {
                    dirs.push(p);
                } else if p
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
                {
                    files.push(p);
                }
            }
        }
        Err(e) => diagnostics.push(Diagnostic::error(format!("{}: {e}", path.display()))),
    }
    files.sort();
    if recursive {
        dirs.sort();
        for d in dirs {
            files.extend(collect_files(&d, true, diagnostics));
        }
    }
    files
}

fn default_root(paths: &[PathBuf]) -> PathBuf {
    let Some(first) = paths.first() else {
        return PathBuf::from(".");
    };
    let dir = if first.is_dir() {
        first.clone()
    } else {
        first.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let abs = std::fs::canonicalize(&dir).unwrap_or(dir);
    abs.ancestors()
        .find(|a| a.join(".git").exists())
        .map(Path::to_path_buf)
        .unwrap_or(abs)
}

fn add_document(
    entries: &mut Entries,
    group: usize,
    file: &Path,
    doc: ParsedDocument,
    out: &mut Vec<Diagnostic>,
) {
    let positions = Arc::new(doc.positions);
    let at = |pointer: &str| {
        let (line, column) = positions.get(pointer).copied().unwrap_or((1, 1));
        Some(Location {
            file: file.to_path_buf(),
            line,
            column,
        })
    };
    let Value::Object(mut map) = doc.value else {
        if !doc.value.is_null() {
            out.push(
                Diagnostic::error("a document must be a mapping")
                    .at(at(""))
                    .hint("start it with apiVersion, kind, metadata and spec"),
            );
        }
        return;
    };
    let mut ok = true;
    for key in map.keys() {
        if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
            ok = false;
            out.push(
                Diagnostic::error(format!("unknown field `{key}`"))
                    .at(at(&format!("/{key}")))
                    .path(key.clone())
                    .hint_opt(
                        did_you_mean(key, TOP_LEVEL_KEYS).map(|s| format!("did you mean `{s}`?")),
                    ),
            );
        }
    }
    match map.get("apiVersion") {
        Some(Value::String(v)) if v == API_VERSION => {}
        Some(v) => {
            ok = false;
            out.push(
                Diagnostic::error(format!("unknown apiVersion {v}"))
                    .at(at("/apiVersion"))
                    .path("apiVersion")
                    .hint(format!("use apiVersion: {API_VERSION}")),
            );
        }
        None => {
            ok = false;
            out.push(
                Diagnostic::error("missing field `apiVersion`")
                    .at(at(""))
                    .hint(format!("add apiVersion: {API_VERSION}")),
            );
        }
    }
    let kind = match map.get("kind") {
        Some(Value::String(k)) => match Kind::parse(k) {
            Some(kind) => Some(kind),
            None => {
                let names = Kind::ALL.map(Kind::as_str);
                out.push(
                    Diagnostic::error(format!("unknown kind {k:?}"))
                        .at(at("/kind"))
                        .path("kind")
                        .hint(match did_you_mean(k, names) {
                            Some(s) => format!("did you mean {s}?"),
                            None => format!("use one of {}", names.join(", ")),
                        }),
                );
                None
            }
        },
        other => {
            let what = if other.is_some() {
                "`kind` must be a string"
            } else {
                "missing field `kind`"
            };
            out.push(Diagnostic::error(what).at(at("/kind")).path("kind"));
            None
        }
    };
    let name = match map.get("metadata").and_then(|m| m.get("name")) {
        Some(Value::String(n)) => Some(n.clone()),
        _ => {
            out.push(
                Diagnostic::error("missing or non-string `metadata.name`")
                    .at(at("/metadata"))
                    .path("metadata.name")
                    .hint("add metadata: {name: my-resource}"),
            );
            None
        }
    };
    let (Some(kind), Some(name), true) = (kind, name, ok) else {
        return;
    };
    let patch = map.remove("$patch");
    let layer = Layer {
        file: file.to_path_buf(),
        positions: Arc::clone(&positions),
    };
    let index = entries.live.get(&(kind, name.clone())).copied();
    let existing = index.and_then(|i| entries.list.get_mut(i));
    let value = Value::Object(map);
    match (existing, patch) {
        (Some(e), _) if e.group == group => {
            let first = e.layers.last().and_then(|l| {
                Origin {
                    layers: vec![l.clone()],
                }
                .locate("")
            });
            out.push(
                Diagnostic::error(format!("duplicate resource {kind}/{name}"))
                    .at(at(""))
                    .hint(format!(
                        "it is already declared at {}; rename one, or put the change in an overlay passed as a later -f",
                        first.map(|l| l.to_string()).unwrap_or_default()
                    )),
            );
        }
        (Some(e), Some(Value::String(p))) if p == "delete" => {
            e.deleted = true;
            entries.live.remove(&(kind, name));
        }
        (None, Some(Value::String(p))) if p == "delete" => out.push(
            Diagnostic::error(format!(
                "$patch: delete names {kind}/{name}, which no earlier -f declares"
            ))
            .at(at("/$patch"))
            .hint("check the name, or the order of -f arguments"),
        ),
        (_, Some(_)) => out.push(
            Diagnostic::error("`$patch` may only be `delete`")
                .at(at("/$patch"))
                .hint(
                    "to change fields, give them in a later document with the same kind and name",
                ),
        ),
        (Some(e), None) => {
            merge_patch(&mut e.value, &value);
            e.layers.push(layer);
            e.group = group;
        }
        (None, None) => {
            entries
                .live
                .insert((kind, name.clone()), entries.list.len());
            entries.list.push(Entry {
                kind,
                name,
                group,
                value,
                layers: vec![layer],
                deleted: false,
            });
        }
    }
}

fn type_entry(entry: Entry, out: &mut Vec<Diagnostic>) -> Option<Resource> {
    let origin = Origin {
        layers: entry.layers,
    };
    let id = format!("{}/{}", entry.kind, entry.name);
    let field = |value: Option<&Value>| value.cloned().unwrap_or(Value::Object(Default::default()));
    let metadata: Option<Metadata> = typed(
        field(entry.value.get("metadata")),
        "/metadata",
        &origin,
        &id,
        out,
    );
    let spec_value = field(entry.value.get("spec"));
    let spec = match entry.kind {
        Kind::Network => typed(spec_value, "/spec", &origin, &id, out).map(Spec::Network),
        Kind::Volume => typed(spec_value, "/spec", &origin, &id, out).map(Spec::Volume),
        Kind::ConfigFile => typed(spec_value, "/spec", &origin, &id, out).map(Spec::ConfigFile),
        Kind::SecretSet => typed(spec_value, "/spec", &origin, &id, out).map(Spec::SecretSet),
        Kind::Image => typed(spec_value, "/spec", &origin, &id, out).map(Spec::Image),
        Kind::IsolationPolicy => {
            typed(spec_value, "/spec", &origin, &id, out).map(Spec::IsolationPolicy)
        }
        Kind::Job => typed(spec_value, "/spec", &origin, &id, out).map(Spec::Job),
        Kind::Service => typed(spec_value, "/spec", &origin, &id, out).map(Spec::Service),
    };
    Some(Resource {
        metadata: metadata?,
        spec: spec?,
        origin,
    })
}

fn typed<T: DeserializeOwned>(
    value: Value,
    prefix: &str,
    origin: &Origin,
    id: &str,
    out: &mut Vec<Diagnostic>,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(err) => {
            let mut pointer = prefix.to_string();
            for seg in err.path().iter() {
                use serde_path_to_error::Segment;
                match seg {
                    Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
                    Segment::Map { key } => {
                        pointer.push_str(&format!("/{}", key.replace('~', "~0").replace('/', "~1")))
                    }
                    Segment::Enum { .. } | Segment::Unknown => {}
                }
            }
            let full = err.inner().to_string();
            let unknown = full.starts_with("unknown field");
            // The candidates go in the hint; the message stays one short line.
            let message = if unknown {
                full.split(", expected").next().unwrap_or(&full).to_string()
            } else {
                full.clone()
            };
            let location = if unknown {
                origin.locate_key(&pointer)
            } else {
                origin.locate(&pointer)
            };
            out.push(
                Diagnostic::error(message)
                    .at(location)
                    .resource(id)
                    .path(display_path(&pointer))
                    .hint_opt(hint_for_serde(&full)),
            );
            None
        }
    }
}

/// serde's messages name the field; add the likely fix.
fn hint_for_serde(message: &str) -> Option<String> {
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    if message.starts_with("unknown field") || message.starts_with("unknown variant") {
        let (wanted, candidates) = quoted.split_first()?;
        return Some(match did_you_mean(wanted, candidates.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if candidates.is_empty() => "remove it".to_string(),
            None => format!(
                "expected one of {}",
                candidates
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if message.starts_with("missing field") {
        return quoted.first().map(|f| format!("add `{f}`"));
    }
    if message.starts_with("invalid type") && message.ends_with("expected a string") {
        return Some("quote the value, e.g. \"10\"".to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volumes(count: usize, group: usize) -> Source {
        let mut text = String::new();
        for i in 0..count {
            text.push_str(&format!(
                "---\napiVersion: {API_VERSION}\nkind: Volume\nmetadata:\n  name: v{i:0>40}\nspec: {{}}\n"
            ));
        }
        Source {
            group,
            file: PathBuf::from(format!("v{group}.yaml")),
            text,
        }
    }

    #[test]
    fn position_memory_is_linear_in_the_input_for_a_long_key_over_many_items() {
        let key = "k".repeat(2048);
        // An explicit key (`? `): YAML's implicit keys stop at 1024 characters.
        let mut yaml = format!("? {key}\n:\n");
        let mut json = format!("{{\"{key}\": [");
        for i in 0..2000 {
            yaml.push_str(&format!("  - {{a: {i}}}\n"));
            json.push_str(if i == 0 { "{\"a\": 1}" } else { ", {\"a\": 1}" });
        }
        json.push_str("]}");
        for (file, text) in [("t.yaml", &yaml), ("t.json", &json)] {
            let docs = parse_file(Path::new(file), text).unwrap();
            let positions = &docs[0].positions;
            // A table keyed by full pointers held 2000 × 2 × 2 KB = 8 MB here.
            let stored = positions.stored_segment_bytes();
            assert!(
                stored <= 2 * text.len(),
                "{file}: {stored} bytes of keys stored for {} bytes of input",
                text.len()
            );
            assert!(positions.contains_key(&format!("/{key}/1999/a")), "{file}");
            assert!(positions.get_key(&format!("/{key}")).is_some(), "{file}");
        }
    }

    #[test]
    fn loading_time_is_linear_in_the_number_of_documents() {
        // 16× the documents: linear loading takes 11-18× as long here, the old
        // quadratic scan for an earlier declaration 54× (names of one length,
        // so each comparison reads the whole name). The best of three runs and
        // a bound between the two keep a busy machine from failing it.
        let time = |count: usize| {
            let sources = [volumes(count, 0), volumes(count, 1)];
            (0..3)
                .map(|_| {
                    let started = std::time::Instant::now();
                    let loaded = load_sources(&sources, PathBuf::from("."));
                    let took = started.elapsed();
                    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
                    assert_eq!(loaded.state.resources.len(), count);
                    took
                })
                .min()
                .unwrap()
        };
        let small = time(1_000);
        let large = time(16_000);
        let ratio = large.as_secs_f64() / small.as_secs_f64();
        assert!(
            ratio < 32.0,
            "16× the documents took {ratio:.1}× as long ({small:?} vs {large:?})"
        );
    }

    #[test]
    fn deleted_and_redeclared_resources_are_found_by_the_index() {
        let doc = |name: &str, patch: &str| {
            format!(
                "---\napiVersion: {API_VERSION}\nkind: Volume\nmetadata:\n  name: {name}\n{patch}"
            )
        };
        let sources = [
            Source {
                group: 0,
                file: PathBuf::from("a.yaml"),
                text: doc("x", "spec: {driver: one}\n") + &doc("y", "spec: {}\n"),
            },
            Source {
                group: 1,
                file: PathBuf::from("b.yaml"),
                text: doc("x", "$patch: delete\n") + &doc("y", "spec: {driver: two}\n"),
            },
            Source {
                group: 2,
                file: PathBuf::from("c.yaml"),
                text: doc("x", "spec: {driver: three}\n"),
            },
        ];
        let loaded = load_sources(&sources, PathBuf::from("."));
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let driver = |name: &str| match &loaded.state.get(Kind::Volume, name).unwrap().spec {
            Spec::Volume(v) => v.driver.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(driver("x").as_deref(), Some("three"));
        assert_eq!(driver("y").as_deref(), Some("two"));
        let dup = load_sources(&[volumes(2, 0), volumes(1, 0)], PathBuf::from("."));
        assert_eq!(dup.diagnostics.len(), 1, "{:?}", dup.diagnostics);
        assert!(dup.diagnostics[0]
            .message
            .contains("duplicate resource Volume/v0"));
    }

    #[test]
    fn serde_hints_suggest_the_nearest_field() {
        let h = hint_for_serde("unknown field `imag`, expected one of `image`, `command`").unwrap();
        assert_eq!(h, "did you mean `image`?");
        assert_eq!(
            hint_for_serde("missing field `image`").unwrap(),
            "add `image`"
        );
    }
}
