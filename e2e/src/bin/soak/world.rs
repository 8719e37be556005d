//! The soak's world: its own Docker daemon (the only one it may restart), a
//! throwaway sshd in front of it, a git repository holding the Lucid system,
//! and `lucidctl run` supervised as systemd would (restarted after a kill).

use lucid_e2e::dockerd::Dockerd;
use lucid_e2e::sshd::Sshd;
use lucid_e2e::{ensure_standin_image, free_port, http_get, repo_root, try_run, STANDIN_IMAGE};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The services the local overlay publishes a host port for: the soak drops
/// the host side, so it never competes with a demo for 18080 and friends.
const PUBLISHED: [(&str, u16); 3] = [
    ("lucid-api-gateway", 8080),
    ("lucid-xrdp-integration", 3389),
    ("lucid-admin-interface", 8083),
];
/// The local overlay's image tag; the soak daemon gets the stand-in under it.
const OVERLAY_IMAGE: &str = "lucid-local/standin:dev";
/// `configs/systemd/lucidctl.service`: `Restart=always`, `RestartSec=5`.
pub const RESTART_SEC: Duration = Duration::from_secs(5);
/// The soak's own service, the target of the commits pushed during the run.
pub const CANARY: &str = "soak-web";
/// A managed volume no container uses, so a hand removal succeeds.
pub const SCRATCH_VOLUME: &str = "soak-scratch";
pub const ISOLATED: &str = "lucid-tron-isolated";
pub const ISOLATED_MEMBERS: [&str; 6] = [
    "lucid-tron-client",
    "lucid-payout-router",
    "lucid-wallet-manager",
    "lucid-usdt-manager",
    "lucid-trx-staking",
    "lucid-payment-gateway",
];

/// What the git repository holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoState {
    Good,
    NeverHealthy,
    InvalidYaml,
}

/// Lets containers of the soak daemon talk to each other. The host has
/// `br_netfilter` on and the system daemon's FORWARD policy is DROP, so
/// traffic between two containers on one of our bridges (which that daemon
/// does not know) is dropped: DNS answers, but a Job's TCP wait for its
/// service never connects. One ACCEPT rule in DOCKER-USER (the chain Docker
/// leaves to users) for our own /16 only, tagged with our pid, removed on drop.
pub struct Firewall {
    rule: Vec<String>,
}

impl Firewall {
    pub fn open(pool: &str) -> Firewall {
        // Rules left by an earlier soak that was killed outright.
        if let Ok(out) = Command::new("iptables")
            .args(["-S", "DOCKER-USER"])
            .output()
        {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let Some(pid) = line
                    .split("lucid-soak-")
                    .nth(1)
                    .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                else {
                    continue;
                };
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let del = line.replacen("-A ", "-D ", 1);
                    let _ = Command::new("iptables")
                        .args(del.split_whitespace())
                        .status();
                }
            }
        }
        let tag = format!("lucid-soak-{}", std::process::id());
        let rule: Vec<String> = [
            "DOCKER-USER",
            "-s",
            pool,
            "-d",
            pool,
            "-m",
            "comment",
            "--comment",
            &tag,
            "-j",
            "ACCEPT",
        ]
        .map(String::from)
        .to_vec();
        let ok = Command::new("iptables")
            .arg("-I")
            .args(&rule)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "iptables -I {rule:?} failed (the soak needs root and the system daemon's DOCKER-USER chain)");
        Firewall { rule }
    }
}

impl Drop for Firewall {
    fn drop(&mut self) {
        let _ = Command::new("iptables").arg("-D").args(&self.rule).status();
    }
}

pub struct World {
    pub dir: PathBuf,
    _firewall: Firewall,
    pub project: String,
    pub prefix: String,
    pub dockerd: Dockerd,
    pub sshd: Sshd,
    pub addr: String,
    pub sink_url: String,
    bin: PathBuf,
    bare: PathBuf,
    work: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// Bumped on every (re)start of lucidctl.
    pub incarnation: u32,
    /// Commits pushed so far, and what the repository holds.
    pub generation: u32,
    pub repo: RepoState,
    /// The last commit that should be serving.
    pub good_revision: String,
}

