//! Engine faults (issue 18): the engine host's disk fills up while apply
//! writes host files. `--files-dir` is a 512 KiB tmpfs of the test's own
//! (mounting needs root, as the CI runs; the test fails loudly otherwise).
//! A build context on a full disk is not covered here: the host files are
//! where lucidctl itself writes on the engine host.

use lucid_e2e::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted on `dir`, lazily unmounted on drop (a container may still
/// bind-mount a file from it until the TestEnv removes the container).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs on {} (this test needs root, as the CI runs): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn system(t: &TestEnv, conf: &[u8]) -> String {
    std::fs::write(t.state_dir.join("conf.txt"), conf).unwrap();
    [
        network("net"),
        doc("ConfigFile", "conf", "file: conf.txt\nmode: \"0644\"\n"),
        standin_service(
            "mounter",
            "net",
            8080,
            &[],
            "mounts:\n  - {configFile: conf, target: /conf.txt, readOnly: true}\n",
        ),
    ]
    .concat()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Writes zeros into `path` until the filesystem is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).is_ok() {}
}

#[test]
fn a_full_disk_fails_the_host_file_write_cleanly_and_keeps_the_previous_file() {
    let Some(t) = TestEnv::new("diskfull") else {
        return;
    };
    // Declared after `t`, so unmounted before the TestEnv cleans up.
    let _tmpfs = Tmpfs::mount(&t.files_dir, "512k");
    t.write("system.yaml", &system(&t, b"first\n"));
    t.apply_ok(&["--timeout", "60s"]);
    let conf = t.files_dir.join(&t.project).join("configs/conf");
    assert_eq!(std::fs::read(&conf).unwrap(), b"first\n");
    let before = t.ids(&["mounter"]);

    let filler = t.files_dir.join("filler");
    fill(&filler);
    let second: Vec<u8> = b"second\n".repeat(10_000);
    t.write("system.yaml", &system(&t, &second));
    let out = t.apply(&["--timeout", "60s"]);
    println!("apply on a full disk: {out:?}");
    assert_eq!(out.code(), 1, "a clear failure, not a panic: {out:?}");
    assert!(
        out.stderr.contains("No space left on device"),
        "the error says why: {out:?}"
    );
    assert!(
        out.stderr.contains(&conf.display().to_string()),
        "the error names the file: {out:?}"
    );
    assert!(
        out.stderr.contains("free space on the filesystem holding"),
        "and says what would fix it: {out:?}"
    );
    assert_eq!(
        std::fs::read(&conf).unwrap(),
        b"first\n",
        "the previous file is intact"
    );
    let leftovers: Vec<PathBuf> = files_under(&t.files_dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("lucidctl-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "nothing half-written: {leftovers:?}");
    assert_eq!(
        t.ids(&["mounter"]),
        before,
        "nothing was recreated on the engine"
    );
    assert!(running(&t.obj("mounter")), "the service still runs");

    // Space again: the next apply writes the file and recreates its user.
    std::fs::remove_file(&filler).unwrap();
    t.apply_ok(&["--timeout", "60s"]);
    assert_eq!(std::fs::read(&conf).unwrap(), second);
    assert_ne!(
        t.ids(&["mounter"]),
        before,
        "the mounting service was recreated"
    );
    t.assert_converged();
}
