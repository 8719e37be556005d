//! The status page (issue 15) in a real headless Chromium against a running
//! `lucidctl run`: resources by phase with their states, the SVG graph with
//! the isolation boundary and its bridge, events, a live update through
//! /events/stream, and screenshots kept as artifacts.

use lucid_e2e::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// `doc` with a `phase` label.
fn phased(text: String, phase: &str) -> String {
    text.replacen(
        "metadata:\n  name: ",
        &format!("metadata:\n  labels: {{phase: {phase}}}\n  name: "),
        1,
    )
}

/// Two networks, three phases; vault alone on the isolated one, gate bridging both.
fn system() -> String {
    let gate = standin_service(
        "gate",
        "net",
        8083,
        &[],
        "dependsOn:\n  - {name: api, condition: healthy}\n",
    )
    .replacen("- {name: net}\n", "- {name: net}\n    - {name: iso}\n", 1);
    [
        phased(network("net"), "foundation"),
        phased(network("iso"), "support"),
        phased(
            doc(
                "IsolationPolicy",
                "iso-policy",
                "network: iso\nmembers: [vault]\nbridges: [gate]\n",
            ),
            "support",
        ),
        phased(standin_service("web", "net", 8080, &[], ""), "foundation"),
        phased(
            standin_service(
                "api",
                "net",
                8081,
                &[],
                "dependsOn:\n  - {name: web, condition: healthy}\n",
            ),
            "core",
        ),
        phased(gate, "support"),
        phased(standin_service("vault", "iso", 8082, &[], ""), "support"),
    ]
    .concat()
}

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output();
        if let Some(out) = found.ok().filter(|o| o.status.success()) {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!("Chromium is needed for the status page test: apt-get install -y chromium (scripts/test.sh installs it)");
}

/// Headless Chromium with its own profile in the test's directory.
fn browser(t: &TestEnv, args: &[&str]) -> Output {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
    ])
    .arg(format!(
        "--user-data-dir={}",
        t.dir.join("chromium").display()
    ))
    .args(args);
    let out = run(cmd, Duration::from_secs(120));
    assert!(out.success(), "chromium failed: {out:?}");
    out
}

fn dom(t: &TestEnv, url: &str) -> String {
    browser(t, &["--dump-dom", url]).stdout
}

fn screenshot(t: &TestEnv, url: &str, path: &Path, size: &str) {
    let _ = std::fs::remove_file(path);
    browser(
        t,
        &[
            &format!("--screenshot={}", path.display()),
            &format!("--window-size={size}"),
            url,
        ],
    );
    let png =
        std::fs::read(path).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", path.display()));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} is not a real screenshot",
        path.display()
    );
    println!("screenshot: {}", path.display());
}

/// The versions /events/stream announces, read from a raw connection.
struct Stream {
    sock: TcpStream,
    seen: String,
}

impl Stream {
    fn open(addr: &str) -> Stream {
        let mut sock = TcpStream::connect(addr).expect("connect");
        sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        write!(
            sock,
            "GET /events/stream HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        Stream {
            sock,
            seen: String::new(),
        }
    }

