//! The GitOps source: fetch with the git CLI into a cache directory and check
//! out the exact commit, so what is applied is a named revision.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct GitSource {
    pub url: String,
    pub branch: String,
    pub checkout: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl GitSource {
    pub fn new(url: &str, branch: &str, cache_dir: &Path) -> GitSource {
        let slug: String = url
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        GitSource {
            url: url.to_string(),
            branch: branch.to_string(),
            checkout: cache_dir.join(slug.trim_matches('-')),
        }
    }

    /// Fetches and checks out the branch's newest commit; returns it.
    pub fn sync(&self) -> Result<String, String> {
        if !self.checkout.join(".git").exists() {
            std::fs::create_dir_all(&self.checkout)
                .map_err(|e| format!("{}: {e}", self.checkout.display()))?;
            git(&self.checkout, &["init", "-q"])?;
            git(&self.checkout, &["remote", "add", "origin", &self.url])?;
        }
        git(
            &self.checkout,
            &["fetch", "-q", "--depth", "1", "origin", &self.branch],
        )?;
        let commit = git(&self.checkout, &["rev-parse", "FETCH_HEAD"])?;
        git(
            &self.checkout,
            &["checkout", "-q", "--force", "--detach", &commit],
        )?;
        Ok(commit)
    }
}
