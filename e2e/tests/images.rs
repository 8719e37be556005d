//! Image builds (issue 4): content-hashed builds against the real engine, a
//! failing build, a platform mismatch, and push, pull and prune against a real
//! registry on loopback (started by scripts/test.sh, given as LUCID_TEST_REGISTRY).

use lucid_e2e::*;

fn image_doc(name: &str, reference: &str, extra: &str) -> String {
    doc(
        "Image",
        name,
        &format!("ref: {reference}\nbuild: {{context: ctx}}\n{extra}"),
    )
}

/// Removes the test's image tags even when an assertion fails.
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        for r in &self.0 {
            let _ = std::process::Command::new("docker")
                .args(["rmi", "-f", r])
                .output();
        }
    }
}

fn write_context(t: &TestEnv, greeting: &str) {
    t.write(
        "ctx/Dockerfile",
        &format!("FROM {STANDIN_IMAGE}\nCOPY greeting /greeting\n"),
    );
    t.write("ctx/greeting", greeting);
    t.write("ctx/.dockerignore", "ignored.txt\n");
    t.write("ctx/ignored.txt", "not part of the image\n");
}

#[test]
fn builds_only_when_the_build_context_changes() {
    let Some(t) = TestEnv::new("imgbuild") else {
        return;
    };
    let reference = format!("{}/app:1", t.project);
    let _images = Images(vec![reference.clone()]);
    write_context(&t, "hello\n");
    t.write(
        "system.yaml",
        &[
            network("net"),
            image_doc("app", &reference, ""),
            standin_service("web", "net", 8080, &[], "").replace(STANDIN_IMAGE, &reference),
        ]
        .concat(),
    );

    let first = t.lucidctl("build", &[]);
    assert_eq!(first.code(), 0, "{first:?}");
    assert!(
        first.stderr.contains("building"),
        "the first build builds: {first:?}"
    );
    let id1 = docker_ok(&["image", "inspect", "-f", "{{.Id}}", &reference]);
    let label = docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{index .Config.Labels \"io.lucidctl.build-hash\"}}",
        &reference,
    ]);
    assert!(
        label.trim().len() >= 16,
        "the image carries its build hash: {label:?}"
    );

    let second = t.lucidctl("build", &[]);
    assert_eq!(second.code(), 0, "{second:?}");
    assert!(
        second.stderr.contains("up to date"),
        "an unchanged context builds nothing: {second:?}"
    );

    t.write(
        "ctx/ignored.txt",
        "changed, but .dockerignore excludes it\n",
    );
    let ignored = t.lucidctl("build", &[]);
    assert!(
        ignored.stderr.contains("up to date"),
        "an ignored file does not count: {ignored:?}"
    );

    t.apply_ok(&[]);
    t.assert_converged();
    t.write("ctx/greeting", "hello, world\n");
    let (out, plan) = t.diff_json(&[]);
    assert_eq!(out.code(), 2, "{out:?}");
    let changes = plan_changes(&plan);
    assert!(
        changes.contains(&("Image".into(), "app".into(), "build".into())),
        "{changes:?}"
    );
    assert!(
        changes.contains(&("Service".into(), "web".into(), "recreate".into())),
        "the service using the image is recreated: {changes:?}"
    );

    t.apply_ok(&[]);
    let id2 = docker_ok(&["image", "inspect", "-f", "{{.Id}}", &reference]);
    assert_ne!(id1.trim(), id2.trim(), "an included change rebuilds");
    let running = docker_ok(&["inspect", "-f", "{{.Image}}", &t.obj("web")]);
    assert_eq!(running.trim(), id2.trim(), "the service runs the new image");
    t.assert_converged();
}

#[test]
fn a_failing_dockerfile_fails_clearly_and_tags_nothing() {
    let Some(t) = TestEnv::new("imgfail") else {
        return;
    };
    let reference = format!("{}/broken:1", t.project);
    let _images = Images(vec![reference.clone()]);
    t.write("ctx/Dockerfile", &format!("FROM {STANDIN_IMAGE}\nRUN [\"/standin\", \"job\", \"--message\", \"step output before failing\", \"--exit\", \"3\"]\n"));
    t.write("system.yaml", &image_doc("broken", &reference, ""));
    let out = t.lucidctl("build", &[]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("build of") && out.stderr.contains("failed"),
        "names the failure: {out:?}"
    );
    assert!(
        out.stderr.contains("/standin job"),
        "names the failing step: {out:?}"
    );
    assert!(
        out.stderr.contains("step output before failing"),
        "shows the step's last lines: {out:?}"
    );
    assert!(
        !docker(&["image", "inspect", &reference]).success(),
        "no half-tagged image is left"
    );
}

