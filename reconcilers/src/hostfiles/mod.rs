//! Files kept on the engine host: the ConfigFiles services bind-mount, the
//! SecretSets' env files and a copy of the exported compose files (for an
//! operator's emergency `docker-compose`). One trait, two implementations:
//! the local filesystem, and SFTP over the engine's SSH connection; and the
//! one atomic write every local file write of lucidctl goes through.

mod sftp;

pub use sftp::SftpFiles;

/// Where an engine's host files go: SFTP for an `ssh://` engine, else this machine.
pub fn for_engine(engine: &crate::engine::Engine) -> Box<dyn HostFiles> {
    match engine.ssh_link() {
        Some(link) => Box::new(SftpFiles::new(link.clone())),
        None => Box::new(LocalFiles),
    }
}

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::future::Future;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {cause}")]
pub struct FilesError {
    pub path: PathBuf,
    pub cause: String,
}

pub type FilesFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, FilesError>> + Send + 'a>>;

/// One file to keep on the host.
#[derive(Clone)]
pub struct HostFile {
    /// What it is, for reports: `ConfigFile/mongod-conf`.
    pub what: String,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub mode: u32,
    /// uid and gid to own the file (secret files read by a service's user);
    /// None: whoever lucidctl runs as.
    pub owner: Option<(u32, u32)>,
    /// The file's directory holds only the files of one sync that say so;
    /// any other file in it is removed. A secret key no longer given to a
    /// service must not stay readable in the directory it mounts.
    pub exclusive_dir: bool,
}

/// The directories whose contents a sync decides, with the names each keeps.
pub(crate) fn exclusive_dirs(files: &[HostFile]) -> BTreeMap<PathBuf, BTreeSet<OsString>> {
    let mut dirs: BTreeMap<PathBuf, BTreeSet<OsString>> = BTreeMap::new();
    for f in files.iter().filter(|f| f.exclusive_dir) {
        if let (Some(dir), Some(name)) = (f.path.parent(), f.path.file_name()) {
            dirs.entry(dir.to_path_buf())
                .or_default()
                .insert(name.to_os_string());
        }
    }
    dirs
}

/// What a report says of a file a sync removed.
pub(crate) fn removed(path: &Path) -> String {
    format!("removed {} (no longer declared)", path.display())
}

/// The files and symlinks in `dir` not named in `keep` (never a
/// directory); a missing directory has none.
fn extras_local(dir: &Path, keep: &BTreeSet<OsString>) -> Result<Vec<PathBuf>, FilesError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(FilesError {
                path: dir.to_path_buf(),
                cause: with_hint(&e, dir),
            })
        }
    };
    Ok(entries
        .flatten()
        .filter(|e| !keep.contains(&e.file_name()) && !e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect())
}

/// Removes every file or symlink in `dir` not named in `keep`; never
/// follows a symlink, never descends into a directory.
fn prune_local(dir: &Path, keep: &BTreeSet<OsString>) -> Result<Vec<String>, FilesError> {
    let mut gone = Vec::new();
    for path in extras_local(dir, keep)? {
        match std::fs::remove_file(&path) {
            Ok(()) => gone.push(removed(&path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(FilesError {
                    path: path.clone(),
                    cause: with_hint(&e, &path),
                })
            }
        }
    }
    Ok(gone)
}

// Env files hold secrets: never print the bytes.
impl std::fmt::Debug for HostFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HostFile({}, {}, {:o}, {:?})",
            self.what,
            self.path.display(),
            self.mode,
            self.owner
        )
    }
}

pub trait HostFiles: Send + Sync {
    /// Writes each file atomically (temporary file, then rename) with its
    /// mode, unless it already holds those bytes with that mode. Returns what it wrote.
    fn sync<'a>(&'a self, files: &'a [HostFile]) -> FilesFuture<'a, Vec<String>>;
    /// What `sync` would write, without writing: the files whose bytes, mode
    /// or owner differ on the host (or that are missing). An implementation
    /// that cannot tell cheaply names them all.
    fn stale<'a>(&'a self, files: &'a [HostFile]) -> FilesFuture<'a, Vec<String>> {
        Box::pin(async move { Ok(files.iter().map(|f| f.what.clone()).collect()) })
    }
    /// Free bytes on the filesystem holding `path`.
    fn free_bytes<'a>(&'a self, path: &'a Path) -> FilesFuture<'a, u64>;
    /// Runs a command on the host and returns its stdout if it exits 0.
    fn command<'a>(&'a self, argv: &'a [&'a str]) -> FilesFuture<'a, String>;
}

/// The engine runs on this machine: the local filesystem.
pub struct LocalFiles;

impl HostFiles for LocalFiles {
    fn sync<'a>(&'a self, files: &'a [HostFile]) -> FilesFuture<'a, Vec<String>> {
        Box::pin(async move {
            let mut written = Vec::new();
            for f in files {
                if write_local_owned(&f.path, &f.bytes, f.mode, f.owner)? {
                    written.push(f.what.clone());
                }
            }
            for (dir, keep) in exclusive_dirs(files) {
                written.extend(prune_local(&dir, &keep)?);
            }
            Ok(written)
        })
    }

