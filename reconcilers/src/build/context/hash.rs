//! The build hash, with files digested in parallel and combined in walk order.

use super::*;
use rayon::prelude::*;
use std::fs::File;

/// Large enough for blake3's SIMD to run at full width on one thread.
const SMALL_BUF: usize = 64 << 10;
/// Files at least this big are also hashed with several threads inside the
/// file; below it, spreading files across threads is enough.
pub(super) const LARGE_FILE: u64 = 4 << 20;
/// Read size for large files; a power of two so blake3 can split it evenly.
const LARGE_BUF: usize = 2 << 20;
/// Below both, waking the thread pool costs more than it saves.
const PARALLEL_MIN_FILES: usize = 64;
const PARALLEL_MIN_BYTES: u64 = 1 << 20;

/// The build hash: 64 hex digits of blake3 over `SCHEME`, the Dockerfile
/// path, build args, target, platform, and every walked entry in order (kind,
/// path, mode, and size plus content digest or symlink target). Every field is
/// length-prefixed or fixed-width, so no two inputs share an encoding.
/// mtimes, owners and ignored files play no part.
pub fn build_hash(inputs: &BuildInputs, walk: &ContextWalk) -> Result<String, ContextError> {
    let dockerfile = normalize_dockerfile(inputs.dockerfile)?;
    check_dockerfile(inputs.context_dir, &walk.files, &dockerfile)?;
    let parallel = walk.files.len() >= PARALLEL_MIN_FILES || walk.total_bytes >= PARALLEL_MIN_BYTES;
    let digests = file_digests(inputs.context_dir, walk, parallel)?;
    Ok(combine(inputs, &dockerfile, walk, &digests))
}

/// `build_hash`, reading only the files whose digest the cache at `cache`
/// does not hold for their current stamp, and saving what it learnt. The
/// result is the same hash: the cache only saves reads. A cache that cannot
/// be written costs the next run its reads, never an error.
pub fn build_hash_cached(
    inputs: &BuildInputs,
    walk: &ContextWalk,
    cache: &Path,
) -> Result<String, ContextError> {
    let dockerfile = normalize_dockerfile(inputs.dockerfile)?;
    check_dockerfile(inputs.context_dir, &walk.files, &dockerfile)?;
    let known = digest_cache::DigestCache::load(cache);
    let digests = cached_digests(inputs.context_dir, walk, &known)?;
    let now = std::time::SystemTime::now();
    if known.differs(walk, &digests, now) {
        if let Err(e) = digest_cache::save(cache, walk, &digests, now) {
            tracing::debug!("build digest cache {} not saved: {e}", cache.display());
        }
    }
    Ok(combine(inputs, &dockerfile, walk, &digests))
}

/// Digests from the cache where the stamp matches; the rest read and hashed.
pub(super) fn cached_digests(
    context_dir: &Path,
    walk: &ContextWalk,
    known: &digest_cache::DigestCache,
) -> Result<Vec<Option<blake3::Hash>>, ContextError> {
    let mut digests: Vec<Option<blake3::Hash>> = Vec::with_capacity(walk.files.len());
    let mut missing = ContextWalk::default();
    let mut slots = Vec::new();
    for (i, f) in walk.files.iter().enumerate() {
        let hit = match f.kind {
            FileKind::File => known.get(&f.rel_path, &f.stamp),
            _ => None,
        };
        if hit.is_none() && f.kind == FileKind::File {
            missing.files.push(f.clone());
            missing.total_bytes += f.size;
            slots.push(i);
        }
        digests.push(hit);
    }
    if !missing.files.is_empty() {
        let parallel =
            missing.files.len() >= PARALLEL_MIN_FILES || missing.total_bytes >= PARALLEL_MIN_BYTES;
        for (slot, d) in slots
            .into_iter()
            .zip(file_digests(context_dir, &missing, parallel)?)
        {
            digests[slot] = d;
        }
    }
    Ok(digests)
}

