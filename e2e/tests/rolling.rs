//! Rolling tags (issue 21) against the project's registry on loopback
//! (LUCID_TEST_REGISTRY, started by scripts/test.sh): a new image pushed
//! under a watched tag is pulled and rolled out by `run`, the container
//! records the digest it runs; a pushed image that never gets healthy is
//! rolled back and held with one notification naming both digests; a
//! registry answering 429 is backed off.

use lucid_e2e::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn registry() -> String {
    std::env::var("LUCID_TEST_REGISTRY").unwrap_or_else(|_| {
        panic!("LUCID_TEST_REGISTRY is not set: run the suite through scripts/test.sh, which starts a registry")
    })
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

/// Builds the stand-in with `env` baked in, tagged `tag`; returns its image ID.
fn build(tag: &str, env: &str) -> String {
    let mut child = std::process::Command::new("docker")
        .args(["build", "-q", "-t", tag, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("docker build");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("FROM {STANDIN_IMAGE}\nENV {env}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "docker build failed");
    docker_ok(&["image", "inspect", "--format", "{{.Id}}", tag])
}

/// Pushes `image_id` as `reference` and returns the registry digest; the
/// engine's own tag then goes back to `keep_local` (the image the running
/// container has), so only the registry knows the new one.
fn push_as(reference: &str, image_id: &str, keep_local: Option<&str>) -> String {
    docker_ok(&["tag", image_id, reference]);
    docker_ok(&["push", "-q", reference]);
    let digests = docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        image_id,
    ]);
    let repository = reference
        .rsplit_once(':')
        .map(|(r, _)| r)
        .unwrap_or(reference);
    let digest = serde_json::from_str::<Vec<String>>(&digests)
        .unwrap_or_default()
        .into_iter()
        .find_map(|d| d.strip_prefix(&format!("{repository}@")).map(String::from))
        .expect("a repo digest after the push");
    if let Some(local) = keep_local {
        docker_ok(&["tag", local, reference]);
    }
    digest
}

/// A webhook receiver on loopback: the JSON bodies it got.
fn receiver() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(mut sock) = sock else { continue };
            let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
            let mut data = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n) = sock.read(&mut buf) {
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        if let Ok(v) = serde_json::from_str(body) {
                            keep.lock().unwrap().push(v);
                        }
                        let _ = sock.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        break;
                    }
                }
            }
        }
    });
    (url, got)
}

fn label(name: &str, key: &str) -> Option<String> {
    inspect_container(name).and_then(|c| c["Config"]["Labels"][key].as_str().map(String::from))
}

#[test]
fn run_rolls_a_pushed_image_out_records_its_digest_and_holds_one_that_fails() {
    let Some(t) = TestEnv::new("rolling") else {
        return;
    };
    let reference = format!("{}/{}/web:latest", registry(), t.project);
    let builds: Vec<String> = ["v1", "v2", "v3"]
        .iter()
        .map(|v| format!("{}-{v}", t.obj("build")))
        .collect();
    let mut tags = builds.clone();
    tags.push(reference.clone());
    let _images = Images(tags);
    let v1 = build(&builds[0], "GENERATION=v1");
    let d1 = push_as(&reference, &v1, None);
    docker_ok(&["rmi", &reference]);

    let service = standin_service(
        "web",
        "net",
        8080,
        &[],
        "pull: {policy: watch, interval: 10s}\nrollout: startFirst\n",
    )
    .replace(STANDIN_IMAGE, &reference);
    t.write("system.yaml", &[network("net"), service].concat());
    let (hook, got) = receiver();
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
            &hook,
        ],
    );
    let web = t.obj("web");
    assert!(
        wait_for(Duration::from_secs(90), || label(
            &web,
            "io.lucidctl.image-digest"
        )
        .as_deref()
            == Some(d1.as_str())),
        "v1 runs and records its digest: {:?}",
        loop_status(&addr)
    );

    // v2 pushed under the same tag; the engine still has v1 behind it.
    let v2 = build(&builds[1], "GENERATION=v2");
    let d2 = push_as(&reference, &v2, Some(&v1));
    assert!(
        wait_for(Duration::from_secs(60), || label(
            &web,
            "io.lucidctl.image-digest"
        )
        .as_deref()
            == Some(d2.as_str())),
        "v2 is pulled and rolled out within the watch interval: {:?}",
        loop_status(&addr)
    );
    let env = inspect_container(&web)
        .map(|c| c["Config"]["Env"].to_string())
        .unwrap_or_default();
    assert!(env.contains("GENERATION=v2"), "{env}");
    let events = |name: &str| -> Vec<serde_json::Value> {
        got.lock()
            .unwrap()
            .iter()
            .filter(|v| v["event"] == name)
            .cloned()
            .collect()
    };
    assert!(
        wait_for(Duration::from_secs(10), || !events("image-updated")
            .is_empty()),
        "{:?}",
        got.lock().unwrap()
    );

    // v3 never gets healthy: rolled back, held, one notification with both digests.
    let v3 = build(&builds[2], "STANDIN_READY_AFTER_MS=600000");
    let d3 = push_as(&reference, &v3, Some(&v2));
    assert!(
        wait_for(Duration::from_secs(90), || !events("rollout-failed")
            .is_empty()),
        "v3 fails and is rolled back: {:?} {:?}",
        loop_status(&addr),
        got.lock().unwrap()
    );
    std::thread::sleep(Duration::from_secs(12));
    let failed = events("rollout-failed");
    assert_eq!(
        failed.len(),
        1,
        "one notification, not one per pass: {failed:?}"
    );
    let message = failed[0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains(&d2[..19]) && message.contains(&d3[..19]),
        "both digests: {message}"
    );
    assert_eq!(
        label(&web, "io.lucidctl.image-digest").as_deref(),
        Some(d2.as_str()),
        "v2 keeps serving"
    );
    assert!(running(&web));
    let status = loop_status(&addr).unwrap_or_default();
    assert!(
        status.to_string().contains("held")
            || status["held"].as_array().is_some_and(|h| !h.is_empty()),
        "{status:#}"
    );
}

