//! Host files over SFTP, on a channel of the engine's own SSH connection.

use super::{exclusive_dirs, removed, temp_name, FilesError, FilesFuture, HostFile, HostFiles};
use crate::remote::{error_chain, SshError, SshLink};
use futures_util::StreamExt;
use openssh_sftp_client::fs::Fs;
use openssh_sftp_client::metadata::{MetaDataBuilder, Permissions};
use openssh_sftp_client::{Sftp, SftpOptions};
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What a file on the host was last written as: content hash, mode and owner.
type Fingerprint = (blake3::Hash, u32, Option<(u32, u32)>);

pub struct SftpFiles {
    link: Arc<SshLink>,
    /// What this process last wrote or found, by path: a pass that would write
    /// the same bytes again skips the SFTP round trips (about 0.3 s per file).
    known: Mutex<HashMap<PathBuf, Fingerprint>>,
    /// Exclusive directories as this process last left them: listed again
    /// only when the names they should hold change.
    pruned: Mutex<HashMap<PathBuf, BTreeSet<OsString>>>,
}

impl SftpFiles {
    pub fn new(link: Arc<SshLink>) -> SftpFiles {
        SftpFiles {
            link,
            known: Mutex::new(HashMap::new()),
            pruned: Mutex::new(HashMap::new()),
        }
    }

    async fn open(&self, path: &Path) -> Result<Sftp, FilesError> {
        let session = self
            .link
            .session()
            .await
            .map_err(|e| files_error(path, e))?;
        Sftp::from_clonable_session(session, SftpOptions::default())
            .await
            .map_err(|e| files_error(path, self.sftp_error(e)))
    }

    /// The exclusive directories not known to hold exactly their names.
    fn unpruned(&self, files: &[HostFile]) -> Vec<(PathBuf, BTreeSet<OsString>)> {
        let pruned = self.pruned.lock().unwrap_or_else(|p| p.into_inner());
        exclusive_dirs(files)
            .into_iter()
            .filter(|(dir, keep)| pruned.get(dir) != Some(keep))
            .collect()
    }

    fn sftp_error(&self, e: openssh_sftp_client::Error) -> SshError {
        SshError::Sftp {
            target: self.link.target().to_string(),
            cause: error_chain(&e),
        }
    }
}

fn files_error(path: &Path, e: impl std::fmt::Display) -> FilesError {
    FilesError {
        path: path.to_path_buf(),
        cause: e.to_string(),
    }
}

impl HostFiles for SftpFiles {
    fn sync<'a>(&'a self, files: &'a [HostFile]) -> FilesFuture<'a, Vec<String>> {
        Box::pin(async move {
            let fingerprint = |f: &HostFile| (blake3::hash(&f.bytes), f.mode, f.owner);
            let stale: Vec<&HostFile> = {
                let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
                files
                    .iter()
                    .filter(|f| known.get(&f.path) != Some(&fingerprint(f)))
                    .collect()
            };
            let dirs = self.unpruned(files);
            let Some(first) = stale
                .first()
                .map(|f| f.path.as_path())
                .or(dirs.first().map(|(d, _)| d.as_path()))
            else {
                return Ok(Vec::new());
            };
            let sftp = self.open(first).await?;
            let mut fs = sftp.fs();
            let mut written = Vec::new();
            for f in stale {
                let result = put(&sftp, &mut fs, f).await;
                if result.is_ok() {
                    let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
                    known.insert(f.path.clone(), fingerprint(f));
                }
                match result {
                    Ok(true) => written.push(f.what.clone()),
                    Ok(false) => {}
                    Err(e) => {
                        drop(fs);
                        let _ = sftp.close().await;
                        return Err(files_error(&f.path, self.sftp_error(e)));
                    }
                }
            }
            for (dir, keep) in dirs {
                match prune(&mut fs, &dir, &keep).await {
                    Ok(gone) => {
                        written.extend(gone);
                        let mut pruned = self.pruned.lock().unwrap_or_else(|p| p.into_inner());
                        pruned.insert(dir, keep);
                    }
                    Err((path, e)) => {
                        drop(fs);
                        let _ = sftp.close().await;
                        return Err(files_error(&path, self.sftp_error(e)));
                    }
                }
            }
            // close() waits for every handle, the Fs included.
            drop(fs);
            let _ = sftp.close().await;
            Ok(written)
        })
    }

    fn stale<'a>(&'a self, files: &'a [HostFile]) -> FilesFuture<'a, Vec<String>> {
        Box::pin(async move {
            let fingerprint = |f: &HostFile| (blake3::hash(&f.bytes), f.mode, f.owner);
            let unknown: Vec<&HostFile> = {
                let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
                files
                    .iter()
                    .filter(|f| known.get(&f.path) != Some(&fingerprint(f)))
                    .collect()
            };
            let dirs = self.unpruned(files);
            let Some(first) = unknown
                .first()
                .map(|f| f.path.as_path())
                .or(dirs.first().map(|(d, _)| d.as_path()))
            else {
                return Ok(Vec::new());
            };
            let sftp = self.open(first).await?;
            let mut fs = sftp.fs();
            let mut stale = Vec::new();
            for f in unknown {
                if holds(&mut fs, f).await {
                    let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
                    known.insert(f.path.clone(), fingerprint(f));
                } else {
                    stale.push(f.what.clone());
                }
            }
            for (dir, keep) in dirs {
                match extras(&mut fs, &dir, &keep).await {
                    Ok(found) if found.is_empty() => {
                        let mut pruned = self.pruned.lock().unwrap_or_else(|p| p.into_inner());
                        pruned.insert(dir, keep);
                    }
                    Ok(found) => stale.extend(found.iter().map(|p| removed(p))),
                    Err((path, e)) => {
                        drop(fs);
                        let _ = sftp.close().await;
                        return Err(files_error(&path, self.sftp_error(e)));
                    }
                }
            }
            drop(fs);
            let _ = sftp.close().await;
            Ok(stale)
        })
    }

