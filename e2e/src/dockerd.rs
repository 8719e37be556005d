//! A second Docker daemon of the test's own, for faults the system daemon must
//! never suffer (a restart). It keeps everything under one directory in /tmp:
//! its socket, data root (vfs storage: works on any filesystem), exec root
//! and its own containerd (started by dockerd under the exec root), so it
//! shares no state with the system daemon. `--bridge none` and
//! `--iptables=false` keep it off the host's default bridge and firewall;
//! user-defined bridge networks still work between its containers.
//!
//! Dropping it (also when the test panics) removes its containers and
//! networks, stops it, unmounts anything left under its directory and removes
//! the directory. Starting it needs root, as the CI runs; when it cannot
//! start, the test fails with the daemon's log.

use crate::{run, try_run, Output, Running, DOCKER_TIMEOUT};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Dockerd {
    pub dir: PathBuf,
    /// `unix://<dir>/docker.sock`, for `-H`.
    pub host: String,
    daemon: Option<Running>,
    /// What earlier runs of the daemon printed, for failure messages.
    logs: String,
}

impl Dockerd {
    /// Starts a daemon in `/tmp/lucid-dd-<name>-<pid>` and waits until it answers.
    pub fn start(name: &str) -> Dockerd {
        // Short: unix socket paths (containerd's included) must stay under 108 bytes.
        let dir = PathBuf::from(format!("/tmp/lucid-dd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let mut d = Dockerd {
            host: format!("unix://{}", dir.join("docker.sock").display()),
            dir,
            daemon: None,
            logs: String::new(),
        };
        d.boot();
        d
    }

    fn boot(&mut self) {
        let mut cmd = Command::new("dockerd");
        let dir = &self.dir;
        // Its own (empty) configuration: the system's daemon.json names the system's data root.
        let config = dir.join("daemon.json");
        std::fs::write(&config, "{}\n")
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", config.display()));
        cmd.arg("--config-file")
            .arg(&config)
            .arg("--host")
            .arg(&self.host)
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .args([
                "--storage-driver",
                "vfs",
                "--bridge",
                "none",
                "--iptables=false",
                "--ip-masq=false",
                "--userland-proxy=false",
            ]);
        self.daemon = Some(Running::spawn(cmd));
        let deadline = Instant::now() + Duration::from_secs(60);
        let up = loop {
            let answers = self
                .docker_quiet(&["version", "--format", "{{.Server.Version}}"])
                .is_some_and(|o| o.success());
            let exited = self.daemon.as_mut().is_none_or(Running::finished);
            if answers || exited || Instant::now() >= deadline {
                break answers;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        if !up {
            let log = self
                .daemon
                .take()
                .map(|d| format!("{:?}", d.kill()))
                .unwrap_or_default();
            panic!(
                "the test's own dockerd ({}) did not start (it needs root, as the CI runs):\n{log}",
                self.host
            );
        }
    }

    /// `docker -H <this daemon> <args>`.
    #[track_caller]
    pub fn docker(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("docker");
        cmd.arg("-H").arg(&self.host).args(args);
        run(cmd, DOCKER_TIMEOUT)
    }

    /// Trimmed stdout; panics unless it succeeds.
    #[track_caller]
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(out.success(), "docker -H {} failed: {out:?}", self.host);
        out.stdout.trim().to_string()
    }

    fn docker_quiet(&self, args: &[&str]) -> Option<Output> {
        let mut cmd = Command::new("docker");
        cmd.arg("-H").arg(&self.host).args(args);
        try_run(cmd, DOCKER_TIMEOUT).ok()
    }

    /// Copies an image of the system daemon into this one (no registry is reachable).
    #[track_caller]
    pub fn load_image(&self, image: &str) {
        let tar = self.dir.join("image.tar");
        crate::docker_ok(&["save", "-o", &tar.display().to_string(), image]);
        self.docker_ok(&["load", "-q", "-i", &tar.display().to_string()]);
        let _ = std::fs::remove_file(&tar);
    }

    /// SIGTERM, and wait for the daemon to exit (it stops its containers first).
    #[track_caller]
    pub fn stop(&mut self) {
        let Some(daemon) = self.daemon.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", "--", &daemon.pid().to_string()])
            .status();
        let out = daemon
            .try_wait_for(Duration::from_secs(60))
            .unwrap_or_else(|why| panic!("the test's dockerd did not stop on SIGTERM: {why}"));
        self.logs.push_str(&out.stderr);
    }

    /// Starts the daemon again on the same directories.
    #[track_caller]
    pub fn start_again(&mut self) {
        assert!(self.daemon.is_none(), "stop it first");
        self.boot();
    }

    /// The daemon's log so far (earlier runs only), for failure messages.
    pub fn log(&self) -> &str {
        &self.logs
    }

    fn teardown(&mut self) {
        if self.daemon.is_some() {
            let quiet = |args: &[&str]| {
                self.docker_quiet(args)
                    .filter(Output::success)
                    .map(|o| o.stdout)
                    .unwrap_or_default()
            };
            let ids: Vec<String> = quiet(&["ps", "-aq"])
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f", "-v"];
                args.extend(ids.iter().map(String::as_str));
                quiet(&args);
            }
            quiet(&["network", "prune", "-f"]);
            if let Some(daemon) = self.daemon.take() {
                let _ = Command::new("kill")
                    .args(["-TERM", "--", &daemon.pid().to_string()])
                    .status();
                let started = Instant::now();
                // `Running` SIGKILLs it after the wait.
                if let Err(why) = daemon.try_wait_for(Duration::from_secs(30)) {
                    eprintln!("dockerd teardown after {:?}: {why}", started.elapsed());
                }
            }
        }
        unmount_under(&self.dir);
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("cannot remove {}: {e}", self.dir.display());
        }
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Lazily unmounts every mount point under `dir`, deepest first (a killed
/// daemon can leave its containers' shm and netns mounts behind).
pub fn unmount_under(dir: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return;
    };
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|p| Path::new(p).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount").args(["-l", "--", p]).status();
    }
}
