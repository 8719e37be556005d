//! The chaos soak's smoke mode (issue 22): the soak driver (src/bin/soak)
//! for a few minutes against its own Docker daemon, through ssh://, from a
//! git repository; fails on any invariant violation. The seed is printed;
//! `LUCID_E2E_SEED=<seed>` replays the schedule, `LUCID_SOAK_DURATION=10m`
//! runs it longer.

use lucid_e2e::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn a_short_chaos_soak_ends_with_no_invariant_violation() {
    if skip_requested() {
        println!("skipped: LUCID_E2E=skip");
        return;
    }
    // A whole Lucid system: one at a time with the other whole-Lucid tests (CPU, not names).
    let _one_at_a_time = full_lucid_lock();
    let duration = std::env::var("LUCID_SOAK_DURATION").unwrap_or_else(|_| "240s".into());
    let json = std::env::temp_dir().join(format!("soak-smoke-{}.json", std::process::id()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_soak"));
    cmd.args([
        "--smoke",
        "--duration",
        &duration,
        "--results",
        "none",
        "--json",
    ])
    .arg(&json)
    .arg("--lucidctl")
    .arg(lucidctl_bin());
    let out = run(cmd, Duration::from_secs(1800));
    println!("{}", out.stdout);
    eprintln!("{}", out.stderr);
    let _ = std::fs::remove_file(&json);
    assert_eq!(
        out.code(),
        0,
        "the soak found invariant violations (its output above names them and the seed to replay)"
    );
    assert!(
        out.stdout.contains("no invariant violations"),
        "the soak ran to its end: {out:?}"
    );
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
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

/// Found by the soak (seed 1796115354372194434, fault #99): a never-healthy
/// commit is rolled back and held, then the Docker daemon restarts. The hold
/// must still show, and the old container keep serving, once the engine is back.
#[test]
fn a_held_rollout_stays_held_across_an_engine_restart() {
    use lucid_e2e::dockerd::Dockerd;
    let Some(t) = TestEnv::new("heldrestart") else {
        return;
    };
    let mut d = Dockerd::start("heldrestart");
    d.load_image(STANDIN_IMAGE);
    let bare = t.dir.join("origin.git");
    let work = t.dir.join("work");
    std::fs::create_dir_all(work.join("state")).unwrap();
    git(
        &t.dir,
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["config", "user.email", "e2e@example.invalid"]);
    git(&work, &["config", "user.name", "e2e"]);
    let net = doc(
        "Network",
        "net",
        &format!("driver: bridge\nsubnet: {}\n", d.subnet(1)),
    );
    let commit = |greeting: &str, probe: u16| {
        let web = standin_service("web", "net", 8080, &[("GREETING", greeting)], "")
            .replace("\"probe\", \"8080\"", &format!("\"probe\", \"{probe}\""));
        std::fs::write(work.join("state/system.yaml"), [net.clone(), web].concat()).unwrap();
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", greeting]);
        git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);
        git(&work, &["rev-parse", "HEAD"])
    };
    let good = commit("good", 8080);
    let addr = format!("127.0.0.1:{}", free_port());
    let url = format!("file://{}", bare.display());
    let cache = t.dir.join("cache").display().to_string();
    let mut args = vec![
        "run",
        "-H",
        &d.host,
        "--git",
        &url,
        "--path",
        "state",
        "--poll",
        "1s",
        "--cache-dir",
        &cache,
        "--listen",
        &addr,
        "--resync",
        "10m",
        "--timeout",
        "30s",
    ];
    let engine_args = t.engine_args();
    args.extend(engine_args.iter().map(String::as_str));
    let run = Running::spawn(t.command(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>()));
    let web = |d: &Dockerd| {
        let out = d.docker(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{index .Config.Labels \"io.lucidctl.revision\"}}",
            &t.obj("web"),
        ]);
        out.success().then(|| out.stdout.trim().to_string())
    };
    let held = || {
        loop_status(&addr).is_some_and(|s| {
            s["held"]
                .as_array()
                .is_some_and(|h| h.iter().any(|x| x["name"] == "web"))
        })
    };
    assert!(
        wait_for(Duration::from_secs(120), || web(&d)
            == Some(format!("true {good}"))),
        "the good commit serves: {:?}",
        loop_status(&addr)
    );
    commit("never-healthy", 9);
    assert!(
        wait_for(Duration::from_secs(90), held),
        "the never-healthy commit is held: {:?}",
        loop_status(&addr)
    );
    d.stop();
    d.start_again();
    let back = wait_for(Duration::from_secs(90), || {
        held() && web(&d) == Some(format!("true {good}"))
    });
    let status = loop_status(&addr);
    let leftovers = d
        .docker(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .stdout;
    let out = run.kill();
    assert!(
        back,
        "after the engine restart the rollout is still held and the good container serves: {status:?}\n{leftovers}\n{}",
        out.stderr.lines().rev().take(30).collect::<Vec<_>>().join("\n")
    );
}
