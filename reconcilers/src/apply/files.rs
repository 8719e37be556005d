//! Config files placed on the engine host for bind mounts. One trait, so the
//! same apply writes locally or, for a remote Pi, over SFTP.

use crate::prepare::ConfigContent;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {cause}")]
pub struct FilesError {
    pub path: PathBuf,
    pub cause: String,
}

pub trait HostFiles: Send + Sync {
    /// Writes `bytes` atomically with `mode` unless the file already holds them. Returns whether it wrote.
    fn put(&self, path: &Path, bytes: &[u8], mode: u32) -> Result<bool, FilesError>;
}

/// The engine runs on this machine: write to the local filesystem.
pub struct LocalFiles;

impl HostFiles for LocalFiles {
    fn put(&self, path: &Path, bytes: &[u8], mode: u32) -> Result<bool, FilesError> {
        let err = |e: std::io::Error| FilesError {
            path: path.to_path_buf(),
            cause: e.to_string(),
        };
        if let (Ok(current), Ok(meta)) = (std::fs::read(path), std::fs::metadata(path)) {
            if current == bytes && meta.permissions().mode() & 0o7777 == mode {
                return Ok(false);
            }
        }
        let dir = path.parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(dir).map_err(err)?;
        let tmp = dir.join(format!(
            ".{}.lucidctl-tmp-{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&tmp);
        // The mode is set at creation, so the bytes are never readable more widely than declared.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(err)?;
        f.write_all(bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)?;
        Ok(true)
    }
}

/// Places every config file where rendered containers expect it.
pub fn sync_configs(
    files: &dyn HostFiles,
    inputs: &crate::render::Inputs,
    configs: &BTreeMap<String, ConfigContent>,
) -> Result<Vec<String>, FilesError> {
    let mut written = Vec::new();
    for (name, c) in configs {
        if files.put(Path::new(&inputs.config_path(name)), &c.bytes, c.mode)? {
            written.push(name.clone());
        }
    }
    Ok(written)
}