fn combine(
    inputs: &BuildInputs,
    dockerfile: &str,
    walk: &ContextWalk,
    digests: &[Option<blake3::Hash>],
) -> String {
    let mut h = blake3::Hasher::new();
    put_str(&mut h, SCHEME);
    put_str(&mut h, dockerfile);
    put_u64(&mut h, inputs.args.len() as u64);
    for (k, v) in inputs.args {
        put_str(&mut h, k);
        put_str(&mut h, v);
    }
    for opt in [inputs.target, inputs.platform] {
        match opt {
            None => {
                h.update(&[0]);
            }
            Some(s) => {
                h.update(&[1]);
                put_str(&mut h, s);
            }
        }
    }
    put_u64(&mut h, walk.files.len() as u64);
    for (f, digest) in walk.files.iter().zip(digests) {
        let tag = match f.kind {
            FileKind::File => b'f',
            FileKind::Dir => b'd',
            FileKind::Symlink(_) => b'l',
        };
        h.update(&[tag]);
        put_str(&mut h, &f.rel_path);
        h.update(&f.mode.to_le_bytes());
        match &f.kind {
            FileKind::File => {
                put_u64(&mut h, f.size);
                h.update(digest.as_ref().map_or(&[0u8; 32], |d| d.as_bytes()));
            }
            FileKind::Symlink(target) => put_str(&mut h, target),
            FileKind::Dir => {}
        }
    }
    h.finalize().to_hex().to_string()
}

fn put_u64(h: &mut blake3::Hasher, n: u64) {
    h.update(&n.to_le_bytes());
}

fn put_str(h: &mut blake3::Hasher, s: &str) {
    put_u64(h, s.len() as u64);
    h.update(s.as_bytes());
}

/// One digest per walked entry (None for non-files), in walk order whatever
/// the scheduling, so the combined hash never depends on it.
pub(super) fn file_digests(
    context_dir: &Path,
    walk: &ContextWalk,
    parallel: bool,
) -> Result<Vec<Option<blake3::Hash>>, ContextError> {
    let one = |buf: &mut Vec<u8>, f: &ContextFile| match f.kind {
        FileKind::File => hash_file(&context_dir.join(&f.rel_path), f.size, buf).map(Some),
        _ => Ok(None),
    };
    if parallel {
        // rayon rather than a hand-rolled pool: blake3's in-file parallelism
        // (`update_rayon`) runs on rayon anyway, and one work-stealing pool
        // shares the cores between "many files" and "one big file" without
        // oversubscribing them.
        walk.files
            .par_iter()
            .map_init(|| vec![0u8; SMALL_BUF], one)
            .collect()
    } else {
        let mut buf = vec![0u8; SMALL_BUF];
        walk.files.iter().map(|f| one(&mut buf, f)).collect()
    }
}

/// Streams one file into blake3. Large files are read in big blocks, each
/// hashed on several threads while the next one is read. Not mmap: a file
/// truncated under a mapping kills the process with SIGBUS.
fn hash_file(path: &Path, expected: u64, buf: &mut [u8]) -> Result<blake3::Hash, ContextError> {
    let mut file = File::open(path).map_err(io_err(path))?;
    let mut h = blake3::Hasher::new();
    let mut total = 0u64;
    if expected < LARGE_FILE {
        loop {
            let n = read_full(&mut file, buf).map_err(io_err(path))?;
            h.update(&buf[..n]);
            total += n as u64;
            if n < buf.len() || total > expected {
                break;
            }
        }
    } else {
        let (mut cur, mut next) = (vec![0u8; LARGE_BUF], vec![0u8; LARGE_BUF]);
        let mut n = read_full(&mut file, &mut cur).map_err(io_err(path))?;
        while n > 0 && total <= expected {
            let (_, read) = rayon::join(
                || h.update_rayon(&cur[..n]),
                || read_full(&mut file, &mut next),
            );
            total += n as u64;
            n = read.map_err(io_err(path))?;
            std::mem::swap(&mut cur, &mut next);
        }
    }
    if total != expected {
        return Err(ContextError::ChangedDuringRead {
            path: path.to_path_buf(),
            expected,
        });
    }
    Ok(h.finalize())
}