    fn free_bytes<'a>(&'a self, path: &'a Path) -> FilesFuture<'a, u64> {
        Box::pin(async move {
            let sftp = self.open(path).await?;
            let stat = sftp.fs().statvfs(path).await;
            let _ = sftp.close().await;
            let stat = stat.map_err(|e| files_error(path, self.sftp_error(e)))?;
            Ok(stat.bavail.saturating_mul(stat.frsize.max(1)))
        })
    }

    fn command<'a>(&'a self, argv: &'a [&'a str]) -> FilesFuture<'a, String> {
        Box::pin(async move {
            let program = Path::new(argv.first().copied().unwrap_or("true"));
            let session = self
                .link
                .session()
                .await
                .map_err(|e| files_error(program, e))?;
            let out = session
                .command(argv.first().copied().unwrap_or("true"))
                .args(&argv[1..])
                .output()
                .await
                .map_err(|e| files_error(program, error_chain(&e)))?;
            if !out.status.success() {
                return Err(files_error(
                    program,
                    format!(
                        "{}: {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                ));
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        })
    }
}

/// Writes one file unless it already holds the bytes and mode; see the
/// engine notes: create_new, chmod before any byte, fsync, posix-rename.
/// The remote file already holds `f`'s bytes with its mode and owner.
async fn holds(fs: &mut Fs, f: &HostFile) -> bool {
    if let Ok(meta) = fs.metadata(&f.path).await {
        let mode = meta.permissions().map(|p| p.as_raw().bits() & 0o7777);
        let owned = f
            .owner
            .is_none_or(|(u, g)| meta.uid() == Some(u) && meta.gid() == Some(g));
        if mode == Some(f.mode) && meta.len() == Some(f.bytes.len() as u64) && owned {
            if let Ok(current) = fs.read(&f.path).await {
                return current[..] == f.bytes[..];
            }
        }
    }
    false
}

async fn put(sftp: &Sftp, fs: &mut Fs, f: &HostFile) -> Result<bool, openssh_sftp_client::Error> {
    if holds(fs, f).await {
        return Ok(false);
    }
    let dir = f.path.parent().unwrap_or(Path::new("/"));
    create_dir_all(fs, dir).await?;
    let tmp = dir.join(temp_name(&f.path));
    let _ = fs.remove_file(&tmp).await;
    let mut file = sftp
        .options()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .await?;
    let written = async {
        file.set_permissions(Permissions::from(f.mode as u16))
            .await?;
        if let Some(owner) = f.owner {
            // Before any byte, as the mode: needs the SSH user to be root on the host.
            file.set_metadata(MetaDataBuilder::new().id(owner).create())
                .await?;
        }
        file.write_all(&f.bytes).await?;
        // Not every server has the fsync extension; the rename is still atomic.
        let _ = file.sync_all().await;
        file.close().await?;
        fs.rename(&tmp, &f.path).await
    }
    .await;
    if let Err(e) = written {
        // A full disk fails the write half-way: leave no partial temp file behind.
        let _ = fs.remove_file(&tmp).await;
        return Err(e);
    }
    Ok(true)
}

/// The files and symlinks in `dir` not named in `keep` (never a
/// directory); a missing directory has none.
async fn extras(
    fs: &mut Fs,
    dir: &Path,
    keep: &BTreeSet<OsString>,
) -> Result<Vec<PathBuf>, (PathBuf, openssh_sftp_client::Error)> {
    let Ok(listing) = fs.open_dir(dir).await else {
        return Ok(Vec::new());
    };
    let entries = listing.read_dir();
    let mut entries = std::pin::pin!(entries);
    let mut found = Vec::new();
    while let Some(entry) = entries.next().await {
        let entry = entry.map_err(|e| (dir.to_path_buf(), e))?;
        let name = entry.filename().as_os_str().to_os_string();
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        if is_dir || name == "." || name == ".." || keep.contains(&name) {
            continue;
        }
        found.push(dir.join(&name));
    }
    Ok(found)
}

/// Removes every file or symlink in `dir` not named in `keep`, as the local
/// prune does.
async fn prune(
    fs: &mut Fs,
    dir: &Path,
    keep: &BTreeSet<OsString>,
) -> Result<Vec<String>, (PathBuf, openssh_sftp_client::Error)> {
    let mut gone = Vec::new();
    for path in extras(fs, dir, keep).await? {
        fs.remove_file(&path).await.map_err(|e| (path.clone(), e))?;
        gone.push(removed(&path));
    }
    Ok(gone)
}

async fn create_dir_all(fs: &mut Fs, dir: &Path) -> Result<(), openssh_sftp_client::Error> {
    let mut missing: Vec<PathBuf> = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || fs.metadata(d).await.is_ok() {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    for d in missing.into_iter().rev() {
        fs.create_dir(&d).await?;
    }
    Ok(())
}
