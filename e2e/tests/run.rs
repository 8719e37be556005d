//! `lucidctl run` (issue 6): drift repaired through engine events, broken
//! input keeping the last good state, a git source, and a clean SIGTERM.

use lucid_e2e::*;
use std::time::Duration;

fn system(t: &TestEnv, greeting: &str) -> String {
    let _ = t;
    [
        network("net"),
        network("iso"),
        doc(
            "IsolationPolicy",
            "iso-policy",
            "network: iso\nmembers: [vault]\n",
        ),
        standin_service("web", "net", 8080, &[("GREETING", greeting)], ""),
        standin_service(
            "api",
            "net",
            8081,
            &[],
            "dependsOn:\n  - {name: web, condition: healthy}\n",
        ),
        standin_service("vault", "iso", 8082, &[], ""),
    ]
    .concat()
}

#[test]
fn run_repairs_drift_reports_status_and_stops_on_sigterm() {
    let Some(t) = TestEnv::new("runloop") else {
        return;
    };
    t.write("system.yaml", &system(&t, "one"));
    let addr = format!("127.0.0.1:{}", free_port());
    let mut run = t.spawn(
        "run",
        &["--listen", &addr, "--resync", "10m", "--timeout", "60s"],
    );
    assert!(
        wait_for(Duration::from_secs(90), || loop_status(&addr).is_some_and(
            |s| s["resources"]
                .as_array()
                .is_some_and(|r| !r.is_empty() && r.iter().all(|x| x["state"] == "ready"))
        )),
        "the loop converges and reports ready: {:?}",
        loop_status(&addr)
    );

    // Removed by hand: recreated from the event, not the 10-minute resync.
    docker_ok(&["rm", "-f", &t.obj("web")]);
    assert!(
        wait_for(Duration::from_secs(30), || running(&t.obj("web"))),
        "a removed container is recreated"
    );
    // Stopped by hand: started again.
    docker_ok(&["stop", "-t", "1", &t.obj("api")]);
    assert!(
        wait_for(Duration::from_secs(30), || running(&t.obj("api"))),
        "a stopped container is started"
    );
    // Joined to the isolated network by hand: disconnected and counted as a violation.
    docker_ok(&["network", "connect", &t.obj("iso"), &t.obj("api")]);
    assert!(
        wait_for(Duration::from_secs(30), || inspect_container(&t.obj("api"))
            .is_some_and(|c| c["NetworkSettings"]["Networks"]
                .get(t.obj("iso"))
                .is_none())),
        "the isolated network is left again"
    );
    // Counters are updated when the pass that made the repair ends.
    assert!(
        wait_for(Duration::from_secs(30), || {
            http_get(&addr, "/metrics")
                .is_some_and(|m| m.contains("lucidctl_policy_violations_total 1"))
        }),
        "{:?}",
        http_get(&addr, "/metrics")
    );
    let metrics = http_get(&addr, "/metrics").unwrap_or_default();
    assert!(
        metrics.contains("lucidctl_drift_repairs_total{kind=\"Service\"}"),
        "{metrics}"
    );
    assert_eq!(http_get(&addr, "/healthz").as_deref(), Some("ok\n"));

    // Broken input changes nothing and is reported; fixing it recovers.
    let before = t.ids(&["web", "api"]);
    t.write(
        "system.yaml",
        "apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: web\n",
    );
    assert!(
        wait_for(Duration::from_secs(20), || loop_status(&addr).is_some_and(
            |s| s["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("invalid desired state"))
        )),
        "{:?}",
        loop_status(&addr)
    );
    assert_eq!(
        t.ids(&["web", "api"]),
        before,
        "invalid input changes nothing"
    );
    // An empty desired set removes nothing either.
    t.write("system.yaml", "");
    assert!(
        wait_for(Duration::from_secs(20), || loop_status(&addr).is_some_and(
            |s| s["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("empty"))
        )),
        "{:?}",
        loop_status(&addr)
    );
    assert_eq!(
        t.ids(&["web", "api"]),
        before,
        "an empty set removes nothing"
    );
    t.write("system.yaml", &system(&t, "two"));
    assert!(
        wait_for(Duration::from_secs(60), || t.diff(&[]).code() == 0),
        "a fixed input converges"
    );
    assert_ne!(t.ids(&["web"]), before[..1], "the env change recreated web");

    // SIGTERM ends the loop cleanly.
    let pid = run.pid();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    assert!(
        wait_for(Duration::from_secs(30), || run.finished()),
        "SIGTERM stops the loop"
    );
    let out = run.wait(Duration::from_secs(5));
    assert_eq!(out.code(), 0, "{out:?}");
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
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

/// A bare repository to push desired state to, and `run --git` arguments for it.
struct Origin {
    bare: std::path::PathBuf,
    work: std::path::PathBuf,
}

impl Origin {
    fn new(t: &TestEnv) -> Origin {
        let bare = t.dir.join("origin.git");
        let work = t.dir.join("work");
        std::fs::create_dir_all(&work).unwrap();
        git(
            &t.dir,
            &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
        );
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["config", "user.email", "e2e@example.invalid"]);
        git(&work, &["config", "user.name", "e2e"]);
        Origin { bare, work }
    }

    /// Commits `text` as state/system.yaml, pushes it and returns the commit.
    fn commit(&self, text: &str, message: &str) -> String {
        std::fs::create_dir_all(self.work.join("state")).unwrap();
        std::fs::write(self.work.join("state/system.yaml"), text).unwrap();
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "-m", message]);
        git(
            &self.work,
            &["push", "-q", self.bare.to_str().unwrap(), "main"],
        );
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Commits a network and a `web` stand-in greeting with `greeting`.
    fn commit_web(&self, greeting: &str) -> String {
        self.commit(
            &[
                network("net"),
                standin_service("web", "net", 8080, &[("GREETING", greeting)], ""),
            ]
            .concat(),
            greeting,
        )
    }

    fn run_args(&self, t: &TestEnv, addr: &str) -> Vec<String> {
        let url = format!("file://{}", self.bare.display());
        let cache = t.dir.join("cache").display().to_string();
        let mut args: Vec<String> = [
            "run",
            "--git",
            &url,
            "--branch",
            "main",
            "--path",
            "state",
            "--poll",
            "1s",
            "--cache-dir",
            &cache,
            "--listen",
            addr,
            "--resync",
            "10m",
        ]
        .map(String::from)
        .to_vec();
        args.extend(t.engine_args());
        args
    }
}

/// The git revision recorded on a container.
fn revision_of(name: &str) -> Option<String> {
    inspect_container(name).and_then(|c| {
        c["Config"]["Labels"]["io.lucidctl.revision"]
            .as_str()
            .map(String::from)
    })
}

#[test]
fn run_follows_a_git_source_and_records_the_revision() {
    let Some(t) = TestEnv::new("rungit") else {
        return;
    };
    let origin = Origin::new(&t);
    let commit_system = |greeting: &str| origin.commit_web(greeting);
    let first = commit_system("one");
    let addr = format!("127.0.0.1:{}", free_port());
    let run = Running::spawn(t.command(&origin.run_args(&t, &addr)));
    assert!(
        wait_for(Duration::from_secs(90), || revision_of(&t.obj("web"))
            .as_deref()
            == Some(first.as_str())),
        "the first commit is applied and recorded: {:?}",
        loop_status(&addr)
    );
    let second = commit_system("two");
    assert!(
        wait_for(Duration::from_secs(60), || revision_of(&t.obj("web"))
            .as_deref()
            == Some(second.as_str())),
        "a new commit is picked up: {:?}",
        loop_status(&addr)
    );
    let s = loop_status(&addr).expect("status");
    assert_eq!(s["applied_revision"].as_str(), Some(second.as_str()));
    let env = inspect_container(&t.obj("web"))
        .map(|c| c["Config"]["Env"].to_string())
        .unwrap_or_default();
    assert!(env.contains("GREETING=two"), "{env}");
    drop(run);
}

/// Issue 25: an edit that arrives while a pass runs was consumed after the
/// pass and lost until the next resync. Six times: remove the container by
/// hand (which starts a pass), and 0.5 s later rewrite the file with a new
/// value; each value must reach the container.
#[test]
fn run_applies_every_edit_made_while_a_pass_is_running() {
    let Some(t) = TestEnv::new("runedits") else {
        return;
    };
    let one = |greeting: &str| standin_service("web", "net", 8080, &[("GREETING", greeting)], "");
    t.write("system.yaml", &[network("net"), one("v0")].concat());
    let addr = format!("127.0.0.1:{}", free_port());
    let _run = t.spawn(
        "run",
        &["--listen", &addr, "--resync", "10m", "--timeout", "60s"],
    );
    let greeting = || {
        inspect_container(&t.obj("web")).and_then(|c| {
            c["Config"]["Env"].as_array().and_then(|env| {
                env.iter()
                    .filter_map(|e| e.as_str())
                    .find_map(|e| e.strip_prefix("GREETING=").map(String::from))
            })
        })
    };
    assert!(
        wait_for(Duration::from_secs(90), || greeting().as_deref()
            == Some("v0")
            && running(&t.obj("web"))),
        "the loop converges: {:?}",
        loop_status(&addr)
    );
    for round in 1..=6 {
        let want = format!("v{round}");
        docker_ok(&["rm", "-f", &t.obj("web")]);
        std::thread::sleep(Duration::from_millis(500));
        // Atomically, as an editor or a git checkout does.
        let tmp = t.write("system.yaml.tmp", &[network("net"), one(&want)].concat());
        std::fs::rename(&tmp, tmp.with_file_name("system.yaml"))
            .expect("rename the edited file into place");
        assert!(
            wait_for(Duration::from_secs(15), || greeting().as_deref()
                == Some(want.as_str())
                && running(&t.obj("web"))),
            "round {round}: the edit to {want} was not applied within 15 s: {:?}",
            loop_status(&addr)
        );
    }
}

/// Issue 24: a broken input keeps the loop healing against the last good
/// state; nothing of the broken input is applied; a fix applies at once.
#[test]
fn run_keeps_healing_on_the_last_good_state_while_the_input_is_broken() {
    let Some(t) = TestEnv::new("lastgood") else {
        return;
    };
    t.write("system.yaml", &system(&t, "one"));
    let addr = format!("127.0.0.1:{}", free_port());
    let _run = t.spawn(
        "run",
        &["--listen", &addr, "--resync", "10m", "--timeout", "60s"],
    );
    assert!(
        wait_for(Duration::from_secs(90), || t.diff(&[]).code() == 0),
        "the loop converges: {:?}",
        loop_status(&addr)
    );
    // A bad commit that would also change the greeting.
    t.write(
        "system.yaml",
        &system(&t, "two").replacen("kind: Service", "kind: Servce", 1),
    );
    assert!(
        wait_for(Duration::from_secs(20), || loop_status(&addr).is_some_and(
            |s| s["last_error"]
                .as_str()
                .is_some_and(|e| e.starts_with("running on last good revision")
                    && e.contains("current input broken"))
                && s["input_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("system.yaml:"))
        )),
        "{:?}",
        loop_status(&addr)
    );
    docker_ok(&["rm", "-f", &t.obj("web")]);
    docker_ok(&["network", "connect", &t.obj("iso"), &t.obj("api")]);
    assert!(
        wait_for(Duration::from_secs(30), || running(&t.obj("web"))
            && inspect_container(&t.obj("api"))
                .is_some_and(|c| c["NetworkSettings"]["Networks"]
                    .get(t.obj("iso"))
                    .is_none())),
        "both repaired on the last good state: {:?}",
        loop_status(&addr)
    );
    let env = inspect_container(&t.obj("web"))
        .map(|c| c["Config"]["Env"].to_string())
        .unwrap_or_default();
    assert!(
        env.contains("GREETING=one"),
        "nothing of the broken input: {env}"
    );
    assert_eq!(http_get(&addr, "/healthz").as_deref(), Some("ok\n"));
    t.write("system.yaml", &system(&t, "two"));
    assert!(
        wait_for(Duration::from_secs(30), || inspect_container(&t.obj("web"))
            .is_some_and(|c| c["Config"]["Env"]
                .to_string()
                .contains("GREETING=two"))),
        "the fix is applied: {:?}",
        loop_status(&addr)
    );
}

/// Issue 14: a revision that never becomes healthy is tried once under
/// `run`, rolled back, and held; the old container keeps serving throughout
/// (start-first: it is never stopped for the attempt).
#[test]
fn run_tries_a_bad_revision_once_and_keeps_the_old_container_serving() {
    let Some(t) = TestEnv::new("heldrev") else {
        return;
    };
    let web = |env: &[(&str, &str)]| {
        [network("net"), standin_service("web", "net", 8080, env, "")].concat()
    };
    t.write("system.yaml", &web(&[("MODE", "good")]));
    let addr = format!("127.0.0.1:{}", free_port());
    let _run = t.spawn(
        "run",
        &["--listen", &addr, "--resync", "10m", "--timeout", "20s"],
    );
    // Converged, and the old container past its first health check: a
    // loaded machine can take longer than the loop to run it (CI, beside a soak).
    assert!(
        wait_for(Duration::from_secs(90), || t.diff(&[]).code() == 0
            && inspect_container(&t.obj("web"))
                .is_some_and(|c| c["State"]["Health"]["Status"] == "healthy")),
        "the loop converges: {:?}",
        loop_status(&addr)
    );
    let old = t.ids(&["web"]);
    t.write(
        "system.yaml",
        &web(&[("MODE", "bad"), ("STANDIN_UNHEALTHY", "1")]),
    );
    // Sample the old container's health every 0.5 s for 30 s.
    let (mut healthy, mut samples) = (0, 0);
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let c = inspect_container(&t.obj("web"));
        samples += 1;
        if c.as_ref().is_some_and(|c| {
            c["Id"].as_str() == Some(old[0].as_str()) && c["State"]["Health"]["Status"] == "healthy"
        }) {
            healthy += 1;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        healthy * 100 >= samples * 95,
        "the old container answered in {healthy} of {samples} samples"
    );
    let status = loop_status(&addr).expect("status");
    let web_status = status["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["name"] == "web").cloned())
        .expect("web in status");
    assert_eq!(web_status["state"], "degraded", "{status}");
    assert!(
        web_status["last_error"].as_str().is_some_and(
            |e| e.contains("rollout of") && e.contains("running the previous container")
        ),
        "{status}"
    );
    let (out, plan) = t.diff_json(&[]);
    out.expect_code(2);
    assert_eq!(plan["held"].as_array().map(Vec::len), Some(1), "{plan}");
    assert_eq!(plan["changes"].as_array().map(Vec::len), Some(0), "{plan}");
    // One attempt only: one failure record, and the old container was never replaced.
    assert_eq!(t.ids(&["web"]), old);
    let records = docker_ok(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=io.lucidctl.project={}", t.project),
        "--filter",
        "label=io.lucidctl.kind=FailedRollout",
    ]);
    assert_eq!(records.lines().count(), 1, "{records}");
}

/// Issue 24: lucidctl restarted while the branch's newest commit is broken
/// goes back to the commit recorded on the engine's objects and keeps healing.
#[test]
fn run_git_restarted_on_a_bad_commit_heals_on_the_revision_recorded_on_the_engine() {
    let Some(t) = TestEnv::new("gitbad") else {
        return;
    };
    let origin = Origin::new(&t);
    let commit = |text: &str, message: &str| origin.commit(text, message);
    let good = [
        network("net"),
        standin_service("web", "net", 8080, &[("GREETING", "one")], ""),
    ]
    .concat();
    let first = commit(&good, "good");
    let addr = format!("127.0.0.1:{}", free_port());
    let args = origin.run_args(&t, &addr);
    {
        let _run = Running::spawn(t.command(&args));
        assert!(
            wait_for(Duration::from_secs(90), || revision_of(&t.obj("web"))
                .as_deref()
                == Some(first.as_str())),
            "the good commit is applied: {:?}",
            loop_status(&addr)
        );
    }
    // lucidctl is gone; a bad commit lands; lucidctl starts again.
    commit(&good.replacen("kind: Service", "kind: Servce", 1), "bad");
    let _run = Running::spawn(t.command(&args));
    assert!(
        wait_for(Duration::from_secs(60), || loop_status(&addr).is_some_and(
            |s| s["last_error"]
                .as_str()
                .is_some_and(|e| e.starts_with(&format!("running on last good revision {first}")))
        )),
        "{:?}",
        loop_status(&addr)
    );
    let before = t.ids(&["web"]);
    docker_ok(&["rm", "-f", &t.obj("web")]);
    assert!(
        wait_for(Duration::from_secs(30), || running(&t.obj("web"))
            && container_id(&t.obj("web")).is_some_and(|id| id != before[0])),
        "the removed service is recreated from the last good commit: {:?}",
        loop_status(&addr)
    );
    assert_eq!(revision_of(&t.obj("web")).as_deref(), Some(first.as_str()));
}

/// A webhook receiver on loopback: every JSON body it is sent.
fn receiver() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a receiver");
    let url = format!(
        "http://{}/hooks/t0ken",
        listener.local_addr().expect("addr")
    );
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for mut sock in listener.incoming().flatten() {
            let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = sock.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                let Some((head, body)) = text.split_once("\r\n\r\n") else {
                    continue;
                };
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if body.len() < len {
                    continue;
                }
                if let Ok(v) = serde_json::from_str(body) {
                    keep.lock().unwrap().push(v);
                }
                let _ = sock.write_all(
                    b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                break;
            }
        }
    });
    (url, got)
}

