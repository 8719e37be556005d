//! Per-file content digests kept between runs, so an unchanged build context
//! costs its walk and no read of any file's bytes.
//!
//! An entry is trusted only while the file's (device, inode, size, mtime,
//! ctime) are exactly what they were when its bytes were hashed. Any write,
//! truncation, chmod, rename onto it or replacement changes the ctime (which
//! no user call can set back) or the inode, so the file is read again. A file
//! changed within `RACY` of being hashed is not cached at all: a write in the
//! same timestamp tick could otherwise leave the stamp unchanged.
//!
//! One cache file per context directory, under the user's cache directory
//! (`$XDG_CACHE_HOME/lucidctl/build-digests/`, else `~/.cache/...`), mode
//! 0600 in 0700 directories, written atomically. A missing, foreign, corrupt
//! or oversized cache file is ignored and rewritten: it can cost a re-hash,
//! never a wrong hash.

use super::{ContextFile, ContextWalk, FileKind};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const HEADER: &str = "lucid-build-digests/v1";
/// Larger cache files are ignored (about 120 bytes a file: some 500,000 files).
const MAX_BYTES: u64 = 64 << 20;
/// Files changed this recently are hashed but not cached.
pub const RACY: Duration = Duration::from_secs(2);

/// What identifies one version of a file's bytes without reading them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Changed at or after `cutoff` (Unix seconds and nanoseconds).
    fn changed_since(&self, cutoff: (i64, i64)) -> bool {
        self.mtime >= cutoff || self.ctime >= cutoff
    }
}

#[derive(Debug, Default)]
pub struct DigestCache {
    entries: HashMap<String, (Stamp, blake3::Hash)>,
}

/// The cache file of `context_dir`; None when the user has no cache directory.
pub fn default_path(context_dir: &Path) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    let dir = std::fs::canonicalize(context_dir).unwrap_or_else(|_| context_dir.to_path_buf());
    let key = blake3::hash(dir.as_os_str().as_encoded_bytes()).to_hex();
    Some(
        base.join("lucidctl")
            .join("build-digests")
            .join(format!("{}.txt", &key[..32])),
    )
}

impl DigestCache {
    /// The cache at `path`; empty when it is missing or unusable.
    pub fn load(path: &Path) -> DigestCache {
        let mut cache = DigestCache::default();
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return cache;
        };
        if !meta.is_file() || meta.len() > MAX_BYTES {
            return cache;
        }
        let Ok(text) = std::fs::read_to_string(path) else {
            return cache;
        };
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return cache;
        }
        for line in lines {
            if let Some((path, stamp, hash)) = parse_line(line) {
                cache.entries.insert(path, (stamp, hash));
            }
        }
        cache
    }

    /// The digest of `rel_path` when its stamp is exactly the one it was hashed at.
    pub fn get(&self, rel_path: &str, stamp: &Stamp) -> Option<blake3::Hash> {
        match self.entries.get(rel_path) {
            Some((s, h)) if s == stamp => Some(*h),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether saving `walk` with `digests` would change the file: entries
    /// added, changed or gone.
    pub fn differs(
        &self,
        walk: &ContextWalk,
        digests: &[Option<blake3::Hash>],
        now: SystemTime,
    ) -> bool {
        let kept = cacheable(walk, digests, now);
        kept.len() != self.entries.len()
            || kept
                .iter()
                .any(|(f, h)| self.get(&f.rel_path, &f.stamp) != Some(*h))
    }
}

/// The files worth remembering: regular files not changed within RACY of `now`.
fn cacheable<'a>(
    walk: &'a ContextWalk,
    digests: &[Option<blake3::Hash>],
    now: SystemTime,
) -> Vec<(&'a ContextFile, blake3::Hash)> {
    let cutoff = now
        .checked_sub(RACY)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| (d.as_secs() as i64, i64::from(d.subsec_nanos())))
        .unwrap_or((0, 0));
    walk.files
        .iter()
        .zip(digests)
        .filter_map(|(f, d)| match (&f.kind, d) {
            // A name with a line break cannot be one line of the file: hashed every time.
            (FileKind::File, Some(h))
                if !f.stamp.changed_since(cutoff) && !f.rel_path.contains('\n') =>
            {
                Some((f, *h))
            }
            _ => None,
        })
        .collect()
}

/// Writes the cache for `walk` atomically (temporary file, then rename).
pub fn save(
    path: &Path,
    walk: &ContextWalk,
    digests: &[Option<blake3::Hash>],
    now: SystemTime,
) -> std::io::Result<()> {
    let mut text = String::from(HEADER);
    text.push('\n');
    for (f, h) in cacheable(walk, digests, now) {
        let s = &f.stamp;
        text.push_str(&format!(
            "{} {} {} {} {} {} {} {} {}\t{}\n",
            h.to_hex(),
            s.dev,
            s.ino,
            s.size,
            s.mtime.0,
            s.mtime.1,
            s.ctime.0,
            s.ctime.1,
            f.rel_path.len(),
            f.rel_path
        ));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = dir.join(crate::hostfiles::temp_name(path));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let written = f
        .write_all(text.as_bytes())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn parse_line(line: &str) -> Option<(String, Stamp, blake3::Hash)> {
    let (head, path) = line.split_once('\t')?;
    let mut it = head.split(' ');
    let hash = blake3::Hash::from_hex(it.next()?).ok()?;
    let mut field = || it.next();
    let u = |v: Option<&str>| v?.parse::<u64>().ok();
    let i = |v: Option<&str>| v?.parse::<i64>().ok();
    let (dev, ino, size) = (u(field())?, u(field())?, u(field())?);
    let mtime = (i(field())?, i(field())?);
    let ctime = (i(field())?, i(field())?);
    // The path's length guards against a line cut short.
    if u(field())? != path.len() as u64 {
        return None;
    }
    Some((
        path.to_string(),
        Stamp {
            dev,
            ino,
            size,
            mtime,
            ctime,
        },
        hash,
    ))
}