impl World {
    pub fn new(bin: PathBuf, sink_url: String) -> World {
        let pid = std::process::id();
        let dir = PathBuf::from(format!("/tmp/lucid-soak-{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("soak directory");
        ensure_standin_image();
        let dockerd = Dockerd::start("soak");
        dockerd.load_image(STANDIN_IMAGE);
        dockerd.docker_ok(&["tag", STANDIN_IMAGE, OVERLAY_IMAGE]);
        let firewall = Firewall::open(&dockerd.subnet(0).replace(".0.0/24", ".0.0/16"));
        let sshd = Sshd::start("soak");
        let project = format!("soak{pid}");
        let mut w = World {
            prefix: format!("{project}-"),
            project,
            addr: format!("127.0.0.1:{}", free_port()),
            sink_url,
            bin,
            bare: dir.join("origin.git"),
            work: dir.join("work"),
            log: dir.join("lucidctl.log"),
            dir,
            _firewall: firewall,
            dockerd,
            sshd,
            child: None,
            incarnation: 0,
            generation: 0,
            repo: RepoState::Good,
            good_revision: String::new(),
        };
        w.init_repo();
        w
    }

    pub fn obj(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// `docker -H <soak daemon> args`: stdout on success, the error otherwise; never panics.
    pub fn docker(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = Command::new("docker");
        cmd.arg("-H").arg(&self.dockerd.host).args(args);
        match try_run(cmd, Duration::from_secs(60)) {
            Ok(out) if out.success() => Ok(out.stdout.trim().to_string()),
            Ok(out) => Err(out.stderr.trim().to_string()),
            Err(why) => Err(why),
        }
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.work)
            .args(args)
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The work tree holds configs/lucid as in this checkout plus soak/overlay.yaml;
    /// the secrets are generated outside it.
    fn init_repo(&mut self) {
        std::fs::create_dir_all(self.work.join("configs")).expect("work tree");
        let ok = Command::new("git")
            .args(["init", "-q", "--bare", "-b", "main"])
            .arg(&self.bare)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "git init --bare");
        self.git(&["init", "-q", "-b", "main"]);
        self.git(&["config", "user.email", "soak@example.invalid"]);
        self.git(&["config", "user.name", "soak"]);
        let ok = Command::new("cp")
            .arg("-r")
            .arg("--")
            .arg(repo_root().join("configs/lucid"))
            .arg(self.work.join("configs/"))
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "copy configs/lucid into the soak repository");
        let _ = std::fs::remove_dir_all(self.work.join("configs/environment"));
        self.good_revision = self.commit(RepoState::Good);
        let mut gen = Command::new(&self.bin);
        gen.args(["secrets", "generate", "-f"])
            .arg(self.work.join("configs/lucid"))
            .arg("--secrets-dir")
            .arg(self.dir.join("env"));
        let out = try_run(gen, Duration::from_secs(120)).expect("secrets generate");
        assert!(out.success(), "secrets generate: {out:?}");
    }

    /// The soak overlay: the daemon's own subnets, no host ports, the loaded
    /// image instead of a build, a spare volume, and the canary service whose
    /// greeting each good commit changes.
    fn overlay(&self, state: RepoState) -> String {
        let d = &self.dockerd;
        let mut out =
            String::from("# The soak's overlay (e2e/src/bin/soak): written by the driver.\n");
        for (net, i) in [("lucid-pi-network", 1), (ISOLATED, 2)] {
            out.push_str(&format!(
                "---\napiVersion: lucid/v1alpha1\nkind: Network\nmetadata:\n  name: {net}\nspec:\n  subnet: {}\n  gateway: null\n",
                d.subnet(i)
            ));
        }
        out.push_str("---\napiVersion: lucid/v1alpha1\nkind: Image\nmetadata:\n  name: lucid-standin\n$patch: delete\n");
        for (svc, port) in PUBLISHED {
            out.push_str(&format!(
                "---\napiVersion: lucid/v1alpha1\nkind: Service\nmetadata:\n  name: {svc}\nspec:\n  ports:\n    - {{containerPort: {port}}}\n"
            ));
        }
        out.push_str(&format!(
            "---\napiVersion: lucid/v1alpha1\nkind: Volume\nmetadata:\n  name: {SCRATCH_VOLUME}\nspec: {{}}\n"
        ));
        let probe = if state == RepoState::NeverHealthy {
            // Nothing listens there: the rollout never becomes healthy.
            "9"
        } else {
            "8080"
        };
        out.push_str(&format!(
            "---\napiVersion: lucid/v1alpha1\nkind: Service\nmetadata:\n  name: {CANARY}\nspec:\n  image: {OVERLAY_IMAGE}\n  command: [\"serve\"]\n  \
             networks: [{{name: lucid-pi-network}}]\n  env: {{STANDIN_NAME: {CANARY}, STANDIN_PORTS: \"8080\", GREETING: \"gen{}\"}}\n  \
             healthcheck: {{test: [\"CMD\", \"/standin\", \"probe\", \"{probe}\"], interval: 1s, timeout: 2s, retries: 3, startPeriod: 0s}}\n  \
             resources: {{memory: 64Mi, cpus: 0.25}}\n  restart: unless-stopped\n  stopGracePeriod: 5s\n",
            self.generation
        ));
        if state == RepoState::InvalidYaml {
            out.push_str("---\napiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: soak-broken\nspec: [\n");
        }
        out
    }

    /// Commits the overlay for `state` and pushes it; returns the commit.
    pub fn commit(&mut self, state: RepoState) -> String {
        self.generation += 1;
        let path = self.work.join("soak/overlay.yaml");
        std::fs::create_dir_all(path.parent().unwrap()).expect("soak dir");
        std::fs::write(&path, self.overlay(state)).expect("write the overlay");
        self.git(&["add", "-A"]);
        self.git(&[
            "commit",
            "-q",
            "-m",
            &format!("soak generation {} ({state:?})", self.generation),
        ]);
        let bare = self.bare.display().to_string();
        self.git(&["push", "-q", &bare, "main"]);
        self.repo = state;
        let rev = self.git(&["rev-parse", "HEAD"]);
        if state == RepoState::Good {
            self.good_revision = rev.clone();
        }
        rev
    }

    fn run_args(&self) -> Vec<String> {
        let sock = self.dockerd.dir.join("docker.sock").display().to_string();
        let mut args: Vec<String> = vec![
            "run".into(),
            "-H".into(),
            self.sshd.url(),
            "--ssh-config".into(),
            self.sshd.client_config.display().to_string(),
            "--remote-socket".into(),
            sock,
            "--git".into(),
            format!("file://{}", self.bare.display()),
            "--branch".into(),
            "main".into(),
        ];
        for p in ["configs/lucid", "configs/lucid/overlays/local", "soak"] {
            args.push("--path".into());
            args.push(p.into());
        }
        let rest = [
            "--poll",
            "2s",
            "--cache-dir",
            &self.dir.join("cache").display().to_string(),
            "--listen",
            &self.addr,
            // Events and the git poll drive the repairs; the resync is the safety net.
            "--resync",
            "60s",
            "--timeout",
            "45s",
            "--no-pull",
            "--notify",
            &self.sink_url,
            "--notify-after",
            "5s",
            "-p",
            &self.project,
            "--name-prefix",
            &self.prefix,
            "--files-dir",
            &self.dir.join("files").display().to_string(),
            "--secrets-dir",
            &self.dir.join("env").display().to_string(),
        ]
        .map(String::from);
        args.extend(rest);
        args
    }

    /// Starts `lucidctl run`, its output appended to lucidctl.log.
    pub fn start_lucidctl(&mut self) {
        assert!(self.child.is_none(), "lucidctl already runs");
        self.incarnation += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("lucidctl log");
        let err = log.try_clone().expect("log");
        let child = Command::new(&self.bin)
            .args(self.run_args())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("start lucidctl run");
        self.child = Some(child);
    }

    pub fn lucidctl_pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether lucidctl exited on its own (a crash): its exit status.
    pub fn lucidctl_exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(status.to_string())
            }
            _ => None,
        }
    }

    /// SIGKILL, as an OOM kill or a power cut would.
    pub fn kill_lucidctl(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait: the clean stop at the end. Returns the exit status.
    pub fn stop_lucidctl(&mut self) -> Option<String> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", "--", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status.to_string());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        Some("did not stop within 60 s of SIGTERM; killed".into())
    }

    pub fn status(&self) -> Option<Value> {
        http_get(&self.addr, "/status").and_then(|b| serde_json::from_str(&b).ok())
    }

    /// `(passes, failed passes)` from /metrics.
    /// Passes that left the engine converged: a pass that failed (the
    /// engine out of reach, a step that failed) repaired nothing it did not
    /// finish, so a breach or an outage is judged against these (the
    /// 60-minute soak, seed 1796128233704935181: eight passes failing in a
    /// row on a killed sshd counted as eight chances to repair). A pass on
    /// the last good state while a bad commit is the input is one: it is an
    /// error for the input, not for the engine (the smoke, seed
    /// 1796139580351509906, judged a daemon restart after a bad commit
    /// unrepaired for want of a pass without error).
    pub fn good_passes(&self) -> Option<u64> {
        let text = http_get(&self.addr, "/metrics")?;
        text.lines().find_map(|l| {
            l.strip_prefix("lucidctl_converged_passes_total ")?
                .trim()
                .parse::<u64>()
                .ok()
        })
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.kill_lucidctl();
        if std::thread::panicking() {
            let keep =
                std::env::temp_dir().join(format!("soak-{}-lucidctl.log", std::process::id()));
            if std::fs::copy(&self.log, &keep).is_ok() {
                eprintln!("lucidctl's log: {}", keep.display());
            }
        }
        remove_dir(&self.dir);
        // The daemon and sshd go with their own Drop.
    }
}

/// Removes the soak directory (after the daemon, whose data lives elsewhere).
pub fn remove_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}
