//! `lucidctl logs`: a Service's container output by its resource name, the
//! same stream split as the container's, and -f following until stopped.

use lucid_e2e::*;
use std::time::Duration;

/// `logs <extra> --filename <state> <engine args>`: here -f means --follow.
fn logs_args(t: &TestEnv, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = std::iter::once("logs")
        .chain(extra.iter().copied())
        .map(String::from)
        .collect();
    args.push("--filename".into());
    args.push(t.state_dir.display().to_string());
    args.extend(t.engine_args());
    args
}

#[test]
fn logs_prints_a_service_s_output_by_its_resource_name_and_follows_with_dash_f() {
    let Some(t) = TestEnv::new("logs") else {
        return;
    };
    t.write(
        "system.yaml",
        &[network("net"), standin_service("web", "net", 8080, &[], "")].concat(),
    );
    t.apply_ok(&["--quiet", "--timeout", "60s"]);

    let out = run(
        t.command(&logs_args(&t, &["web", "--tail", "20"])),
        LUCIDCTL_TIMEOUT,
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stdout.contains("standin web listening on 8080"),
        "the container's stdout on stdout:\n{out:?}"
    );

    let missing = run(t.command(&logs_args(&t, &["nope"])), LUCIDCTL_TIMEOUT);
    assert_eq!(missing.code(), 1, "{missing:?}");
    assert!(
        missing.stderr.contains("no Service or Job named \"nope\"")
            && missing.stderr.contains("fix: use one of: web"),
        "{missing:?}"
    );

    // -f keeps the stream open while the container runs, and ends with it.
    let mut follow = Running::spawn(t.command(&logs_args(&t, &["web", "-f"])));
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !follow.finished(),
        "logs -f returned while the container runs"
    );
    docker_ok(&["stop", "-t", "1", &t.obj("web")]);
    let out = follow.wait(Duration::from_secs(30));
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("listening on 8080"), "{out:?}");
}