#[test]
fn a_platform_the_engine_cannot_run_is_refused_before_building() {
    let Some(t) = TestEnv::new("imgplatform") else {
        return;
    };
    let reference = format!("{}/arm:1", t.project);
    let _images = Images(vec![reference.clone()]);
    write_context(&t, "x\n");
    let host_arch = docker_ok(&["version", "-f", "{{.Server.Arch}}"]);
    let foreign = if host_arch.trim() == "arm64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    };
    t.write(
        "system.yaml",
        &image_doc("arm", &reference, &format!("platform: {foreign}\n")),
    );
    let out = t.lucidctl("build", &[]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains(&format!("is for {foreign}"))
            && out.stderr.contains("build on the target"),
        "names the remedy: {out:?}"
    );
    assert!(!docker(&["image", "inspect", &reference]).success());
}

fn registry() -> String {
    std::env::var("LUCID_TEST_REGISTRY").unwrap_or_else(|_| panic!("LUCID_TEST_REGISTRY is not set: run the suite through scripts/test.sh, which starts a registry"))
}

#[test]
fn push_pull_and_registry_prune_against_a_real_registry() {
    let Some(t) = TestEnv::new("imgregistry") else {
        return;
    };
    let reg = registry();
    let ns = format!("{}/lucid", t.project);
    let pushed = format!("{reg}/{ns}-app:1");
    let other = format!("{reg}/{}-other/keep:1", t.project);
    let _images = Images(vec![pushed.clone(), other.clone()]);
    write_context(&t, "pushed\n");
    t.write("system.yaml", &image_doc("app", &pushed, "push: true\n"));

    let out = t.lucidctl("build", &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains("push to"),
        "push follows the build: {out:?}"
    );
    docker_ok(&["rmi", "-f", &pushed]);

    // A service that uses the tag with no Image resource: diff plans a pull, apply pulls.
    std::fs::remove_file(t.state_dir.join("system.yaml")).unwrap();
    t.write(
        "system.yaml",
        &[
            network("net"),
            standin_service("web", "net", 8080, &[], "").replace(STANDIN_IMAGE, &pushed),
        ]
        .concat(),
    );
    let (_, plan) = t.diff_json(&[]);
    assert!(
        plan_changes(&plan).contains(&("Image".into(), pushed.clone(), "pull".into())),
        "{plan}"
    );
    t.apply_ok(&[]);
    assert!(
        docker(&["image", "inspect", &pushed]).success(),
        "pulled back"
    );

    docker_ok(&["tag", STANDIN_IMAGE, &other]);
    docker_ok(&["push", &other]);
    let dry = t.lucidctl_raw(&[
        "registry",
        "prune",
        "--registry",
        &reg,
        "--namespace",
        &ns,
        "--dry-run",
    ]);
    assert!(
        dry.stdout.contains("would remove") && dry.stdout.contains(&format!("{ns}-app:1")),
        "{dry:?}"
    );
    let prune = t.lucidctl_raw(&["registry", "prune", "--registry", &reg, "--namespace", &ns]);
    assert_eq!(prune.code(), 0, "{prune:?}");
    assert!(prune.stdout.contains("1 tag(s) removed"), "{prune:?}");
    let tags = ureq_get(&format!("http://{reg}/v2/{ns}-app/tags/list"));
    assert!(!tags.contains("\"1\""), "the namespace is empty: {tags}");
    let kept = ureq_get(&format!(
        "http://{reg}/v2/{}-other/keep/tags/list",
        t.project
    ));
    assert!(
        kept.contains("\"1\""),
        "other namespaces are left alone: {kept}"
    );
}

fn ureq_get(url: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", url])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).to_string()
}
