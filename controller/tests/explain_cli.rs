//! `lucidctl explain` as a user runs it: the built binary, exit codes and streams.

use std::process::Command;

fn lucidctl_explain(query: &str) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lucidctl"))
        .args(["explain", "--", query])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_nested_field_prints_type_requiredness_and_description() {
    let (code, stdout, stderr) = lucidctl_explain("Service.spec.healthcheck.interval");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("FIELD:    Service.spec.healthcheck.interval"),
        "{stdout}"
    );
    assert!(stdout.contains("TYPE:     string"), "{stdout}");
    assert!(stdout.contains("REQUIRED: no"), "{stdout}");
    assert!(stdout.contains("duration"), "{stdout}");
}

#[test]
fn an_unknown_kind_or_field_exits_1_listing_what_exists() {
    let (code, stdout, stderr) = lucidctl_explain("Pod");
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("unknown kind \"Pod\""), "{stderr}");
    assert!(stderr.contains("IsolationPolicy"), "{stderr}");

    let (code, _, stderr) = lucidctl_explain("Image.spec.reff");
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("Image.spec has no field \"reff\""),
        "{stderr}"
    );
    assert!(stderr.contains("ref, platform, build, push"), "{stderr}");
}
