//! The tar sent to the engine as the build context.

use super::*;
use std::fs::File;
use std::io::{Read, Write};

/// Writes an uncompressed tar of exactly the walked entries, in walk order,
/// with mtime 0, uid/gid 0 and no user names, so the same context always
/// gives the same bytes. Long names use GNU long-name records, which the
/// engine reads.
pub fn write_tar<W: Write>(
    context_dir: &Path,
    walk: &ContextWalk,
    out: W,
) -> Result<(), ContextError> {
    let mut tar = tar::Builder::new(out);
    for f in &walk.files {
        let tar_err = |source| ContextError::TarWrite {
            rel_path: f.rel_path.clone(),
            source,
        };
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mode(f.mode & 0o7777);
        header.set_size(0);
        match &f.kind {
            FileKind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                tar.append_data(&mut header, format!("{}/", f.rel_path), io::empty())
                    .map_err(tar_err)?;
            }
            FileKind::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                tar.append_link(&mut header, &f.rel_path, target)
                    .map_err(tar_err)?;
            }
            FileKind::File => {
                let path = context_dir.join(&f.rel_path);
                let changed = || ContextError::ChangedDuringRead {
                    path: path.clone(),
                    expected: f.size,
                };
                let file = File::open(&path).map_err(io_err(&path))?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(f.size);
                let mut body = ExactReader {
                    file,
                    left: f.size,
                    read_error: None,
                    short: false,
                };
                let written = tar.append_data(&mut header, &f.rel_path, &mut body);
                // A failed read surfaces from the tar crate as a write error;
                // report the cause instead.
                if let Some(e) = body.read_error.take() {
                    return Err(ContextError::Io { path, source: e });
                }
                if body.short {
                    return Err(changed());
                }
                written.map_err(tar_err)?;
                // The header promised `size` bytes; a file that grew since the
                // walk would otherwise be silently cut.
                if read_full(&mut body.file, &mut [0u8; 1]).map_err(io_err(&path))? != 0 {
                    return Err(changed());
                }
            }
        }
    }
    tar.into_inner()
        .and_then(|mut out| out.flush())
        .map_err(|source| ContextError::TarWrite {
            rel_path: "(end of archive)".to_string(),
            source,
        })
}

/// Yields exactly `left` bytes of `file`, recording why it couldn't.
struct ExactReader {
    file: File,
    left: u64,
    read_error: Option<io::Error>,
    /// The file ended early: it shrank since the walk.
    short: bool,
}

impl Read for ExactReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        match read_full(&mut self.file, &mut buf[..want]) {
            Ok(0) => {
                self.short = true;
                Err(io::ErrorKind::UnexpectedEof.into())
            }
            Ok(n) => {
                self.left -= n as u64;
                Ok(n)
            }
            Err(e) => {
                let kind = e.kind();
                self.read_error = Some(e);
                Err(kind.into())
            }
        }
    }
}
