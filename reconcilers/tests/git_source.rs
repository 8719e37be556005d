//! Issue 18, defect 1: `run --branch '--upload-pack=...'` ran a command. The
//! branch and URL are checked before git sees them, and a real fetch of a
//! real repository still works.

use reconcilers::run::GitSource;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .status()
        .expect("git runs")
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn a_branch_or_url_that_is_an_option_runs_nothing_and_a_real_branch_is_fetched() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("a.yaml"), "x: 1\n").expect("write");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    let url = format!("file://{}", repo.display());
    let marker = tmp.path().join("pwned");
    let hostile = format!("--upload-pack=touch {};", marker.display());
    for (url, branch) in [
        (url.as_str(), hostile.as_str()),
        (hostile.as_str(), "main"),
        ("ext::sh -c touch% /tmp/lucid-pwned", "main"),
    ] {
        let source = GitSource::new(url, branch, &tmp.path().join("cache"));
        let err = source.sync().expect_err("refused");
        assert!(
            err.contains("nothing was fetched") || err.contains("not usable"),
            "{err}"
        );
        assert!(!marker.exists(), "a command ran for {url:?} {branch:?}");
    }
    assert!(!Path::new("/tmp/lucid-pwned").exists());
    let good = GitSource::new(&url, "main", &tmp.path().join("cache2"));
    let commit = good.sync().expect("a real branch is fetched");
    assert_eq!(commit.len(), 40);
    assert!(good.checkout.join("a.yaml").is_file());
}