/// Issue 15 (notifications): a bad revision gives exactly one rollback
/// notification, a network joined by hand one policy violation, and a
/// receiver that is down does not slow the loop.
#[test]
fn run_notifies_a_rollback_and_a_policy_violation_once_each() {
    let Some(t) = TestEnv::new("notify") else {
        return;
    };
    let (url, got) = receiver();
    t.write("system.yaml", &system(&t, "one"));
    let addr = format!("127.0.0.1:{}", free_port());
    let _run = t.spawn(
        "run",
        &[
            "--listen",
            &addr,
            "--resync",
            "10m",
            "--timeout",
            "15s",
            "--notify",
            &url,
            "--notify",
            "http://127.0.0.1:9/down",
        ],
    );
    assert!(
        wait_for(Duration::from_secs(90), || t.diff(&[]).code() == 0),
        "the loop converges: {:?}",
        loop_status(&addr)
    );
    let events = |name: &str| {
        got.lock()
            .unwrap()
            .iter()
            .filter(|v| v["event"] == name)
            .cloned()
            .collect::<Vec<_>>()
    };
    docker_ok(&["network", "connect", &t.obj("iso"), &t.obj("api")]);
    assert!(
        wait_for(Duration::from_secs(30), || !events("policy-violation")
            .is_empty()),
        "{:?}",
        got.lock().unwrap()
    );
    t.write(
        "system.yaml",
        &system(&t, "two").replacen(
            "    GREETING: \"two\"\n",
            "    GREETING: \"two\"\n    STANDIN_UNHEALTHY: \"1\"\n",
            1,
        ),
    );
    assert!(
        wait_for(Duration::from_secs(60), || !events("rollout-held")
            .is_empty()),
        "{:?} {:?}",
        got.lock().unwrap(),
        loop_status(&addr)
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        events("rollout-failed").len(),
        1,
        "{:?}",
        got.lock().unwrap()
    );
    assert_eq!(
        events("policy-violation").len(),
        1,
        "{:?}",
        got.lock().unwrap()
    );
    let rollback = &events("rollout-failed")[0];
    assert_eq!(rollback["resource"], "Service/web");
    assert!(!got
        .lock()
        .unwrap()
        .iter()
        .any(|v| v.to_string().contains("t0ken")));
}

