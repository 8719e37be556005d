//! Harness for the end-to-end tests of `lucidctl` against the real Docker engine.
//!
//! Every test gets a [`TestEnv`]: its own project (`e2e-<test>-<pid>`), its own
//! name prefix (`e2e-<test>-<pid>-`) and its own temp directory for the desired
//! state, config files and secrets. Dropping the `TestEnv` (also when the test
//! panics) force-removes exactly what the test created: containers, networks
//! and volumes labelled `io.lucidctl.project=<project>`, plus any container the
//! test registered as made by hand. Nothing else on the engine is touched, so
//! tests run in parallel beside other work (a running demo included).
//!
//! The engine is required: when Docker cannot be reached the tests fail with a
//! clear message, unless `LUCID_E2E=skip` is set, in which case every engine
//! test prints `skipped: LUCID_E2E=skip` and returns.
//!
//! Process-wide, once: `cargo build -p controller --bin lucidctl` (respecting
//! `CARGO_TARGET_DIR`), and the stand-in image `lucid-e2e/standin:latest`
//! (built by `e2e/standin/build.sh` and `docker build`; kept afterwards, it is
//! tiny shared infrastructure).

pub mod dockerd;
pub mod sshd;
pub mod swarm;

use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The stand-in image every small test system runs.
pub const STANDIN_IMAGE: &str = "lucid-e2e/standin:latest";
/// The tag `configs/lucid/overlays/local` gives its Image `lucid-standin`. Shared with
/// a running demo: tests never build or tag it (a new image behind the tag would make
/// the demo drift); full-Lucid tests point the Image and every workload at a ref of
/// their own instead.
pub const LOCAL_OVERLAY_IMAGE: &str = "lucid-local/standin:dev";
pub const PROJECT_LABEL: &str = "io.lucidctl.project";
pub const KIND_LABEL: &str = "io.lucidctl.kind";
pub const NAME_LABEL: &str = "io.lucidctl.name";

