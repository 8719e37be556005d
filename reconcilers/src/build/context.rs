//! The build context of an Image with `spec.build`: one walk (after
//! `.dockerignore`), a content hash over it, and the tar sent to the engine.
//!
//! The hash and the tar both read the same `ContextWalk`, so they cannot
//! disagree about which paths, modes and symlink targets are in the context.
//! File bytes are read twice (hash, then tar); a file whose size changes in
//! between is a typed error. A same-size edit in that window makes the image
//! carry the older hash, which only costs one extra rebuild on the next check.
//!
//! Both functions do blocking file I/O (and `build_hash` uses rayon's pool):
//! call them from `spawn_blocking`, not on an async worker.

pub mod digest_cache;
mod dockerignore;
mod hash;
mod tarball;

use dockerignore::Dockerignore;
pub use hash::{build_hash, build_hash_cached};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
pub use tarball::write_tar;

/// Part of every build hash. Bump only on purpose: a new value rebuilds every
/// image of every user.
pub const SCHEME: &str = "lucid-build-hash/v1";

const DOCKERIGNORE: &str = ".dockerignore";

#[derive(Debug, Clone, Copy)]
pub struct BuildInputs<'a> {
    pub context_dir: &'a Path,
    /// Relative to the context, '/'-separated.
    pub dockerfile: &'a str,
    pub args: &'a BTreeMap<String, String>,
    pub target: Option<&'a str>,
    pub platform: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    /// The link's target, as stored; never followed.
    Symlink(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    /// Relative to the context, '/'-separated, no leading `./`.
    pub rel_path: String,
    /// `st_mode`: file type and permission bits (including setuid/setgid/sticky).
    pub mode: u32,
    /// Bytes for regular files, 0 otherwise.
    pub size: u64,
    pub kind: FileKind,
    /// Identifies this version of the bytes without reading them (the digest cache's key).
    pub stamp: digest_cache::Stamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextWalk {
    /// Sorted by `rel_path` (byte order); the hash and the tar follow this order.
    pub files: Vec<ContextFile>,
    /// Sum of `size` over regular files.
    pub total_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}, line {line}: bad pattern {pattern:?}: {reason}")]
    BadDockerignore {
        path: PathBuf,
        line: usize,
        pattern: String,
        reason: &'static str,
    },
    #[error("Dockerfile path {dockerfile:?} must be relative and stay inside the build context")]
    DockerfileOutsideContext { dockerfile: String },
    #[error("Dockerfile {path} is not in the build context")]
    DockerfileMissing { path: PathBuf },
    #[error("Dockerfile {path} is not a regular file")]
    DockerfileNotAFile { path: PathBuf },
    #[error("{path}: name is not valid UTF-8; rename it or add it to .dockerignore")]
    NonUtf8Path { path: PathBuf },
    #[error(
        "{path} is a fifo or device, which a build context cannot carry; add it to .dockerignore"
    )]
    UnsupportedFileType { path: PathBuf },
    #[error("{path} changed while the build context was being read (it had {expected} bytes)")]
    ChangedDuringRead { path: PathBuf, expected: u64 },
    #[error("writing the build context tar at {rel_path}: {source}")]
    TarWrite { rel_path: String, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ContextError + '_ {
    move |source| ContextError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Walks `context_dir`, skipping what `.dockerignore` excludes, without
/// following symlinks. A `<dockerfile>.dockerignore` next to the Dockerfile
/// replaces the root one, as in BuildKit. The Dockerfile and the root
/// `.dockerignore` are always kept, as the Docker CLI does.
pub fn walk(context_dir: &Path, dockerfile: &str) -> Result<ContextWalk, ContextError> {
    let dockerfile = normalize_dockerfile(dockerfile)?;
    let ignore = load_dockerignore(context_dir, &dockerfile)?;
    let always_kept = |rel: &str| rel == dockerfile || rel == DOCKERIGNORE;
    let under = |dir: &str, path: &str| {
        path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
    };

    let mut files = Vec::new();
    let mut dirs = vec![String::new()];
    while let Some(dir_rel) = dirs.pop() {
        let dir_abs = context_dir.join(&dir_rel);
        for entry in fs::read_dir(&dir_abs).map_err(io_err(&dir_abs))? {
            let entry = entry.map_err(io_err(&dir_abs))?;
            let abs = entry.path();
            let file_type = entry.file_type().map_err(io_err(&abs))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                // Such a name can be neither matched exactly nor hashed as a
                // String; it's fine when ignored, judged with U+FFFD in place
                // of the bad bytes.
                let rel = join_rel(&dir_rel, &name.to_string_lossy());
                if ignore.is_excluded(&rel)
                    && !(file_type.is_dir() && ignore.may_reinclude_under(&rel))
                {
                    continue;
                }
                return Err(ContextError::NonUtf8Path { path: abs });
            };
            let rel = join_rel(&dir_rel, name);
            if !always_kept(&rel) && ignore.is_excluded(&rel) {
                // Docker leaves the directory's own entry out even when it
                // walks in to pick up re-included paths.
                if file_type.is_dir()
                    && (ignore.may_reinclude_under(&rel) || under(&rel, &dockerfile))
                {
                    dirs.push(rel);
                }
                continue;
            }
            let meta = entry.metadata().map_err(io_err(&abs))?;
            let kind = if file_type.is_dir() {
                dirs.push(rel.clone());
                FileKind::Dir
            } else if file_type.is_file() {
                FileKind::File
            } else if file_type.is_symlink() {
                let target = fs::read_link(&abs).map_err(io_err(&abs))?;
                let target = target.into_os_string().into_string();
                FileKind::Symlink(
                    target.map_err(|_| ContextError::NonUtf8Path { path: abs.clone() })?,
                )
            } else if file_type.is_socket() {
                continue; // Docker skips sockets too.
            } else {
                return Err(ContextError::UnsupportedFileType { path: abs });
            };
            let size = if kind == FileKind::File {
                meta.len()
            } else {
                0
            };
            files.push(ContextFile {
                rel_path: rel,
                mode: meta.mode(),
                size,
                kind,
                stamp: digest_cache::Stamp::of(&meta),
            });
        }
    }
    files.sort_unstable_by(|a, b| a.rel_path.cmp(&b.rel_path));
    check_dockerfile(context_dir, &files, &dockerfile)?;
    let total_bytes = files.iter().map(|f| f.size).sum();
    Ok(ContextWalk { files, total_bytes })
}