/// POST `body` to the loop with `headers`; the HTTP status code.
fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    let mut cmd = std::process::Command::new("curl");
    cmd.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "5",
        "-X",
        "POST",
    ]);
    for (k, v) in headers {
        cmd.args(["-H", &format!("{k}: {v}")]);
    }
    cmd.args(["--data-binary", body, "--", &format!("http://{addr}{path}")]);
    let out = cmd.output().expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Issue 15: with a long --poll, only a verified push wakes the loop at once;
/// unsigned, wrongly signed and other-branch pushes change nothing, and the
/// refusals are counted in /metrics.
#[test]
fn a_signed_git_webhook_fetches_at_once_and_bad_signatures_get_401() {
    let Some(t) = TestEnv::new("runhook") else {
        return;
    };
    let origin = Origin::new(&t);
    let commit_system = |greeting: &str| origin.commit_web(greeting);
    let first = commit_system("one");
    let secret_file = t.write_aside("hook-secret", "hunter2-hook\n");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut args = origin.run_args(&t, &addr);
    let poll = args.iter().position(|a| a == "--poll").unwrap();
    args[poll + 1] = "10m".into();
    args.extend([
        "--webhook-secret".to_string(),
        format!("file:{}", secret_file.display()),
    ]);
    let run = Running::spawn(t.command(&args));
    assert!(
        wait_for(Duration::from_secs(90), || revision_of(&t.obj("web"))
            .as_deref()
            == Some(first.as_str())),
        "the first commit is applied: {:?}",
        loop_status(&addr)
    );
    // Let the first rollout's own passes (health, requeues) die down: any
    // pass fetches, so only an idle loop shows what wakes it.
    let passes = || loop_status(&addr).and_then(|s| s["last_reconcile"].as_str().map(String::from));
    let mut last = passes();
    let idle_since = std::time::Instant::now();
    loop {
        std::thread::sleep(Duration::from_secs(3));
        let now = passes();
        if now == last {
            break;
        }
        assert!(
            idle_since.elapsed() < Duration::from_secs(60),
            "the loop never went idle"
        );
        last = now;
    }
    let second = commit_system("two");
    let push_main = r#"{"ref":"refs/heads/main","after":"x"}"#;
    let push_dev = r#"{"ref":"refs/heads/dev","after":"x"}"#;
    let good = reconcilers::run::github_signature(b"hunter2-hook", push_main.as_bytes());
    let wrong = reconcilers::run::github_signature(b"guess", push_main.as_bytes());
    let dev = reconcilers::run::github_signature(b"hunter2-hook", push_dev.as_bytes());
    assert_eq!(
        post(
            &addr,
            "/hooks/git",
            &[("X-GitHub-Event", "push")],
            push_main
        ),
        401
    );
    assert_eq!(
        post(
            &addr,
            "/hooks/git",
            &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &wrong)],
            push_main
        ),
        401
    );
    assert_eq!(
        post(
            &addr,
            "/hooks/git",
            &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &dev)],
            push_dev
        ),
        202
    );
    assert_eq!(
        post(
            &addr,
            "/hooks/git",
            &[("X-Gitlab-Token", "nope")],
            push_main
        ),
        401
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        revision_of(&t.obj("web")).as_deref(),
        Some(first.as_str()),
        "nothing but a verified push to main may fetch"
    );
    assert_eq!(
        post(
            &addr,
            "/hooks/git",
            &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &good)],
            push_main
        ),
        202
    );
    assert!(
        wait_for(Duration::from_secs(60), || revision_of(&t.obj("web"))
            .as_deref()
            == Some(second.as_str())),
        "a verified push fetches at once (poll is 10m): {:?}",
        loop_status(&addr)
    );
    let metrics = http_get(&addr, "/metrics").unwrap_or_default();
    assert!(
        metrics.contains("lucidctl_webhook_requests_total{result=\"unauthorized\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("lucidctl_webhook_requests_total{result=\"accepted\"} 1"),
        "{metrics}"
    );
    let out = run.kill();
    assert!(!out.all().contains("hunter2"), "the secret reached the log");
}