/// Longest a single lucidctl invocation may take before the test fails.
pub const LUCIDCTL_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest a docker CLI call may take.
pub const DOCKER_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/// What a finished process left: its exit code (None when a signal ended it) and output.
#[derive(Clone)]
pub struct Output {
    pub command: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Output {
    /// The exit code; -1 when the process was ended by a signal.
    pub fn code(&self) -> i32 {
        self.code.unwrap_or(-1)
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// stdout and stderr together, for "appears nowhere" checks.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Panics with the whole output unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), code, "unexpected exit code from {self:?}");
        self
    }

    /// stdout parsed as JSON; panics with the output when it is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` exited with {:?} after {:.1}s\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
            self.command,
            self.code,
            self.took.as_secs_f64(),
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

fn describe(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

fn reader(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut p) = pipe {
            let mut bytes = Vec::new();
            let _ = p.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// A child process whose output is collected in the background. It is
/// SIGKILLed when dropped unfinished, so a failing test leaves no process behind.
pub struct Running {
    command: String,
    child: Option<Child>,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    started: Instant,
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Running {
        let command = describe(&cmd);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
        let stdout = Some(reader(child.stdout.take()));
        let stderr = Some(reader(child.stderr.take()));
        Running {
            command,
            child: Some(child),
            stdout,
            stderr,
            started: Instant::now(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// True once the process has exited.
    pub fn finished(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => !matches!(c.try_wait(), Ok(None)),
            None => true,
        }
    }

    /// SIGTERM, as systemd stops a service, then wait up to `timeout` for the exit.
    #[track_caller]
    pub fn terminate(self, timeout: Duration) -> Output {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &self.pid().to_string()])
            .status();
        self.wait(timeout)
    }

    /// SIGKILL (std's `Child::kill` sends SIGKILL on Unix), then collect what it printed.
    pub fn kill(mut self) -> Output {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
        }
        self.wait(Duration::from_secs(30))
    }

    /// Waits for the exit; panics (after killing it) when it takes longer than `timeout`.
    #[track_caller]
    pub fn wait(self, timeout: Duration) -> Output {
        match self.try_wait_for(timeout) {
            Ok(out) => out,
            Err(why) => panic!("{why}"),
        }
    }

    /// Waits for the exit; after `timeout` kills it and says so in the error.
    pub fn try_wait_for(mut self, timeout: Duration) -> Result<Output, String> {
        let deadline = Instant::now() + timeout;
        let mut child = self.child.take().expect("a Running is waited for once");
        let mut timed_out = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= deadline => {
                    timed_out = true;
                    let _ = child.kill();
                    break child.wait().ok();
                }
                // 1 ms: the bench times whole processes of 20 to 100 ms with this.
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("waiting for `{}`: {e}", self.command));
                }
            }
        };
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let out = Output {
            command: self.command.clone(),
            code: status.and_then(|s| s.code()),
            stdout,
            stderr,
            took: self.started.elapsed(),
        };
        if timed_out {
            return Err(format!(
                "did not finish within {timeout:?}; killed it: {out:?}"
            ));
        }
        Ok(out)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `cmd` to completion, capturing its output.
#[track_caller]
pub fn run(cmd: Command, timeout: Duration) -> Output {
    Running::spawn(cmd).wait(timeout)
}

/// Runs `cmd` without ever panicking: for cleanup, which must not fail a test.
pub fn try_run(mut cmd: Command, timeout: Duration) -> Result<Output, String> {
    let command = describe(&cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start `{command}`: {e}"))?;
    let stdout = Some(reader(child.stdout.take()));
    let stderr = Some(reader(child.stderr.take()));
    Running {
        command,
        child: Some(child),
        stdout,
        stderr,
        started: Instant::now(),
    }
    .try_wait_for(timeout)
}

// ---------------------------------------------------------------------------
// Process-wide setup: the engine, the lucidctl binary, the stand-in image
// ---------------------------------------------------------------------------

/// The workspace root (the directory holding the top-level Cargo.toml).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

/// `LUCID_E2E=skip` was set explicitly.
pub fn skip_requested() -> bool {
    std::env::var("LUCID_E2E").is_ok_and(|v| v == "skip")
}

/// Panics with a clear message when the engine does not answer.
fn require_engine() {
    static CHECKED: OnceLock<Result<String, String>> = OnceLock::new();
    let result = CHECKED.get_or_init(|| {
        let mut cmd = Command::new("docker");
        cmd.args([
            "version",
            "--format",
            "{{.Server.Version}} (API {{.Server.APIVersion}})",
        ]);
        let out = try_run(cmd, Duration::from_secs(30))?;
        if out.success() {
            Ok(out.stdout.trim().to_string())
        } else {
            Err(format!(
                "`docker version` failed with {:?}: {}",
                out.code,
                out.stderr.trim()
            ))
        }
    });
    if let Err(why) = result {
        panic!(
            "the Docker engine is not reachable, so the end-to-end tests cannot run: {why}\n\
             Start Docker (or point DOCKER_HOST at an engine), or set LUCID_E2E=skip to skip these tests explicitly."
        );
    }
}

/// A cargo command for the workspace, without the variables `cargo test` sets for
/// this package: build scripts track some of them (ring's tracks
/// CARGO_MANIFEST_DIR), and inheriting them would make the inner build and the
/// outer `cargo test` rebuild each other's dependencies every time.
fn cargo_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let per_package = key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
            || matches!(
                key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_BIN_NAME"
            );
        if per_package {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(repo_root());
    cmd
}

/// Where cargo puts build output: `CARGO_TARGET_DIR` (relative to the repo root) or `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(d) => repo_root().join(d),
        None => repo_root().join("target"),
    }
}

/// Builds lucidctl once per test process and returns its path.
pub fn lucidctl_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = BIN.get_or_init(|| {
        let mut cmd = cargo_command(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.args(["build", "-q", "-p", "controller", "--bin", "lucidctl"]);
        let out = run(cmd, Duration::from_secs(1800));
        if !out.success() {
            return Err(format!("building lucidctl failed: {out:?}"));
        }
        let bin = target_dir().join("debug").join("lucidctl");
        if !bin.is_file() {
            return Err(format!(
                "cargo built lucidctl, but {} does not exist",
                bin.display()
            ));
        }
        Ok(bin)
    });
    match result {
        Ok(bin) => bin.clone(),
        Err(why) => panic!("{why}"),
    }
}

