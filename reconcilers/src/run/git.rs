//! The GitOps source: fetch with the git CLI into a cache directory and check
//! out the exact commit, so what is applied is a named revision.
//!
//! Every value that reaches git is hostile until checked: the branch must be
//! a valid branch name (never an option), the URL one of the transports git
//! runs no command for, positional arguments come after `--`, and the fetch
//! names `refs/heads/<branch>` explicitly.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct GitSource {
    pub url: String,
    pub branch: String,
    pub checkout: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitRefError {
    #[error("--branch {0:?} is not a valid branch name (see git check-ref-format --branch); nothing was fetched")]
    Branch(String),
    #[error(
        "--git URL is not usable: {0}; use https://, ssh://, git://, file:// or user@host:path"
    )]
    Url(String),
}

/// A branch name as `git check-ref-format --branch` accepts it, minus the
/// forms that could be read as anything else (a leading `-`, `@{`).
pub fn check_branch(name: &str) -> Result<(), GitRefError> {
    let bad = || Err(GitRefError::Branch(name.chars().take(100).collect()));
    if name.is_empty()
        || name.starts_with('-')
        || name.starts_with('/')
        || name.ends_with('/')
        || name.ends_with('.')
        || name.ends_with(".lock")
        || name.contains("..")
        || name.contains("//")
        || name.contains("@{")
        || name == "@"
        || name.len() > 255
    {
        return bad();
    }
    let forbidden = |c: char| c.is_control() || c == ' ' || "~^:?*[\\".contains(c);
    if name.chars().any(forbidden) || name.split('/').any(|part| part.starts_with('.')) {
        return bad();
    }
    Ok(())
}

/// Transports that run no command of the URL's choosing (`ext::` does), and
/// nothing git could take for an option.
pub fn check_url(url: &str) -> Result<(), GitRefError> {
    let bad = |why: &str| Err(GitRefError::Url(why.to_string()));
    if url.is_empty() || url.starts_with('-') {
        return bad("it is empty or starts with '-'");
    }
    if url.chars().any(|c| c.is_control()) {
        return bad("it contains control characters");
    }
    let scheme_ok = ["https://", "http://", "ssh://", "git://", "file://"]
        .iter()
        .any(|s| url.starts_with(s));
    let scp_like = !url.contains("://")
        && url
            .split_once(':')
            .is_some_and(|(host, _)| !host.is_empty() && !host.contains('/'));
    let local_path = url.starts_with('/');
    if url.contains("::") {
        return bad("remote helpers (`transport::address`) are not allowed");
    }
    if scheme_ok || scp_like || local_path {
        Ok(())
    } else {
        bad("unknown transport")
    }
}

/// The URL without credentials, for logs and errors: `https://host/path`.
pub fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

/// A `--path` inside the checkout: relative, without `..`.
pub fn check_path(path: &Path) -> Result<(), String> {
    let leaves = path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
    if leaves {
        return Err(format!(
            "--path {} must be relative and stay inside the repository",
            path.display()
        ));
    }
    Ok(())
}

