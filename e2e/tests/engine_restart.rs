//! Engine faults (issue 18): the Docker daemon restarts while `lucidctl run`
//! watches it. The daemon is the test's own (`lucid_e2e::dockerd`): the system
//! daemon is never stopped.

use lucid_e2e::dockerd::Dockerd;
use lucid_e2e::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The network takes a subnet of the daemon's own range (see lucid_e2e::dockerd).
fn system(d: &Dockerd) -> String {
    [
        doc(
            "Network",
            "net",
            &format!("driver: bridge\nsubnet: {}\n", d.subnet(1)),
        ),
        standin_service("web", "net", 8080, &[], ""),
        standin_service(
            "api",
            "net",
            8081,
            &[],
            "dependsOn:\n  - {name: web, condition: healthy}\n",
        ),
    ]
    .concat()
}

fn all_ready(status: &Value) -> bool {
    status["resources"]
        .as_array()
        .is_some_and(|r| !r.is_empty() && r.iter().all(|x| x["state"] == "ready"))
}

/// Names of every container of the project on the test's daemon, running or not.
fn containers(d: &Dockerd, project: &str) -> BTreeSet<String> {
    let filter = format!("label={PROJECT_LABEL}={project}");
    d.docker_ok(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect()
}

fn state_of(d: &Dockerd, name: &str) -> Option<(String, bool)> {
    let out = d.docker(&[
        "container",
        "inspect",
        "--format",
        "{{.Id}} {{.State.Running}}",
        name,
    ]);
    let text = out.stdout.trim().to_string();
    let (id, running) = text.split_once(' ')?;
    out.success().then(|| (id.to_string(), running == "true"))
}

#[test]
fn run_survives_an_engine_restart_and_repairs_drift_made_meanwhile() {
    let Some(t) = TestEnv::new("enginerestart") else {
        return;
    };
    let mut d = Dockerd::start("restart");
    d.load_image(STANDIN_IMAGE);
    t.write("system.yaml", &system(&d));
    let addr = format!("127.0.0.1:{}", free_port());
    let mut run = t.spawn(
        "run",
        &[
            "-H",
            &d.host,
            "--listen",
            &addr,
            // Far away: every repair below comes from events or the reconnection.
            "--resync",
            "10m",
            "--timeout",
            "60s",
        ],
    );
    assert!(
        wait_for(Duration::from_secs(120), || loop_status(&addr)
            .is_some_and(|s| all_ready(&s))),
        "the loop converges on the test's daemon: {:?}",
        loop_status(&addr)
    );
    let expected: BTreeSet<String> = [t.obj("api"), t.obj("web")].into();
    assert_eq!(containers(&d, &t.project), expected);

    // Three restarts: the loop's pass in flight while the daemon shuts down
    // meets different moments of it (once, the lock volume was left without
    // labels and the loop spun on it forever).
    for cycle in 1..=3 {
        let web_before = state_of(&d, &t.obj("web")).expect("web exists").0;
        // The daemon goes away: the loop notices and says so.
        d.stop();
        let down = Instant::now();
        assert!(
            wait_for(Duration::from_secs(30), || {
                http_get(&addr, "/healthz").is_some_and(|b| b.contains("engine disconnected"))
            }),
            "cycle {cycle}: /healthz reports the lost engine: {:?} {:?}",
            http_get(&addr, "/healthz"),
            loop_status(&addr)
        );
        assert!(
            loop_status(&addr).is_some_and(|s| s["disconnected_since"].is_string()),
            "cycle {cycle}: {:?}",
            loop_status(&addr)
        );
        assert!(!run.finished(), "the loop keeps running without its engine");

        // It comes back, and drift is made before the loop can act on it.
        d.start_again();
        let back = Instant::now();
        d.docker_ok(&["rm", "-f", &t.obj("web")]);
        let recovered = wait_for(Duration::from_secs(60), || {
            loop_status(&addr).is_some_and(|s| s["disconnected_since"].is_null() && all_ready(&s))
                && state_of(&d, &t.obj("web")).is_some_and(|(_, running)| running)
                && state_of(&d, &t.obj("api")).is_some_and(|(_, running)| running)
        });
        if !recovered {
            let status = loop_status(&addr);
            let left = containers(&d, &t.project);
            panic!(
                "cycle {cycle}: the loop reconnects and repairs: {status:?}\ncontainers: {left:?}\nrun: {:?}\ndaemon log: {}",
                run.kill(),
                d.log()
            );
        }
        println!(
            "cycle {cycle}: daemon down for {:.1}s, web removed right after the restart; recovered {:.1}s after the daemon answered again",
            (back - down).as_secs_f64(),
            back.elapsed().as_secs_f64()
        );
        assert_eq!(http_get(&addr, "/healthz").as_deref(), Some("ok\n"));
        let web_after = state_of(&d, &t.obj("web")).expect("web exists").0;
        assert_ne!(web_after, web_before, "cycle {cycle}: web was recreated");
        assert_eq!(
            containers(&d, &t.project),
            expected,
            "cycle {cycle}: exactly one container per service"
        );
    }

    // The events stream is live again: a new drift is repaired at once, long
    // before the 10-minute resync.
    d.docker_ok(&["stop", "-t", "1", &t.obj("api")]);
    let stopped = Instant::now();
    assert!(
        wait_for(Duration::from_secs(30), || state_of(&d, &t.obj("api"))
            .is_some_and(|(_, running)| running)),
        "a stop after the restart is seen through the reopened events stream: {:?}",
        loop_status(&addr)
    );
    println!(
        "a stop after the restart was repaired in {:.1}s",
        stopped.elapsed().as_secs_f64()
    );
    assert_eq!(containers(&d, &t.project), expected);
    let diff = t.lucidctl("diff", &["-H", &d.host]);
    assert_eq!(diff.code(), 0, "converged: {diff:?}");

    let _ = std::process::Command::new("kill")
        .args(["-TERM", "--", &run.pid().to_string()])
        .status();
    assert!(
        wait_for(Duration::from_secs(30), || run.finished()),
        "SIGTERM stops the loop"
    );
    let out = run.wait(Duration::from_secs(5));
    assert_eq!(out.code(), 0, "{out:?}");
    // `d` is dropped before `t`: the daemon's objects and directories go with it.
}