/// Builds the stand-in binary and image once per test process. The image is kept.
pub fn ensure_standin_image() {
    static IMAGE: OnceLock<Result<(), String>> = OnceLock::new();
    let result = IMAGE.get_or_init(|| {
        let mut build = cargo_command("bash");
        build.arg(repo_root().join("e2e/standin/build.sh"));
        let out = run(build, Duration::from_secs(1800));
        if !out.success() {
            return Err(format!("building the stand-in binary failed: {out:?}"));
        }
        let out = docker(&[
            "build",
            "-q",
            "-t",
            STANDIN_IMAGE,
            &repo_root().join("e2e/standin/image").display().to_string(),
        ]);
        if !out.success() {
            return Err(format!("building the stand-in image failed: {out:?}"));
        }
        Ok(())
    });
    if let Err(why) = result {
        panic!("{why}");
    }
}

/// Full-Lucid tests bring up 27 containers each: one at a time per test process.
pub fn full_lucid_lock() -> FullLucidLock {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // Across processes too (suites run in parallel, or a second `cargo test`).
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("lucid-e2e-full-lucid.lock"))
        .expect("open the full-Lucid lock file");
    file.lock().expect("take the full-Lucid lock");
    FullLucidLock {
        _file: file,
        _guard: guard,
    }
}

/// Held while a whole-Lucid test runs; released on drop (the file lock with the file).
pub struct FullLucidLock {
    _file: std::fs::File,
    _guard: MutexGuard<'static, ()>,
}

// ---------------------------------------------------------------------------
// Docker CLI helpers (the real engine, for inspection and hand-made drift)
// ---------------------------------------------------------------------------

#[track_caller]
pub fn docker(args: &[&str]) -> Output {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    run(cmd, DOCKER_TIMEOUT)
}

/// Runs docker and returns its trimmed stdout; panics when it fails.
#[track_caller]
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(out.success(), "docker command failed: {out:?}");
    out.stdout.trim().to_string()
}

/// `docker inspect` of one container, or None when it does not exist.
pub fn inspect_container(name: &str) -> Option<Value> {
    let out = docker(&["container", "inspect", name]);
    if !out.success() {
        assert!(
            out.stderr.to_lowercase().contains("no such"),
            "docker container inspect {name} failed for another reason than absence: {out:?}"
        );
        return None;
    }
    out.json().as_array().and_then(|a| a.first()).cloned()
}

pub fn container_id(name: &str) -> Option<String> {
    inspect_container(name).and_then(|c| c["Id"].as_str().map(str::to_string))
}

/// Whether the container exists and runs.
pub fn running(name: &str) -> bool {
    inspect_container(name).is_some_and(|c| c["State"]["Running"] == true)
}

/// A port nobody listens on now, for a test's own server.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET http://<addr><path>` with curl; None unless it answers.
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "2", &format!("http://{addr}{path}")])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

/// A `lucidctl run` loop's /status document.
pub fn loop_status(addr: &str) -> Option<Value> {
    http_get(addr, "/status").and_then(|b| serde_json::from_str(&b).ok())
}

pub fn container_exists(name: &str) -> bool {
    inspect_container(name).is_some()
}

pub fn network_exists(name: &str) -> bool {
    docker(&["network", "inspect", "--format", "{{.Name}}", name]).success()
}

pub fn volume_exists(name: &str) -> bool {
    docker(&["volume", "inspect", "--format", "{{.Name}}", name]).success()
}

/// The host directory behind a local volume (the tests run on the engine's host).
pub fn volume_mountpoint(name: &str) -> PathBuf {
    PathBuf::from(docker_ok(&[
        "volume",
        "inspect",
        "--format",
        "{{.Mountpoint}}",
        name,
    ]))
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Names of every container (running or not) labelled with `project`.
pub fn project_containers(project: &str) -> BTreeSet<String> {
    let filter = format!("label={PROJECT_LABEL}={project}");
    lines(&docker_ok(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--format",
        "{{.Names}}",
    ]))
    .into_iter()
    .collect()
}

pub fn project_networks(project: &str) -> BTreeSet<String> {
    let filter = format!("label={PROJECT_LABEL}={project}");
    lines(&docker_ok(&[
        "network",
        "ls",
        "--filter",
        &filter,
        "--format",
        "{{.Name}}",
    ]))
    .into_iter()
    .collect()
}

pub fn project_volumes(project: &str) -> BTreeSet<String> {
    let filter = format!("label={PROJECT_LABEL}={project}");
    lines(&docker_ok(&[
        "volume",
        "ls",
        "--filter",
        &filter,
        "--format",
        "{{.Name}}",
    ]))
    .into_iter()
    .collect()
}