    fn stale<'a>(&'a self, files: &'a [HostFile]) -> FilesFuture<'a, Vec<String>> {
        Box::pin(async move {
            let mut stale: Vec<String> = files
                .iter()
                .filter(|f| !local_matches(&f.path, &f.bytes, f.mode, f.owner))
                .map(|f| f.what.clone())
                .collect();
            for (dir, keep) in exclusive_dirs(files) {
                stale.extend(extras_local(&dir, &keep)?.iter().map(|p| removed(p)));
            }
            Ok(stale)
        })
    }

    fn free_bytes<'a>(&'a self, path: &'a Path) -> FilesFuture<'a, u64> {
        Box::pin(async move {
            let out = local_command(&["df", "-Pk", "--", &path.display().to_string()]).await?;
            parse_df_available(&out).ok_or_else(|| FilesError {
                path: path.to_path_buf(),
                cause: format!("unexpected df output: {out:?}"),
            })
        })
    }

    fn command<'a>(&'a self, argv: &'a [&'a str]) -> FilesFuture<'a, String> {
        Box::pin(local_command(argv))
    }
}

async fn local_command(argv: &[&str]) -> Result<String, FilesError> {
    let err = |cause: String| FilesError {
        path: PathBuf::from(argv.first().copied().unwrap_or("")),
        cause,
    };
    let out = tokio::process::Command::new(argv.first().copied().unwrap_or("true"))
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        return Err(err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Available bytes from `df -Pk` output (1024-byte blocks, fourth column).
pub fn parse_df_available(out: &str) -> Option<u64> {
    let line = out.lines().nth(1)?;
    let kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib * 1024)
}

/// Writes `bytes` atomically with `mode` unless the file already holds them. Returns whether it wrote.
pub fn write_local(path: &Path, bytes: &[u8], mode: u32) -> Result<bool, FilesError> {
    write_local_owned(path, bytes, mode, None)
}

/// `write_local`, and the file is owned by `owner` (uid, gid) when given.
pub fn write_local_owned(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<bool, FilesError> {
    let err = |e: std::io::Error| FilesError {
        path: path.to_path_buf(),
        cause: with_hint(&e, path),
    };
    if local_matches(path, bytes, mode, owner) {
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(err)?;
    let tmp = dir.join(temp_name(path));
    // The mode is set at creation, so the bytes are never readable more widely than declared;
    // create_new never follows or reuses what someone else put there.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| FilesError {
            path: path.to_path_buf(),
            cause: format!(
                "cannot create the temporary file {} beside it: {e}",
                tmp.display()
            ),
        })?;
    if let Some((uid, gid)) = owner {
        // Before any byte is written, so the file never holds the value under another owner.
        if let Err(e) = std::os::unix::fs::fchown(&f, Some(uid), Some(gid)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(FilesError {
                path: path.to_path_buf(),
                cause: format!(
                    "cannot give it to uid {uid} gid {gid}: {e} (changing a file's owner needs root)"
                ),
            });
        }
    }
    let written = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        // A full disk fails the write half-way: leave neither a partial temp file nor
        // less free space behind. The previous file was never touched.
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(true)
}

/// The file at `path` already holds `bytes` with `mode` (and `owner`). The
/// size is compared first, so a changed file of another length is not read.
fn local_matches(path: &Path, bytes: &[u8], mode: u32, owner: Option<(u32, u32)>) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let owned = owner.is_none_or(|(u, g)| meta.uid() == u && meta.gid() == g);
    meta.is_file()
        && meta.len() == bytes.len() as u64
        && meta.permissions().mode() & 0o7777 == mode
        && owned
        && std::fs::read(path).is_ok_and(|current| current == bytes)
}

/// The error, and for a full disk what would fix it.
fn with_hint(e: &std::io::Error, path: &Path) -> String {
    if e.kind() == std::io::ErrorKind::StorageFull {
        let dir = path.parent().unwrap_or(Path::new("/"));
        return format!(
            "{e}; free space on the filesystem holding {} and apply again (the previous file is unchanged)",
            dir.display()
        );
    }
    e.to_string()
}