fn join_rel(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// `./a//Dockerfile` and `a/Dockerfile` are one Dockerfile, and hash alike.
fn normalize_dockerfile(dockerfile: &str) -> Result<String, ContextError> {
    let outside = || ContextError::DockerfileOutsideContext {
        dockerfile: dockerfile.to_string(),
    };
    if dockerfile.starts_with('/') {
        return Err(outside());
    }
    let mut parts = Vec::new();
    for part in dockerfile.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(outside()),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(outside());
    }
    Ok(parts.join("/"))
}

fn load_dockerignore(context_dir: &Path, dockerfile: &str) -> Result<Dockerignore, ContextError> {
    for name in [
        format!("{dockerfile}.dockerignore"),
        DOCKERIGNORE.to_string(),
    ] {
        let path = context_dir.join(&name);
        match fs::read(&path) {
            Ok(bytes) => {
                return Dockerignore::parse(&String::from_utf8_lossy(&bytes)).map_err(|e| {
                    ContextError::BadDockerignore {
                        path,
                        line: e.line,
                        pattern: e.pattern,
                        reason: e.reason,
                    }
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(ContextError::Io { path, source: e }),
        }
    }
    Ok(Dockerignore::default())
}

fn check_dockerfile(
    context_dir: &Path,
    files: &[ContextFile],
    dockerfile: &str,
) -> Result<(), ContextError> {
    let path = || context_dir.join(dockerfile);
    match files.iter().find(|f| f.rel_path == dockerfile) {
        Some(f) if f.kind == FileKind::File => Ok(()),
        Some(_) => Err(ContextError::DockerfileNotAFile { path: path() }),
        None => Err(ContextError::DockerfileMissing { path: path() }),
    }
}

/// Fills `buf` unless the file ends first; returns the bytes read.
fn read_full(file: &mut impl io::Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
