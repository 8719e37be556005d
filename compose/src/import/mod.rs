//! docker-compose files (format 2, 3 and the Compose Specification) to
//! desired-state documents: the migration path for compose users.
//!
//! Files are read with desired-state's YAML reader, so every finding names the
//! file, line and column. Interpolation (`${VAR}`) uses the process environment
//! and the `.env` file beside the first compose file, as compose does. Several
//! files merge in order, as `docker-compose -f a -f b` merges them, and a
//! service's `extends` is merged by the same rules (extends.rs). Supported
//! keys are converted (configs and secrets: convert/files.rs); everything else
//! is listed as `file:line:col: services.web.links: not supported by lucidctl`.

mod convert;
mod extends;
mod merge;
mod scan;

pub use convert::{parse_expose, parse_port};

use super::export::ExportedFile;
use desired_state::model::Kind;
use desired_state::yaml::{parse_documents, ParsedDocument};
use desired_state::{Diagnostic, Location};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Where the desired-state file goes; paths in it are relative to it.
    pub output_dir: PathBuf,
    /// The process environment, for interpolation (it wins over `.env`).
    pub env: HashMap<String, String>,
    /// Overrides the compose project name (else COMPOSE_PROJECT_NAME, the
    /// top-level `name:`, or the first file's directory name).
    pub project: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// Not converted; the exit code is 1 unless `--allow-unsupported`.
    Unsupported,
    /// Converted, with a difference worth knowing.
    Note,
}

/// Something the conversion could not carry over, or carried over differently.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: FindingKind,
    pub location: Option<Location>,
    /// `services.web.links`.
    pub path: String,
    pub message: String,
}

impl Finding {
    pub fn blocks(&self) -> bool {
        self.kind == FindingKind::Unsupported
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        if self.kind == FindingKind::Note {
            f.write_str("note: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub files: Vec<ExportedFile>,
    pub findings: Vec<Finding>,
    pub counts: BTreeMap<Kind, usize>,
    /// The compose project name used for network and volume names.
    pub project: String,
}

impl Imported {
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        parts.join(", ")
    }

    pub fn blocking(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.blocks())
    }
}

/// One compose file as read, after merge keys and interpolation.
pub(crate) struct SourceFile {
    pub path: PathBuf,
    pub doc: ParsedDocument,
}

impl SourceFile {
    /// Where a JSON pointer in this file is, or its nearest ancestor.
    pub fn locate(&self, pointer: &str, key: bool) -> Location {
        let mut p = pointer.to_string();
        loop {
            let hit = if key && p == pointer {
                self.doc.positions.get_key(&p)
            } else {
                None
            }
            .or_else(|| self.doc.positions.get(&p));
            if let Some(&(line, column)) = hit {
                return Location {
                    file: self.path.clone(),
                    line,
                    column,
                };
            }
            if p.is_empty() {
                return Location {
                    file: self.path.clone(),
                    line: 1,
                    column: 1,
                };
            }
            p.truncate(p.rfind('/').unwrap_or(0));
        }
    }
}

/// Collects findings against source files.
pub(crate) struct Findings<'a> {
    pub files: &'a [SourceFile],
    pub list: Vec<Finding>,
}

impl Findings<'_> {
    pub fn at(
        &mut self,
        kind: FindingKind,
        file: usize,
        pointer: &str,
        key: bool,
        message: impl Into<String>,
    ) {
        let location = self.files.get(file).map(|f| f.locate(pointer, key));
        self.list.push(Finding {
            kind,
            location,
            path: desired_state::pointer::display_path(pointer),
            message: message.into(),
        });
    }
}