/// GET with an optional bearer token; the HTTP status code.
fn get_code(addr: &str, path: &str, token: Option<&str>) -> u16 {
    let mut cmd = std::process::Command::new("curl");
    cmd.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "5",
    ]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    cmd.args(["--", &format!("http://{addr}{path}")]);
    let out = cmd.output().expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Issue 15: with --listen-token, /status and /metrics need the token and
/// /healthz stays open for probes; port 0 is logged as the port bound.
#[test]
fn a_listen_token_guards_status_but_not_healthz_and_port_0_is_reported_as_bound() {
    let Some(t) = TestEnv::new("runtoken") else {
        return;
    };
    t.write(
        "system.yaml",
        &[network("net"), standin_service("web", "net", 8080, &[], "")].concat(),
    );
    let token_file = t.write_aside("token", "let-me-in\n");
    let token_flag = format!("file:{}", token_file.display());
    let log = t.dir.join("run.log");
    let mut cmd = t.command(&t.args_with(
        "run",
        std::slice::from_ref(&t.state_dir),
        &[
            "--listen",
            "127.0.0.1:0",
            "--listen-token",
            &token_flag,
            "--resync",
            "10m",
        ],
    ));
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"));
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let run = Killed(cmd.spawn().expect("lucidctl run starts"));
    // The log names the address actually bound.
    let addr = {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let so_far = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(rest) = so_far.split("status on http://").nth(1) {
                break rest.split('/').next().unwrap_or("").to_string();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no bound address logged:\n{so_far}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    assert!(!addr.ends_with(":0"), "{addr}");
    assert_eq!(get_code(&addr, "/healthz", None), 200);
    assert_eq!(get_code(&addr, "/status", None), 401);
    assert_eq!(get_code(&addr, "/metrics", Some("wrong")), 401);
    assert_eq!(get_code(&addr, "/status", Some("let-me-in")), 200);
    // A browser: HTTP Basic with the token as the password, for the page.
    let basic = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
            "-u",
            "anyone:let-me-in",
            "--",
        ])
        .arg(format!("http://{addr}/"))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&basic.stdout).trim(), "200");
    assert_eq!(get_code(&addr, "/", None), 401);
    drop(run);
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!logged.contains("let-me-in"), "the token reached the log");
}
