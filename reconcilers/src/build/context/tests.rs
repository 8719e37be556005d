use super::*;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

/// A scratch directory under the system temp dir, removed on drop. Modes are
/// set explicitly so the umask can't change a hash.
struct Tree(PathBuf);

impl Tree {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("lucid-ctx-{}-{name}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Tree(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn dir(&self, rel: &str, mode: u32) -> &Self {
        let p = self.0.join(rel);
        fs::create_dir_all(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    fn file(&self, rel: &str, body: &[u8], mode: u32) -> &Self {
        let p = self.0.join(rel);
        fs::write(&p, body).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    fn link(&self, rel: &str, target: &str) -> &Self {
        let p = self.0.join(rel);
        let _ = fs::remove_file(&p);
        symlink(target, p).unwrap();
        self
    }

    /// The tree most tests use; `app.log` and `build/out.bin` are ignored.
    fn standard(name: &str) -> Self {
        let t = Tree::new(name);
        t.file("Dockerfile", b"FROM scratch\nCOPY . /\n", 0o644)
            .file(
                ".dockerignore",
                b"# build output\n*.log\nbuild/\n!build/keep.txt\n",
                0o644,
            )
            .dir("src", 0o755)
            .file("src/main.rs", b"fn main() {}\n", 0o644)
            .file("run.sh", b"#!/bin/sh\necho hi\n", 0o755)
            .file("app.log", b"noise", 0o644)
            .dir("build", 0o755)
            .file("build/out.bin", b"\x00\x01", 0o644)
            .file("build/keep.txt", b"keep me", 0o644)
            .link("link", "src/main.rs")
            .dir("empty", 0o700);
        t
    }

    fn hash(&self) -> String {
        hash_with(self, &BTreeMap::new(), None, None)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn hash_with(
    t: &Tree,
    args: &BTreeMap<String, String>,
    target: Option<&str>,
    platform: Option<&str>,
) -> String {
    let inputs = BuildInputs {
        context_dir: t.path(),
        dockerfile: "Dockerfile",
        args,
        target,
        platform,
    };
    build_hash(&inputs, &walk(t.path(), "Dockerfile").unwrap()).unwrap()
}

fn paths(w: &ContextWalk) -> Vec<&str> {
    w.files.iter().map(|f| f.rel_path.as_str()).collect()
}

#[test]
fn walk_applies_dockerignore_sorted_without_following_links() {
    let t = Tree::standard("walk");
    let w = walk(t.path(), "./Dockerfile").unwrap();
    assert_eq!(
        paths(&w),
        [
            ".dockerignore",
            "Dockerfile",
            "build/keep.txt",
            "empty",
            "link",
            "run.sh",
            "src",
            "src/main.rs"
        ]
    );
    let get = |p: &str| w.files.iter().find(|f| f.rel_path == p).unwrap();
    assert_eq!(get("link").kind, FileKind::Symlink("src/main.rs".into()));
    assert_eq!(get("empty").kind, FileKind::Dir);
    assert_eq!(get("empty").mode & 0o7777, 0o700);
    assert_eq!(get("run.sh").mode & 0o7777, 0o755);
    assert_eq!(get("run.sh").size, 18);
    assert_eq!(w.total_bytes, w.files.iter().map(|f| f.size).sum::<u64>());
}

#[test]
fn dockerfile_and_dockerignore_are_kept_even_when_ignored() {
    let t = Tree::new("kept");
    t.dir("docker", 0o755)
        .file("docker/Dockerfile", b"FROM scratch\n", 0o644)
        .file("docker/other", b"x", 0o644)
        .file(".dockerignore", b"*\n", 0o644)
        .file("a.txt", b"a", 0o644);
    let w = walk(t.path(), "docker/Dockerfile").unwrap();
    assert_eq!(paths(&w), [".dockerignore", "docker/Dockerfile"]);
}

#[test]
fn dockerfile_specific_ignore_file_replaces_the_root_one() {
    let t = Tree::new("specific");
    t.file("Dockerfile", b"FROM scratch\n", 0o644)
        .file(".dockerignore", b"a.txt\n", 0o644)
        .file("Dockerfile.dockerignore", b"b.txt\n", 0o644)
        .file("a.txt", b"a", 0o644)
        .file("b.txt", b"b", 0o644);
    let w = walk(t.path(), "Dockerfile").unwrap();
    assert_eq!(
        paths(&w),
        [
            ".dockerignore",
            "Dockerfile",
            "Dockerfile.dockerignore",
            "a.txt"
        ]
    );
}

#[test]
fn ignored_special_files_and_sockets_are_fine() {
    let t = Tree::new("special");
    t.file("Dockerfile", b"FROM scratch\n", 0o644);
    let _sock = std::os::unix::net::UnixListener::bind(t.path().join("app.sock")).unwrap();
    let fifo = t.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if made {
        let err = walk(t.path(), "Dockerfile").unwrap_err();
        assert!(
            matches!(&err, ContextError::UnsupportedFileType { path } if path == &fifo),
            "{err}"
        );
        t.file(".dockerignore", b"pipe\n", 0o644);
    }
    // The socket is skipped silently, as Docker does.
    assert!(paths(&walk(t.path(), "Dockerfile").unwrap())
        .iter()
        .all(|p| !p.contains("sock")));
}

#[test]
fn non_utf8_names_fail_unless_ignored() {
    let t = Tree::new("utf8");
    t.file("Dockerfile", b"FROM scratch\n", 0o644);
    fs::write(t.path().join(std::ffi::OsStr::from_bytes(b"bad\xff")), b"x").unwrap();
    assert!(matches!(
        walk(t.path(), "Dockerfile"),
        Err(ContextError::NonUtf8Path { .. })
    ));
    t.file(".dockerignore", b"bad*\n", 0o644);
    assert_eq!(
        paths(&walk(t.path(), "Dockerfile").unwrap()),
        [".dockerignore", "Dockerfile"]
    );
}

#[test]
fn typed_errors_name_the_problem() {
    let t = Tree::standard("errors");
    assert!(
        matches!(walk(t.path(), "Missing"), Err(ContextError::DockerfileMissing { path }) if path.ends_with("Missing"))
    );
    for bad in ["../Dockerfile", "/etc/Dockerfile", "", "."] {
        assert!(
            matches!(
                walk(t.path(), bad),
                Err(ContextError::DockerfileOutsideContext { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        walk(t.path(), "src"),
        Err(ContextError::DockerfileNotAFile { .. })
    ));
    t.file(".dockerignore", b"ok\n[oops\n", 0o644);
    match walk(t.path(), "Dockerfile") {
        Err(ContextError::BadDockerignore {
            path,
            line: 2,
            pattern,
            ..
        }) => {
            assert!(path.ends_with(".dockerignore"));
            assert_eq!(pattern, "[oops");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        walk(&t.path().join("nope"), "Dockerfile"),
        Err(ContextError::Io { .. })
    ));
}

#[test]
fn hash_ignores_what_the_build_cannot_see() {
    let t = Tree::standard("stable");
    let base = t.hash();
    assert_eq!(base.len(), 64);
    assert_eq!(t.hash(), base, "same tree, same hash");
    t.file("app.log", b"other noise, other length", 0o600)
        .file("build/out.bin", b"changed", 0o755);
    t.file("new.log", b"ignored too", 0o644);
    assert_eq!(t.hash(), base, "ignored files don't count");
    let old = SystemTime::now() - Duration::from_secs(86_400);
    for p in ["src/main.rs", "Dockerfile", "run.sh"] {
        fs::File::options()
            .write(true)
            .open(t.path().join(p))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    assert_eq!(t.hash(), base, "mtimes don't count");
}

#[test]
fn hash_follows_everything_the_build_can_see() {
    let t = Tree::standard("sensitive");
    let base = t.hash();
    let mut seen = vec![base.clone()];
    let mut expect_new = |h: String, what: &str| {
        assert!(!seen.contains(&h), "{what} did not change the hash");
        seen.push(h);
    };

    t.file("src/main.rs", b"fn main() {}!", 0o644);
    expect_new(t.hash(), "a changed byte");
    t.file("src/main.rs", b"fn main() {}\n", 0o755);
    expect_new(t.hash(), "chmod +x");
    t.file("src/main.rs", b"fn main() {}\n", 0o644);
    assert_eq!(t.hash(), base, "back to the original content and mode");
    t.link("link", "run.sh");
    expect_new(t.hash(), "a new symlink target");
    t.link("link", "src/main.rs").dir("empty/more", 0o755);
    expect_new(t.hash(), "a new empty dir");
    fs::remove_dir(t.path().join("empty/more")).unwrap();
    fs::rename(t.path().join("run.sh"), t.path().join("run2.sh")).unwrap();
    expect_new(t.hash(), "a rename");
    fs::rename(t.path().join("run2.sh"), t.path().join("run.sh")).unwrap();
    t.file(".dockerignore", b"# build output\n*.log\nbuild/\n", 0o644);
    expect_new(t.hash(), "an ignore file that now drops build/keep.txt");
    t.file(
        ".dockerignore",
        b"# build output\n*.log\nbuild/\n!build/keep.txt\n",
        0o644,
    );
    assert_eq!(t.hash(), base);

    let mut args = BTreeMap::new();
    expect_new(hash_with(&t, &args, Some(""), None), "an empty target");
    expect_new(hash_with(&t, &args, Some("prod"), None), "a target");
    expect_new(
        hash_with(&t, &args, None, Some("linux/arm64")),
        "a platform",
    );
    expect_new(
        hash_with(&t, &args, None, Some("linux/amd64")),
        "another platform",
    );
    args.insert("VERSION".into(), "1".into());
    expect_new(hash_with(&t, &args, None, None), "a build arg");
    args.insert("VERSION".into(), "2".into());
    expect_new(hash_with(&t, &args, None, None), "a build arg's value");
    // Length prefixes keep ("AB","") and ("A","B") apart.
    let one = BTreeMap::from([("AB".to_string(), String::new())]);
    let two = BTreeMap::from([("A".to_string(), "B".to_string())]);
    assert_ne!(
        hash_with(&t, &one, None, None),
        hash_with(&t, &two, None, None)
    );

    t.file("Dockerfile.dev", b"FROM scratch\n", 0o644);
    let dev = {
        let args = BTreeMap::new();
        let inputs = BuildInputs {
            context_dir: t.path(),
            dockerfile: "Dockerfile.dev",
            args: &args,
            target: None,
            platform: None,
        };
        build_hash(&inputs, &walk(t.path(), "Dockerfile.dev").unwrap()).unwrap()
    };
    expect_new(dev, "another Dockerfile");
}

/// Pins the scheme: if this fails, every user's images would be rebuilt by the
/// new version. Change SCHEME deliberately instead.
#[test]
fn golden_hash_is_stable() {
    let t = Tree::standard("golden");
    let args = BTreeMap::from([("VERSION".to_string(), "1.2.3".to_string())]);
    assert_eq!(
        hash_with(&t, &args, Some("prod"), Some("linux/amd64")),
        "ad53f861fb2ee905c1c2ac72d87aee08955f8d86153a2eee7e93f106d6923793"
    );
}

#[test]
fn files_changed_after_the_walk_are_caught() {
    let t = Tree::standard("changed");
    let w = walk(t.path(), "Dockerfile").unwrap();
    let args = BTreeMap::new();
    let inputs = BuildInputs {
        context_dir: t.path(),
        dockerfile: "Dockerfile",
        args: &args,
        target: None,
        platform: None,
    };
    for body in [&b"fn main() {}\n// grown"[..], b"fn"] {
        t.file("src/main.rs", body, 0o644);
        let err = build_hash(&inputs, &w).unwrap_err();
        assert!(
            matches!(&err, ContextError::ChangedDuringRead { path, expected: 13 } if path.ends_with("src/main.rs")),
            "{err}"
        );
        let err = write_tar(t.path(), &w, io::sink()).unwrap_err();
        assert!(
            matches!(&err, ContextError::ChangedDuringRead { expected: 13, .. }),
            "{err}"
        );
    }
}

fn tar_of(t: &Tree, w: &ContextWalk) -> Vec<u8> {
    let mut out = Vec::new();
    write_tar(t.path(), w, &mut out).unwrap();
    out
}

#[test]
fn tar_holds_exactly_the_walk_and_is_reproducible() {
    let t = Tree::standard("tar");
    let deep = format!("{}/file.txt", ["a-rather-long-directory-name"; 5].join("/"));
    t.dir(deep.rsplit_once('/').unwrap().0, 0o755)
        .file(&deep, b"deep", 0o644);
    // The Dockerfile is ignored here, and still sent.
    t.file(
        ".dockerignore",
        b"*.log\nbuild/\n!build/keep.txt\nDockerfile\n",
        0o644,
    );
    let w = walk(t.path(), "Dockerfile").unwrap();
    assert!(paths(&w).contains(&"Dockerfile"));
    let bytes = tar_of(&t, &w);

    let mut archive = tar::Archive::new(&bytes[..]);
    let mut seen = Vec::new();
    for (entry, f) in archive.entries().unwrap().zip(&w.files) {
        let mut entry = entry.unwrap();
        let path = entry
            .path()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches('/')
            .to_string();
        assert_eq!(path, f.rel_path);
        let h = entry.header();
        assert_eq!(
            (h.mtime().unwrap(), h.uid().unwrap(), h.gid().unwrap()),
            (0, 0, 0)
        );
        assert_eq!(h.mode().unwrap(), f.mode & 0o7777, "{path}");
        match &f.kind {
            FileKind::File => {
                assert_eq!(h.entry_type(), tar::EntryType::Regular);
                let mut body = Vec::new();
                entry.read_to_end(&mut body).unwrap();
                assert_eq!(body, fs::read(t.path().join(&f.rel_path)).unwrap());
            }
            FileKind::Dir => assert_eq!(h.entry_type(), tar::EntryType::Directory),
            FileKind::Symlink(target) => {
                assert_eq!(h.entry_type(), tar::EntryType::Symlink);
                assert_eq!(
                    entry.link_name().unwrap().unwrap().to_str().unwrap(),
                    target
                );
            }
        }
        seen.push(path);
    }
    assert_eq!(seen, paths(&w));
    assert!(seen.contains(&deep));

    // Same walk, same bytes; and mtimes don't leak in.
    fs::File::options()
        .write(true)
        .open(t.path().join("run.sh"))
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(7))
        .unwrap();
    assert_eq!(tar_of(&t, &walk(t.path(), "Dockerfile").unwrap()), bytes);
}

/// Not a benchmark (see examples/hash_bench.rs): checks that the parallel and
/// large-file paths agree with plain blake3.
#[test]
fn parallel_and_sequential_digests_agree() {
    let t = Tree::new("parallel");
    t.file("Dockerfile", b"FROM scratch\n", 0o644);
    let big: Vec<u8> = (0..(hash::LARGE_FILE as usize * 2 + 12_345))
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    t.file("big.bin", &big, 0o644);
    t.dir("many", 0o755);
    for i in 0..100 {
        t.file(&format!("many/{i}"), &vec![i as u8; i * 700], 0o644);
    }
    let w = walk(t.path(), "Dockerfile").unwrap();
    let parallel = hash::file_digests(t.path(), &w, true).unwrap();
    assert_eq!(parallel, hash::file_digests(t.path(), &w, false).unwrap());
    let at = w
        .files
        .iter()
        .position(|f| f.rel_path == "big.bin")
        .unwrap();
    assert_eq!(parallel[at], Some(blake3::hash(&big)));
    let at = w.files.iter().position(|f| f.rel_path == "many/7").unwrap();
    assert_eq!(parallel[at], Some(blake3::hash(&[7u8; 4900])));
}

/// The digest cache: a hit is used without reading the file, and any change
/// to the file (bytes of the same size, mode) or to the cache is a miss.
#[test]
fn the_digest_cache_saves_reads_and_never_outlives_a_change() {
    use digest_cache::DigestCache;
    let t = Tree::standard("digest-cache");
    let cache = t.path().with_extension("digests");
    let _cleanup = Tree(cache.clone());
    let args = BTreeMap::new();
    let inputs = BuildInputs {
        context_dir: t.path(),
        dockerfile: "Dockerfile",
        args: &args,
        target: None,
        platform: None,
    };
    let fresh = || walk(t.path(), "Dockerfile").unwrap();
    let w = fresh();
    let honest = build_hash(&inputs, &w).unwrap();
    // Files changed within RACY are hashed but not remembered.
    assert_eq!(build_hash_cached(&inputs, &w, &cache).unwrap(), honest);
    assert!(DigestCache::load(&cache).is_empty());

    // Remember a planted digest for src/main.rs, as if hashed an hour from now.
    let mut digests = hash::file_digests(t.path(), &w, false).unwrap();
    let at = w
        .files
        .iter()
        .position(|f| f.rel_path == "src/main.rs")
        .unwrap();
    digests[at] = Some(blake3::hash(b"planted"));
    let later = SystemTime::now() + Duration::from_secs(3600);
    digest_cache::save(&cache, &w, &digests, later).unwrap();
    let files = w.files.iter().filter(|f| f.kind == FileKind::File).count();
    assert_eq!(DigestCache::load(&cache).len(), files);
    let mode = fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_ne!(
        build_hash_cached(&inputs, &fresh(), &cache).unwrap(),
        honest,
        "the remembered digest was used, the file not read"
    );

    // Same size, other bytes: the stamp moved, so the file is read again.
    t.file("src/main.rs", b"fn main(){ }\n", 0o644);
    let w = fresh();
    assert_eq!(
        build_hash_cached(&inputs, &w, &cache).unwrap(),
        build_hash(&inputs, &w).unwrap()
    );

    // Plant again, then only chmod: the ctime moves, a miss.
    let mut digests = hash::file_digests(t.path(), &w, false).unwrap();
    digests[at] = Some(blake3::hash(b"planted"));
    digest_cache::save(&cache, &w, &digests, later).unwrap();
    fs::set_permissions(
        t.path().join("src/main.rs"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    fs::set_permissions(
        t.path().join("src/main.rs"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let w = fresh();
    assert_eq!(
        build_hash_cached(&inputs, &w, &cache).unwrap(),
        build_hash(&inputs, &w).unwrap()
    );

    // A corrupt or foreign cache is ignored, and the hash still right.
    for junk in ["garbage", "lucid-build-digests/v1\nzz 1 2\tsrc/main.rs\n"] {
        fs::write(&cache, junk).unwrap();
        assert_eq!(
            build_hash_cached(&inputs, &w, &cache).unwrap(),
            build_hash(&inputs, &w).unwrap()
        );
    }
}