/// Polls `check` every 100 ms until it holds; false after `timeout`.
pub fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------
// Plan JSON helpers
// ---------------------------------------------------------------------------

/// `(kind, name, action)` of every change in `diff -o json` output.
pub fn plan_changes(plan: &Value) -> Vec<(String, String, String)> {
    plan["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("plan JSON has no changes array: {plan:#}"))
        .iter()
        .map(|c| (s(&c["kind"]), s(&c["name"]), s(&c["action"])))
        .collect()
}

/// The change for `name`, if exactly one; panics on more than one.
pub fn plan_change<'a>(plan: &'a Value, name: &str) -> Option<&'a Value> {
    let all: Vec<&Value> = plan["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["name"] == name)
        .collect();
    assert!(all.len() <= 1, "more than one change for {name}: {plan:#}");
    all.first().copied()
}

/// The `type`s of a change's reasons.
pub fn reason_types(change: &Value) -> Vec<String> {
    change["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| s(&r["type"]))
        .collect()
}

fn s(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

// ---------------------------------------------------------------------------
// One test's world
// ---------------------------------------------------------------------------

/// One test's project, names and temp directory, cleaned up on drop.
pub struct TestEnv {
    /// The short test name.
    pub name: String,
    /// `-p`: `e2e-<name>-<pid>`.
    pub project: String,
    /// `--name-prefix`: `e2e-<name>-<pid>-`.
    pub prefix: String,
    /// `std::env::temp_dir()/lucid-e2e-<name>-<pid>`, removed on drop.
    pub dir: PathBuf,
    /// Where the test writes its YAML; the default `-f`.
    pub state_dir: PathBuf,
    pub secrets_dir: PathBuf,
    pub files_dir: PathBuf,
    bin: PathBuf,
    engine: bool,
    hand_made: Mutex<Vec<String>>,
    started: Instant,
}

impl TestEnv {
    /// A test against the engine. None (after printing why) under `LUCID_E2E=skip`;
    /// panics when the engine is unreachable.
    pub fn new(name: &str) -> Option<TestEnv> {
        if skip_requested() {
            println!("skipped: LUCID_E2E=skip");
            return None;
        }
        require_engine();
        ensure_standin_image();
        let env = TestEnv::make(name, true);
        // A crashed earlier process with the same pid could have left objects of this project.
        env.cleanup();
        Some(env)
    }

    /// A test that never reaches an engine (validation, bad hosts): runs even under `LUCID_E2E=skip`.
    pub fn offline(name: &str) -> TestEnv {
        TestEnv::make(name, false)
    }

    fn make(name: &str, engine: bool) -> TestEnv {
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "test names are short, lowercase letters and digits: {name:?}"
        );
        let pid = std::process::id();
        let project = format!("e2e-{name}-{pid}");
        let dir = std::env::temp_dir().join(format!("lucid-e2e-{name}-{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        let state_dir = dir.join("state");
        std::fs::create_dir_all(&state_dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", state_dir.display()));
        TestEnv {
            name: name.to_string(),
            prefix: format!("{project}-"),
            project,
            secrets_dir: dir.join("env"),
            files_dir: dir.join("files"),
            state_dir,
            dir,
            bin: lucidctl_bin(),
            engine,
            hand_made: Mutex::new(Vec::new()),
            started: Instant::now(),
        }
    }

    /// The Docker name of a resource: the prefix and `name`.
    pub fn obj(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Writes `text` to `state_dir/rel` (the default `-f`), replacing it.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.state_dir.join(rel);
        write_file(&path, text);
        path
    }

    /// Writes a file into the temp dir but outside `state_dir` (extra `-f` files, empty dirs).
    pub fn write_aside(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.dir.join(rel);
        write_file(&path, text);
        path
    }

    /// Remembers a container this test created without lucidctl, to remove on drop.
    pub fn hand_made(&self, container: &str) {
        self.hand_made
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(container.to_string());
    }

    /// `--project --name-prefix --files-dir --secrets-dir`.
    pub fn engine_args(&self) -> Vec<String> {
        vec![
            "-p".into(),
            self.project.clone(),
            "--name-prefix".into(),
            self.prefix.clone(),
            "--files-dir".into(),
            self.files_dir.display().to_string(),
            "--secrets-dir".into(),
            self.secrets_dir.display().to_string(),
        ]
    }

    /// A lucidctl command with exactly `args`.
    pub fn command(&self, args: &[String]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).env("NO_COLOR", "1");
        cmd
    }

    /// `lucidctl <args>` exactly as given.
    pub fn lucidctl_raw(&self, args: &[&str]) -> Output {
        run(
            self.command(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>()),
            LUCIDCTL_TIMEOUT,
        )
    }

    /// `<sub> -f <each file> <engine args> <extra>`, for diff, apply and delete.
    pub fn args_with(&self, sub: &str, files: &[PathBuf], extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = sub.split(' ').map(str::to_string).collect();
        for f in files {
            args.push("-f".into());
            args.push(f.display().to_string());
        }
        args.extend(self.engine_args());
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    }

    /// `lucidctl <sub> -f <files...> <engine args> <extra>`.
    pub fn lucidctl_with(&self, sub: &str, files: &[PathBuf], extra: &[&str]) -> Output {
        run(
            self.command(&self.args_with(sub, files, extra)),
            LUCIDCTL_TIMEOUT,
        )
    }

    /// `lucidctl <sub> -f <state_dir> <engine args> <extra>`.
    pub fn lucidctl(&self, sub: &str, extra: &[&str]) -> Output {
        self.lucidctl_with(sub, std::slice::from_ref(&self.state_dir), extra)
    }

    /// Starts `lucidctl <sub> -f <state_dir> <engine args> <extra>` in the background.
    pub fn spawn(&self, sub: &str, extra: &[&str]) -> Running {
        Running::spawn(self.command(&self.args_with(
            sub,
            std::slice::from_ref(&self.state_dir),
            extra,
        )))
    }

    pub fn diff(&self, extra: &[&str]) -> Output {
        self.lucidctl("diff", extra)
    }

    /// `diff -o json`: the output and its parsed plan.
    #[track_caller]
    pub fn diff_json(&self, extra: &[&str]) -> (Output, Value) {
        let mut args = vec!["-o", "json"];
        args.extend_from_slice(extra);
        let out = self.diff(&args);
        let plan = out.json();
        (out, plan)
    }

    pub fn apply(&self, extra: &[&str]) -> Output {
        self.lucidctl("apply", extra)
    }

    /// apply, and panic with its output unless it exits 0.
    #[track_caller]
    pub fn apply_ok(&self, extra: &[&str]) -> Output {
        let out = self.apply(extra);
        assert_eq!(out.code(), 0, "apply should succeed: {out:?}");
        out
    }

    /// `diff` must exit 0 ("No changes"); returns its output.
    #[track_caller]
    pub fn assert_converged(&self) -> Output {
        // The list-first diff and the one that inspects every container agree.
        for extra in [&["--inspect-all"][..], &[]] {
            let out = self.diff(extra);
            assert_eq!(
                out.code(),
                0,
                "the engine should match the desired state: {out:?}"
            );
            assert!(
                out.stdout.contains("No changes"),
                "diff exit 0 should say so: {out:?}"
            );
        }
        self.diff(&[])
    }

    /// `secrets generate -f <files...> --secrets-dir <secrets_dir> <extra>`.
    pub fn secrets_generate(&self, files: &[PathBuf], extra: &[&str]) -> Output {
        let mut args: Vec<String> = vec!["secrets".into(), "generate".into()];
        for f in files {
            args.push("-f".into());
            args.push(f.display().to_string());
        }
        args.push("--secrets-dir".into());
        args.push(self.secrets_dir.display().to_string());
        args.extend(extra.iter().map(|a| a.to_string()));
        run(self.command(&args), LUCIDCTL_TIMEOUT)
    }

    /// The IDs of the named resources' containers (all must exist).
    #[track_caller]
    pub fn ids(&self, names: &[&str]) -> Vec<String> {
        names
            .iter()
            .map(|n| {
                container_id(&self.obj(n))
                    .unwrap_or_else(|| panic!("container {} does not exist", self.obj(n)))
            })
            .collect()
    }

    /// Containers of this project still named `<something>.prev`.
    pub fn prev_leftovers(&self) -> Vec<String> {
        project_containers(&self.project)
            .into_iter()
            .filter(|n| n.ends_with(".prev") || n.ends_with(".next"))
            .collect()
    }

    /// Removes everything this test created. Never panics; failures are logged
    /// (engine 20.10 sometimes cannot remove a network it leaked).
    pub fn cleanup(&self) {
        if !self.engine {
            return;
        }
        let filter = format!("label={PROJECT_LABEL}={}", self.project);
        let quiet = |args: &[&str]| -> Vec<String> {
            let mut cmd = Command::new("docker");
            cmd.args(args);
            match try_run(cmd, DOCKER_TIMEOUT) {
                Ok(out) if out.success() => lines(&out.stdout),
                Ok(out) => {
                    eprintln!("cleanup: {out:?}");
                    Vec::new()
                }
                Err(why) => {
                    eprintln!("cleanup: {why}");
                    Vec::new()
                }
            }
        };
        let try_run = |args: Vec<String>| {
            let mut cmd = Command::new("docker");
            cmd.args(&args);
            match try_run(cmd, DOCKER_TIMEOUT) {
                Ok(out) if out.success() => {}
                Ok(out) => eprintln!("cleanup (ignored): {out:?}"),
                Err(why) => eprintln!("cleanup (ignored): {why}"),
            }
        };
        let mut containers = quiet(&["ps", "-aq", "--filter", &filter]);
        for name in self
            .hand_made
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            if container_exists_quiet(name) {
                containers.push(name.clone());
            }
        }
        if !containers.is_empty() {
            let mut args = vec!["rm".to_string(), "-f".to_string(), "-v".to_string()];
            args.extend(containers);
            try_run(args);
        }
        for network in quiet(&["network", "ls", "-q", "--filter", &filter]) {
            try_run(vec!["network".into(), "rm".into(), network]);
        }
        for volume in quiet(&["volume", "ls", "-q", "--filter", &filter]) {
            try_run(vec!["volume".into(), "rm".into(), "-f".into(), volume]);
        }
        // Images lucidctl built for this project: untag by reference (never `rmi -f` by
        // ID, which would also drop other tags of the same image).
        for reference in quiet(&[
            "image",
            "ls",
            "--filter",
            &filter,
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ]) {
            if !reference.contains("<none>") {
                try_run(vec!["image".into(), "rm".into(), reference]);
            }
        }
    }
}

fn container_exists_quiet(name: &str) -> bool {
    let mut cmd = Command::new("docker");
    cmd.args(["container", "inspect", "--format", "{{.Id}}", name]);
    try_run(cmd, DOCKER_TIMEOUT).is_ok_and(|o| o.success())
}

fn write_file(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        println!(
            "{}: {:.1}s{}",
            self.name,
            self.started.elapsed().as_secs_f64(),
            if std::thread::panicking() {
                " (failed)"
            } else {
                ""
            }
        );
        self.cleanup();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------
// YAML building blocks for small stand-in systems
// ---------------------------------------------------------------------------

/// `apiVersion: lucid/v1alpha1` document header.
pub fn doc(kind: &str, name: &str, spec: &str) -> String {
    let mut out = format!(
        "---\napiVersion: lucid/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n"
    );
    for line in spec.lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A bridge network with no fixed subnet (parallel tests must not share subnets).
pub fn network(name: &str) -> String {
    doc("Network", name, "driver: bridge")
}

pub fn volume(name: &str) -> String {
    format!(
        "---\napiVersion: lucid/v1alpha1\nkind: Volume\nmetadata:\n  name: {name}\nspec: {{}}\n"
    )
}

/// A stand-in Service on `net` serving `port`, with an exec-form health check.
/// `extra` is more YAML under `spec:` (two-space indented lines are fine as is).
pub fn standin_service(
    name: &str,
    net: &str,
    port: u16,
    env: &[(&str, &str)],
    extra: &str,
) -> String {
    let mut spec = format!(
        "image: {STANDIN_IMAGE}\ncommand: [\"serve\"]\nnetworks:\n  - {{name: {net}}}\nenv:\n  STANDIN_NAME: {name}\n  STANDIN_PORTS: \"{port}\"\n"
    );
    for (k, v) in env {
        spec.push_str(&format!("  {k}: \"{v}\"\n"));
    }
    if !extra.contains("healthcheck:") {
        spec.push_str(&format!(
            "healthcheck: {{test: [\"CMD\", \"/standin\", \"probe\", \"{port}\"], interval: 1s, timeout: 2s, retries: 3, startPeriod: 0s}}\n"
        ));
    }
    if !extra.contains("stopGracePeriod:") {
        spec.push_str("stopGracePeriod: 5s\n");
    }
    spec.push_str(extra);
    doc("Service", name, &spec)
}