/// A temp name nobody can guess ahead: a name known in advance (the process
/// id) let anyone who can write the directory block the write or race it.
pub(crate) fn temp_name(path: &Path) -> String {
    let mut random = [0u8; 12];
    let suffix = match getrandom::fill(&mut random) {
        Ok(()) => random
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        // No random source: fall back to the clock, still not known in advance.
        Err(_) => format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ),
    };
    format!(
        ".{}.lucidctl-tmp-{suffix}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_cannot_be_taken_in_advance() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join(".env.core");
        // What the old, pid-based name would have been, taken by someone else.
        let old = t
            .path()
            .join(format!("..env.core.lucidctl-tmp-{}", std::process::id()));
        std::fs::create_dir(&old).unwrap();
        assert!(write_local(&path, b"K=v\n", 0o600).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"K=v\n");
        assert_ne!(temp_name(&path), temp_name(&path));
        let leftovers: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    }

    #[test]
    fn an_owned_file_gets_its_owner_before_its_bytes_and_is_rewritten_for_a_new_owner() {
        use std::os::unix::fs::MetadataExt;
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("KEY");
        let me = std::fs::metadata(t.path()).unwrap();
        let mine = (me.uid(), me.gid());
        assert!(write_local_owned(&path, b"v", 0o400, Some(mine)).unwrap());
        assert!(!write_local_owned(&path, b"v", 0o400, Some(mine)).unwrap());
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o400);
        if mine.0 == 0 {
            // Only root can give files away.
            assert!(write_local_owned(&path, b"v", 0o400, Some((4321, 4321))).unwrap());
            let meta = std::fs::metadata(&path).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (4321, 4321));
        } else {
            let e = write_local_owned(&path, b"w", 0o400, Some((4321, 4321))).unwrap_err();
            assert!(e.to_string().contains("uid 4321"), "{e}");
        }
    }

    #[tokio::test]
    async fn a_secret_file_no_longer_declared_is_removed_and_nothing_else_is() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("secrets/web/tls");
        let file = |name: &str, exclusive_dir: bool, path: PathBuf| HostFile {
            what: name.to_string(),
            path,
            bytes: b"value".to_vec(),
            mode: 0o400,
            owner: None,
            exclusive_dir,
        };
        let key_a = file("A", true, dir.join("KEY_A"));
        let key_b = file("B", true, dir.join("KEY_B"));
        let conf = file("conf", false, t.path().join("conf/app.conf"));
        let outside = t.path().join("outside");
        std::fs::write(&outside, b"not ours").unwrap();
        LocalFiles
            .sync(&[key_a.clone(), key_b, conf.clone()])
            .await
            .unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();
        std::fs::write(t.path().join("conf/other"), b"kept").unwrap();

        let pending = LocalFiles
            .stale(&[key_a.clone(), conf.clone()])
            .await
            .unwrap();
        assert!(
            pending.iter().any(|r| r.contains("KEY_B")) && dir.join("KEY_B").exists(),
            "a no-op check sees the stale file, and leaves it to sync: {pending:?}"
        );
        let report = LocalFiles.sync(&[key_a, conf]).await.unwrap();
        let mut left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["KEY_A", "sub"],
            "KEY_B and the symlink are gone, a directory stays"
        );
        assert_eq!(
            std::fs::read(&outside).unwrap(),
            b"not ours",
            "a symlink is not followed"
        );
        assert!(
            t.path().join("conf/other").exists(),
            "a directory not exclusive is left alone"
        );
        assert!(
            report
                .iter()
                .any(|r| r.contains("KEY_B") && r.starts_with("removed ")),
            "{report:?}"
        );
    }

    #[test]
    fn a_failed_write_leaves_no_temp_file_and_the_target_as_it_was() {
        let t = tempfile::tempdir().unwrap();
        // A directory in the file's place makes the final rename fail after the bytes
        // were written, as a full disk fails a write half-way.
        let path = t.path().join("conf");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("kept"), b"old").unwrap();
        let e = write_local(&path, b"new bytes", 0o640).unwrap_err();
        assert_eq!(e.path, path);
        let names: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("conf")],
            "no temp file left"
        );
        assert_eq!(std::fs::read(path.join("kept")).unwrap(), b"old");
    }

    #[test]
    fn stale_names_what_sync_would_write_and_writes_nothing() {
        let t = tempfile::tempdir().unwrap();
        let file = |name: &str, bytes: &[u8], mode: u32| HostFile {
            what: name.to_string(),
            path: t.path().join(name),
            bytes: bytes.to_vec(),
            mode,
            owner: None,
            exclusive_dir: false,
        };
        let files = vec![file("a", b"one", 0o644), file("b", b"two", 0o600)];
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let stale = |files: &[HostFile]| rt.block_on(LocalFiles.stale(files)).unwrap();
        assert_eq!(stale(&files), ["a", "b"], "missing files are stale");
        assert!(!t.path().join("a").exists(), "stale writes nothing");
        rt.block_on(LocalFiles.sync(&files)).unwrap();
        assert!(stale(&files).is_empty());
        // Same length, other bytes; then the right bytes with another mode.
        std::fs::write(t.path().join("a"), b"ONE").unwrap();
        std::fs::set_permissions(t.path().join("b"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        assert_eq!(stale(&files), ["a", "b"]);
    }

    #[test]
    fn df_output_parses_to_bytes() {
        let out = "Filesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/sda1       102400000  51200000  40960000      56% /\n";
        assert_eq!(parse_df_available(out), Some(40960000 * 1024));
        assert_eq!(parse_df_available("garbage"), None);
    }

    #[test]
    fn host_file_debug_never_shows_the_bytes() {
        let f = HostFile {
            exclusive_dir: false,
            what: "SecretSet/core env file".into(),
            path: "/x/.env.core".into(),
            bytes: b"JWT_SECRET=hunter2".to_vec(),
            mode: 0o600,
            owner: None,
        };
        assert!(!format!("{f:?}").contains("hunter2"));
    }
}