/// A registry that answers 429 to everything, counting requests.
fn too_many_requests() -> (String, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let count = Arc::new(Mutex::new(0usize));
    let keep = count.clone();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(mut sock) = sock else { continue };
            let _ = sock.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf);
            *keep.lock().unwrap() += 1;
            let _ = sock.write_all(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 60\r\nContent-Type: application/json\r\nContent-Length: 71\r\nConnection: close\r\n\r\n{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"slow down\",\"detail\":\"\"}]}");
        }
    });
    (addr, count)
}

#[test]
fn a_registry_answering_429_is_backed_off_not_hammered() {
    let Some(t) = TestEnv::new("rolling429") else {
        return;
    };
    let (reg, count) = too_many_requests();
    let reference = format!("{reg}/{}/web:latest", t.project);
    let _images = Images(vec![reference.clone()]);
    docker_ok(&["tag", STANDIN_IMAGE, &reference]);
    let service = standin_service(
        "web",
        "net",
        8080,
        &[],
        "pull: {policy: watch, interval: 10s}\n",
    )
    .replace(STANDIN_IMAGE, &reference);
    t.write("system.yaml", &[network("net"), service].concat());

    // apply: the registry's refusal is a warning; the engine's image is used.
    let out = t.apply_ok(&["--quiet", "--timeout", "60s"]);
    assert!(out.stderr.contains("cannot ask the registry"), "{out:?}");
    let after_apply = *count.lock().unwrap();
    assert!(after_apply >= 1, "the registry was asked");

    let addr = format!("127.0.0.1:{}", free_port());
    let started = Instant::now();
    let run = t.spawn(
        "run",
        &["--listen", &addr, "--resync", "10m", "--timeout", "30s"],
    );
    // Passes keep happening (a stop every few seconds) while the registry refuses.
    while started.elapsed() < Duration::from_secs(35) {
        std::thread::sleep(Duration::from_secs(5));
        let _ = docker(&["stop", "-t", "1", &t.obj("web")]);
    }
    let asked = *count.lock().unwrap() - after_apply;
    let out = run.kill();
    assert!(
        out.all().contains("asking again in"),
        "the backoff is logged: {}",
        out.all()
    );
    // Asks at 0 s, then after 20 s (doubled), then 40 s more: at most two asks
    // in 35 s, each a few requests (the engine's ping and the manifest).
    assert!(
        asked <= 8,
        "the registry was hammered: {asked} requests in 35 s"
    );
    assert!(asked >= 1, "the registry was never asked");
}

/// `policy: semver` takes the highest tag in the range from the registry's
/// tag list, and the plan shows the reference it chose.
#[test]
fn semver_chooses_the_highest_tag_in_range_and_the_plan_shows_it() {
    let Some(t) = TestEnv::new("rollingsemver") else {
        return;
    };
    let repository = format!("{}/{}/api", registry(), t.project);
    let tags: Vec<String> = ["1.3.9", "1.4.0", "v1.5.2", "2.0.0", "latest"]
        .iter()
        .map(|v| format!("{repository}:{v}"))
        .collect();
    let _images = Images(tags.clone());
    for tag in &tags {
        docker_ok(&["tag", STANDIN_IMAGE, tag]);
        docker_ok(&["push", "-q", tag]);
        docker_ok(&["rmi", tag]);
    }
    let service = standin_service(
        "api",
        "net",
        8080,
        &[],
        "pull: {policy: semver, range: ^1.4}\n",
    )
    .replace(STANDIN_IMAGE, &format!("{repository}:1"));
    t.write("system.yaml", &[network("net"), service].concat());
    let (out, plan) = t.diff_json(&[]);
    assert_eq!(out.code(), 2, "{out:?}");
    let chosen = format!("{repository}:v1.5.2");
    assert!(
        plan_changes(&plan).contains(&("Image".into(), chosen.clone(), "pull".into())),
        "{plan:#}"
    );
    t.apply_ok(&["--quiet", "--timeout", "60s"]);
    let image = inspect_container(&t.obj("api"))
        .and_then(|c| c["Config"]["Image"].as_str().map(String::from));
    assert_eq!(image.as_deref(), Some(chosen.as_str()));
}