pub fn import(paths: &[PathBuf], options: &ImportOptions) -> Result<Imported, Diagnostic> {
    if paths.is_empty() {
        return Err(Diagnostic::error("no compose files given"));
    }
    // `docker-compose.yml` alone has the parent "", which is the working directory.
    let first_parent = paths[0]
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let first_dir = super::text::absolute(first_parent);
    let mut env: HashMap<String, String> = match read_text(&first_dir.join(".env")) {
        Ok(text) => super::dotenv::parse_dotenv(&text, &options.env)
            .into_iter()
            .collect(),
        Err(_) => HashMap::new(),
    };
    env.extend(options.env.iter().map(|(k, v)| (k.clone(), v.clone())));

    let mut files = Vec::new();
    for path in paths {
        let text = read_text(path).map_err(|e| {
            Diagnostic::error(format!("cannot read {}: {e}", path.display())).at(Some(Location {
                file: path.clone(),
                line: 0,
                column: 0,
            }))
        })?;
        let mut docs = parse_documents(path, &text)?;
        if docs.is_empty() {
            return Err(Diagnostic::error("the file is empty").at(Some(Location {
                file: path.clone(),
                line: 1,
                column: 1,
            })));
        }
        let mut doc = docs.swap_remove(0);
        if !doc.value.is_object() {
            return Err(
                Diagnostic::error("a compose file must be a mapping").at(Some(Location {
                    file: path.clone(),
                    line: 1,
                    column: 1,
                })),
            );
        }
        apply_merge_keys(&mut doc.value);
        files.push(SourceFile {
            path: path.clone(),
            doc,
        });
    }

    // The files given with -f; those after them are read for `extends` only.
    let top = files.len();
    let expand = |p: &str| super::text::interpolate(p, &env).0;
    extends::load_files(&mut files, &expand)?;

    // Which service each `extends` names; from a file read for `extends`
    // only, just those services are read (interpolated, checked), as an
    // unused service there is no part of the project.
    let raw: Vec<Value> = files.iter().map(|f| f.doc.value.clone()).collect();
    let bases = extends::bases(&files, &raw, &expand)?;
    let mut findings = Findings {
        files: &files,
        list: Vec::new(),
    };
    let mut interpolated: Vec<Value> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let mut v = if i < top {
            f.doc.value.clone()
        } else {
            let used: serde_json::Map<String, Value> = bases
                .values()
                .filter(|(j, _)| *j == i)
                .filter_map(|(_, name)| {
                    let svc = f.doc.value.get("services")?.get(name)?;
                    Some((name.clone(), svc.clone()))
                })
                .collect();
            serde_json::json!({ "services": used })
        };
        if let Value::Object(map) = &mut v {
            for section in [
                "services", "networks", "volumes", "configs", "secrets", "name",
            ] {
                if let Some(val) = map.get_mut(section) {
                    interpolate_all(val, &format!("/{section}"), &env, i, &mut findings);
                }
            }
        }
        if i < top {
            scan::scan(i, &v, &mut findings);
        } else {
            // What a service inherits is checked like the service itself.
            for (name, svc) in v["services"].as_object().into_iter().flatten() {
                let at = desired_state::pointer::pointer(["services", name]);
                scan::scan_service(i, &at, svc, &mut findings);
            }
            let dir = extends::dir_of(&f.path);
            if dir != first_dir {
                extends::rebase_paths(&mut v, &dir, &first_dir);
            }
        }
        interpolated.push(v);
    }

    let project = options
        .project
        .clone()
        .or_else(|| env.get("COMPOSE_PROJECT_NAME").cloned())
        .or_else(|| {
            interpolated
                .iter()
                .rev()
                .find_map(|v| v.get("name").and_then(Value::as_str).map(str::to_string))
        })
        .unwrap_or_else(|| {
            first_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "default".into())
        });
    let project: String = project
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let project = if project.is_empty() {
        "default".to_string()
    } else {
        project
    };

    let merged = merge::merge(&interpolated, top, &bases);
    let out_dir = super::text::absolute(&options.output_dir);
    let mut conv = convert::Converter::new(
        &merged,
        &mut findings,
        project.clone(),
        first_dir,
        out_dir,
        &env,
    );
    conv.run();
    let (docs, counts) = conv.finish();
    let header = header(paths, &options.output_dir);
    let content = format!("{header}{docs}");
    let mut list = findings.list;
    // In file order, as a reader goes through the compose file.
    let order: Vec<&PathBuf> = paths.iter().collect();
    list.sort_by_key(|f| {
        f.location
            .as_ref()
            .map(|l| {
                (
                    order
                        .iter()
                        .position(|p| **p == l.file)
                        .unwrap_or(usize::MAX),
                    l.line,
                    l.column,
                )
            })
            .unwrap_or((usize::MAX, 0, 0))
    });
    Ok(Imported {
        files: vec![ExportedFile {
            path: PathBuf::from("imported.yaml"),
            content,
        }],
        findings: list,
        counts,
        project,
    })
}

/// A compose file or env file as text: a regular file of bounded size only, so
/// a path naming a FIFO or `/dev/zero` cannot hang or exhaust the import.
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    let bytes = desired_state::load::read_regular(path)?;
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())
}

fn header(paths: &[PathBuf], out_dir: &Path) -> String {
    let mut h = String::new();
    let out_abs = super::text::absolute(out_dir);
    let schema = out_abs
        .ancestors()
        .find(|a| a.join(".git").exists())
        .map(|root| root.join("crd-schemas/schemas/lucid.schema.json"))
        .filter(|p| p.is_file());
    if let Some(s) = schema {
        let rel = super::text::relative(&out_abs, &s);
        h.push_str(&format!(
            "# yaml-language-server: $schema={}\n",
            rel.strip_prefix("./").unwrap_or(&rel)
        ));
    }
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    h.push_str(&format!(
        "# Imported from {} by `lucidctl import compose`.\n",
        names.join(" + ")
    ));
    h.push_str("# Check it with `lucidctl validate -f <this directory>`; export it back with `lucidctl export compose`.\n");
    h
}

/// YAML merge keys (`<<: *defaults`), which compose files use with `x-` anchors.
pub(crate) fn apply_merge_keys(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(merge) = map.remove("<<") {
                let sources: Vec<Value> = match merge {
                    Value::Array(items) => items,
                    other => vec![other],
                };
                for mut src in sources {
                    // A merged mapping may itself merge others (`x-app: {<<: *base}`).
                    apply_merge_keys(&mut src);
                    if let Value::Object(m) = src {
                        for (k, val) in m {
                            map.entry(k).or_insert(val);
                        }
                    }
                }
            }
            map.values_mut().for_each(apply_merge_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(apply_merge_keys),
        _ => {}
    }
}

fn interpolate_all(
    v: &mut Value,
    pointer: &str,
    env: &HashMap<String, String>,
    file: usize,
    findings: &mut Findings<'_>,
) {
    match v {
        Value::String(s) => {
            let (out, problems) = super::text::interpolate(s, env);
            for p in problems {
                let msg = match p {
                    super::text::Unresolved::Unset(name) => format!(
                        "variable {name} is not set (nor in .env): left as ${{{name}}}, which lucidctl validate refuses; set it and import again"
                    ),
                    super::text::Unresolved::Required(name, msg) => format!("variable {name} is required ({msg}): left as ${{{name}}}; set it and import again"),
                    super::text::Unresolved::Invalid(text) => format!("invalid interpolation {text:?} (write $$ for a literal $)"),
                };
                findings.at(FindingKind::Unsupported, file, pointer, false, msg);
            }
            *s = out;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_all(item, &format!("{pointer}/{i}"), env, file, findings);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                if k.starts_with("x-") {
                    continue;
                }
                let p = format!("{pointer}{}", desired_state::pointer::pointer([k]));
                interpolate_all(item, &p, env, file, findings);
            }
        }
        _ => {}
    }
}