    /// The next `data:` version after the `skip` already taken, within `limit`.
    fn version(&mut self, skip: usize, limit: Duration) -> Option<String> {
        let until = Instant::now() + limit;
        loop {
            let versions: Vec<String> = self
                .seen
                .match_indices("data: ")
                .map(|(at, _)| {
                    self.seen[at + 6..]
                        .chars()
                        .take_while(|c| c.is_ascii_hexdigit())
                        .collect()
                })
                .filter(|v: &String| v.len() == 16)
                .collect();
            if let Some(v) = versions.get(skip) {
                return Some(v.clone());
            }
            if Instant::now() > until {
                return None;
            }
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.sock.read(&mut buf) {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    }
}

fn attr_order(dom: &str, needles: &[&str]) {
    let at: Vec<usize> = needles
        .iter()
        .map(|n| {
            dom.find(n)
                .unwrap_or_else(|| panic!("{n} missing from the page:\n{dom}"))
        })
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "{needles:?} out of order: {at:?}"
    );
}

#[test]
fn the_status_page_shows_the_system_live_in_a_real_browser() {
    let Some(t) = TestEnv::new("page") else {
        return;
    };
    t.write("system.yaml", &system());
    let addr = format!("127.0.0.1:{}", free_port());
    let mut run = t.spawn(
        "run",
        &["--listen", &addr, "--resync", "10m", "--timeout", "60s"],
    );
    assert!(
        wait_for(Duration::from_secs(120), || loop_status(&addr).is_some_and(
            |s| s["resources"]
                .as_array()
                .is_some_and(|r| r.len() == 6 && r.iter().all(|x| x["state"] == "ready"))
        )),
        "the loop converges: {:?}",
        loop_status(&addr)
    );
    let url = format!("http://{addr}/");
    let mut stream = Stream::open(&addr);
    let first = stream
        .version(0, Duration::from_secs(10))
        .expect("the stream announces the current version");

    let page = dom(&t, &url);
    assert!(page.contains("<main id=\"page\""), "{page}");
    for name in ["web", "api", "gate", "vault", "net", "iso"] {
        assert!(
            page.contains(&format!("data-name=\"{name}\" data-state=\"ready\"")),
            "{name} listed as ready:\n{page}"
        );
    }
    attr_order(
        &page,
        &[
            "data-phase=\"foundation\"",
            "data-phase=\"core\"",
            "data-phase=\"support\"",
        ],
    );
    assert!(
        page.contains("class=\"lucid-graph\""),
        "the inline SVG graph:\n{page}"
    );
    assert!(
        page.contains("class=\"isolation-boundary\" data-network=\"iso\""),
        "{page}"
    );
    assert!(
        page.contains(
            "data-name=\"gate\" data-kind=\"Service\" data-state=\"ready\" data-role=\"bridge\""
        ),
        "{page}"
    );
    assert!(
        page.contains(
            "data-name=\"vault\" data-kind=\"Service\" data-state=\"ready\" data-role=\"member\""
        ),
        "{page}"
    );
    assert!(
        page.contains("data-from=\"api\" data-to=\"web\" data-condition=\"healthy\""),
        "{page}"
    );
    assert!(page.contains("<b id=\"last-reconcile\">20"), "{page}");
    assert!(
        page.contains("id=\"held\"") && page.contains("id=\"events\""),
        "{page}"
    );
    assert!(page.contains("bridged by gate"), "{page}");

    // A repair is announced on the stream and shown as an event.
    docker_ok(&["rm", "-f", &t.obj("web")]);
    assert!(
        wait_for(Duration::from_secs(60), || running(&t.obj("web"))),
        "web is recreated"
    );
    let mut skip = 1;
    let changed = loop {
        match stream.version(skip, Duration::from_secs(60)) {
            Some(v) if v == first => skip += 1,
            other => break other,
        }
    };
    assert!(
        changed.is_some(),
        "the stream announced the change: {}",
        stream.seen
    );
    assert!(
        wait_for(Duration::from_secs(30), || dom(&t, &url)
            .contains("data-event=\"drift-repaired\"")),
        "the repair is among the events"
    );
    let events = http_get(&addr, "/events").expect("GET /events");
    let events: serde_json::Value = serde_json::from_str(&events).expect("JSON");
    assert!(
        events["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["event"] == "drift-repaired"
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("Service/web created")))),
        "{events:#}"
    );
    // The same events at the terminal.
    let listed = t.lucidctl_raw(&["events", "--listen", &addr]);
    assert_eq!(listed.code(), 0, "{listed:?}");
    assert!(
        listed.stdout.lines().any(|l| l.contains("  info  ")
            && l.contains("drift-repaired")
            && l.contains("Service/web created")),
        "{listed:?}"
    );
    drop(stream);

    // Kept for people to look at: the page after the repair, on a phone and a desktop.
    let artifacts = target_dir().join("e2e-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    screenshot(
        &t,
        &url,
        &artifacts.join("status-page-phone.png"),
        "412,2200",
    );
    screenshot(
        &t,
        &url,
        &artifacts.join("status-page-desktop.png"),
        "1280,1600",
    );

    let pid = run.pid();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    assert!(
        wait_for(Duration::from_secs(30), || run.finished()),
        "SIGTERM stops the loop"
    );
    assert_eq!(run.wait(Duration::from_secs(5)).code(), 0);
}