/// A full SHA-1 or SHA-256 commit id (never an option or a ref expression).
fn is_commit_id(commit: &str) -> bool {
    (commit.len() == 40 || commit.len() == 64) && commit.chars().all(|c| c.is_ascii_hexdigit())
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        // Belt and braces: git's default already refuses ext::.
        .args(["-c", "protocol.ext.allow=never"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {}: {}",
            args.first().copied().unwrap_or(""),
            String::from_utf8_lossy(&out.stderr)
                .trim()
                .chars()
                .map(|c| if c.is_control() && c != '\n' { '?' } else { c })
                .take(500)
                .collect::<String>()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl GitSource {
    /// The cache is named by a hash of the URL: never the URL itself, which
    /// may carry a token, and never shared by two URLs.
    pub fn new(url: &str, branch: &str, cache_dir: &Path) -> GitSource {
        let hash = blake3::hash(url.trim().as_bytes()).to_hex();
        GitSource {
            url: url.to_string(),
            branch: branch.to_string(),
            checkout: cache_dir.join(format!("repo-{}", &hash[..16])),
        }
    }

    /// Errors and logs name the repository without its credentials.
    fn redacted(&self, text: String) -> String {
        text.replace(&self.url, &without_credentials(&self.url))
    }

    /// `commits` by committer time, newest first; ids that are no commit of
    /// the cache go last, in their given order. The cache is fetched with
    /// `--depth 1`, so it holds the commits but not their ancestry: the date
    /// is what orders them.
    pub fn newest_first(&self, commits: &[String]) -> Vec<String> {
        let mut dated: Vec<(Option<i64>, usize, &String)> = commits
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let time = is_commit_id(c)
                    .then(|| git(&self.checkout, &["show", "-s", "--format=%ct", c, "--"]).ok())
                    .flatten()
                    .and_then(|t| t.parse().ok());
                (time, i, c)
            })
            .collect();
        dated.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        dated.into_iter().map(|(_, _, c)| c.clone()).collect()
    }

    /// Checks out a commit already in the cache (one fetched before).
    pub fn checkout_commit(&self, commit: &str) -> Result<(), String> {
        if !is_commit_id(commit) {
            return Err(format!(
                "{:?} is not a commit id",
                commit.chars().take(80).collect::<String>()
            ));
        }
        git(
            &self.checkout,
            &["checkout", "-q", "--force", "--detach", commit, "--"],
        )
        .map(|_| ())
    }

    /// Fetches and checks out the branch's newest commit; returns it.
    pub fn sync(&self) -> Result<String, String> {
        self.sync_inner().map_err(|e| self.redacted(e))
    }

    fn sync_inner(&self) -> Result<String, String> {
        check_branch(&self.branch).map_err(|e| e.to_string())?;
        check_url(&self.url).map_err(|e| e.to_string())?;
        if !self.checkout.join(".git").exists() {
            std::fs::create_dir_all(&self.checkout)
                .map_err(|e| format!("{}: {e}", self.checkout.display()))?;
            // .git/config holds the URL, credentials included: owner only.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.checkout, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("{}: {e}", self.checkout.display()))?;
            git(&self.checkout, &["init", "-q"])?;
            git(
                &self.checkout,
                &["remote", "add", "--", "origin", &self.url],
            )?;
        }
        let remote = git(&self.checkout, &["config", "--get", "remote.origin.url"])?;
        if remote != self.url {
            return Err(format!(
                "the git cache {} belongs to another repository; remove it or use another --cache-dir",
                self.checkout.display()
            ));
        }
        let refspec = format!("refs/heads/{}", self.branch);
        git(
            &self.checkout,
            &["fetch", "-q", "--depth", "1", "--", "origin", &refspec],
        )?;
        let commit = git(
            &self.checkout,
            &["rev-parse", "--verify", "FETCH_HEAD^{commit}"],
        )?;
        if !(commit.len() == 40 || commit.len() == 64)
            || !commit.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err(format!("git rev-parse gave {commit:?}, not a commit id"));
        }
        git(
            &self.checkout,
            &["checkout", "-q", "--force", "--detach", &commit, "--"],
        )?;
        Ok(commit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_that_could_be_options_or_invalid_refs_are_refused() {
        for good in ["main", "release/1.2", "feature-x", "v1.0_rc"] {
            assert_eq!(check_branch(good), Ok(()), "{good}");
        }
        for bad in [
            "--upload-pack=touch pwned;",
            "-b",
            "",
            "a..b",
            "a b",
            "x~1",
            "x^",
            "x:y",
            "x?",
            "x*",
            "x[",
            "x\\y",
            "x.lock",
            "x/",
            "/x",
            "x/.hidden",
            "x@{1}",
            "@",
            "x\u{1b}[31m",
        ] {
            assert!(check_branch(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn only_transports_that_run_no_command_are_accepted() {
        for good in [
            "https://github.com/x/y.git",
            "ssh://git@host/x.git",
            "git@github.com:x/y.git",
            "file:///srv/repo.git",
            "/srv/repo.git",
        ] {
            assert_eq!(check_url(good), Ok(()), "{good}");
        }
        for bad in [
            "--upload-pack=touch pwned",
            "-u",
            "ext::sh -c touch% /tmp/pwned",
            "fd::17",
            "",
            "relative/path",
            "https://x/\u{7}",
        ] {
            assert!(check_url(bad).is_err(), "{bad:?} was accepted");
        }
    }
}

#[cfg(test)]
mod dating_tests {
    use super::*;

    /// Issue 22: the revisions recorded on the engine are ordered by commit
    /// date from the cache; anything that is no commit of it goes last.
    #[test]
    fn commits_are_ordered_newest_first_and_strangers_go_last() {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path();
        let run = |args: &[&str], date: &str| {
            let out = Command::new("git")
                .arg("-C")
                .arg(repo)
                .args(args)
                .env("GIT_COMMITTER_DATE", date)
                .env("GIT_AUTHOR_DATE", date)
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
                .output()
                .expect("git");
            assert!(out.status.success(), "{args:?}: {out:?}");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        run(&["init", "-q"], "");
        let mut commits = Vec::new();
        for (i, date) in [
            "2026-01-01T00:00:00Z",
            "2026-01-02T00:00:00Z",
            "2026-01-03T00:00:00Z",
        ]
        .iter()
        .enumerate()
        {
            run(
                &["commit", "-q", "--allow-empty", "-m", &i.to_string()],
                date,
            );
            commits.push(run(&["rev-parse", "HEAD"], date));
        }
        let source = GitSource {
            url: "file:///unused".into(),
            branch: "main".into(),
            checkout: repo.to_path_buf(),
        };
        let missing = "0".repeat(40);
        let given = vec![
            commits[0].clone(),
            "--output=/tmp/pwned".to_string(),
            commits[2].clone(),
            missing.clone(),
            commits[1].clone(),
        ];
        assert_eq!(
            source.newest_first(&given),
            vec![
                commits[2].clone(),
                commits[1].clone(),
                commits[0].clone(),
                "--output=/tmp/pwned".to_string(),
                missing
            ]
        );
    }
}

#[cfg(test)]
mod credential_tests {
    use super::*;

    /// Issue 18, defect 7: a token in the URL reached the cache directory's
    /// name and the logs; two URLs could share a cache.
    #[test]
    fn credentials_stay_out_of_names_and_logs_and_caches_are_per_url() {
        let url = "https://user:s3cr3t-token@git.example.org/lucid/state.git";
        let a = GitSource::new(url, "main", Path::new("/cache"));
        assert!(!a.checkout.display().to_string().contains("s3cr3t"));
        assert_eq!(
            without_credentials(url),
            "https://git.example.org/lucid/state.git"
        );
        assert!(!a
            .redacted(format!("fatal: could not read {url}"))
            .contains("s3cr3t"));
        let b = GitSource::new(
            "https://git.example.org/lucid-state.git",
            "main",
            Path::new("/cache"),
        );
        let c = GitSource::new(
            "https://git.example.org/lucid/state-git",
            "main",
            Path::new("/cache"),
        );
        assert_ne!(
            b.checkout, c.checkout,
            "URLs that slugged alike share no cache"
        );
        assert!(check_path(Path::new("configs/lucid")).is_ok());
        assert!(check_path(Path::new("../outside")).is_err());
        assert!(check_path(Path::new("/etc")).is_err());
    }
}
