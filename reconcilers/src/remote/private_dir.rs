//! Where the forwarded engine socket and the SSH control socket live.
//! Whoever can open the forwarded socket is root on the engine host, so the
//! directory is private (0700, ours) and per process. Directories of
//! processes that died without cleaning up are closed and removed.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub(super) fn for_this_process() -> Result<PathBuf, String> {
    let base = base_dir()?;
    ensure_private(&base)?;
    reap_dead(&base);
    let dir = base.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn base_dir() -> Result<PathBuf, String> {
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(run).join("lucidctl"));
    }
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .or_else(|_| std::env::temp_dir().metadata().map(|m| m.uid()))
        .map_err(|e| format!("cannot tell the user id: {e}"))?;
    Ok(std::env::temp_dir().join(format!("lucidctl-{uid}")))
}

fn ensure_private(dir: &Path) -> Result<(), String> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let ours = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    if !meta.is_dir() || ours.is_some_and(|uid| uid != meta.uid()) {
        return Err(format!(
            "{} exists but is not a directory of this user; remove it",
            dir.display()
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make {} private: {e}", dir.display()))?;
    }
    Ok(())
}

/// A master started with `-f` outlives a killed controller; ask it to exit.
fn reap_dead(base: &Path) {
    if !Path::new("/proc/self").exists() {
        return; // No way to tell which processes are alive.
    }
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let dir = entry.path();
        for master in masters(&dir) {
            let _ = std::process::Command::new("ssh")
                .arg("-S")
                .arg(&master)
                .args(["-O", "exit", "--", "lucidctl-stale"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn masters(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("master"))
        .filter(|m| m.exists())
        .collect()
}
