//! A second Docker daemon of the test's own, for faults the system daemon must
//! never suffer (a restart). It keeps everything under one directory in /tmp:
//! its socket, data root (vfs storage: works on any filesystem), exec root
//! and its own containerd (started by dockerd under the exec root), so it
//! shares no state with the system daemon.
//!
//! Networking must not touch the system daemon's. dockerd 20.10 deletes the
//! host's `docker0` (the system daemon's default bridge) when started with
//! `--bridge none`, and on a restart when `--default-address-pool` is set; the
//! default bridge name is `docker0` too. So the daemon gets a bridge
//! interface of its own (`lucidd<pid>`) with an address in a 10.x.0.0/16 no
//! host route overlaps, no address pool option, and the test's networks take
//! explicit subnets from the same /16 ([`Dockerd::subnet`]), so its address
//! allocator never picks a range the system daemon uses. `--iptables=false`
//! keeps it out of the firewall. As a safety net, `docker0` is checked after
//! every start and at the end: if it went missing it is put back and the test fails.
//!
//! Dropping it (also when the test panics) removes its containers and
//! networks, stops it, unmounts anything left under its directory, deletes
//! its bridge and removes the directory. Starting it needs root, as the CI
//! runs; when it cannot start, the test fails with the daemon's log.

mod host;

pub use host::{kill_leftovers, unmount_under};

use crate::{run, try_run, Output, Running, DOCKER_TIMEOUT};
use host::{free_pool, Docker0};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Dockerd {
    pub dir: PathBuf,
    /// The bridge interface the daemon's default network uses (ours, not docker0).
    bridge: String,
    /// `10.<n>.0.0/16`: the bridge's and every network's addresses.
    pool: u8,
    /// The system daemon's default bridge as it was before this daemon started.
    docker0: Option<Docker0>,
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
        let pool = free_pool();
        let bridge = format!("lucidd{}", std::process::id());
        let ip = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().expect("run ip");
            assert!(
                out.status.success(),
                "ip {args:?} failed (this test needs root, as the CI runs): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let _ = Command::new("ip").args(["link", "del", &bridge]).output();
        ip(&["link", "add", &bridge, "type", "bridge"]);
        ip(&["addr", "add", &format!("10.{pool}.0.1/24"), "dev", &bridge]);
        let mut d = Dockerd {
            host: format!("unix://{}", dir.join("docker.sock").display()),
            bridge,
            pool,
            docker0: Docker0::read(),
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
                // Never `none`: see the module comment.
                "--bridge",
                &self.bridge,
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
        self.check_docker0();
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

    /// A /24 of this daemon's own range for a test network (`i` from 1 to 255).
    pub fn subnet(&self, i: u8) -> String {
        format!("10.{}.{i}.0/24", self.pool)
    }

    /// Panics (after putting it back) if the host's docker0 went missing.
    #[track_caller]
    fn check_docker0(&self) {
        if let Some(before) = &self.docker0 {
            if Docker0::read().is_none() {
                before.restore();
                panic!("the host's docker0 went missing while the test's dockerd ran; it was put back: {before:?}");
            }
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
        kill_leftovers(&self.dir);
        unmount_under(&self.dir);
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .output();
        if !std::thread::panicking() {
            self.check_docker0();
        } else if let (Some(before), None) = (&self.docker0, Docker0::read()) {
            before.restore();
        }
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
