//! `lucidctl export compose` then `docker-compose up -d` of the master file (issue 8):
//! on the local overlay, compose must bring up a system equivalent to what the
//! desired state declares — the same services and jobs, on the same networks,
//! with the same published ports, volumes and secrets — and leave nothing behind
//! after `down -v`.
//!
//! It runs beside a Lucid demo (scripts/demo.sh) without touching it (issue 25):
//! the export takes `--name-prefix <project>-`, so containers, networks and volumes
//! carry the test's own names, and a test overlay (like the bench's) drops the
//! fixed subnets and static addresses and moves the published ports to free ones.
//! The export of the declared subnets and ports is pinned by lucid-compose's golden
//! files and `docker-compose config` tests.

use desired_state::model::{Kind, Spec};
use desired_state::DesiredState;
use lucid_e2e::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const COMPOSE: &str = "docker-compose";
const COMPOSE_LABEL: &str = "com.docker.compose.project";
const ISOLATED: &str = "lucid-tron-isolated";

fn load(files: &[PathBuf]) -> DesiredState {
    let options = desired_state::LoadOptions {
        paths: files.to_vec(),
        recursive: false,
        root: None,
    };
    match desired_state::load_valid(&options) {
        Ok((state, _)) => state,
        Err(invalid) => panic!("the test's desired state does not validate: {invalid:?}"),
    }
}

fn names(state: &DesiredState, kind: Kind) -> BTreeSet<String> {
    state.of_kind(kind).map(|r| r.name().to_string()).collect()
}

/// Host ports free now, chosen by the OS, for the published ports: a demo's
/// 18080, 13389 and 18083 are never in the way.
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// The test overlay, merge patches on the local Lucid system so that its compose
/// copy coexists with a demo: the local overlay's one image (`lucid-local/standin:dev`,
/// shared with a demo, which must not drift) becomes a ref of the test's own; no
/// fixed subnets or gateways, no static addresses; published host ports moved to
/// free ones (same container ports, host IPs and protocols).
fn test_overlay(state: &DesiredState, image: &str) -> String {
    let published = state
        .workloads()
        .flat_map(|w| &w.spec.workload().unwrap().ports)
        .filter(|p| p.host_port.is_some())
        .count();
    let mut ports = free_ports(published).into_iter();
    let mut out = String::from("# Written by the compose_up test: its own image tag, no fixed subnets, addresses or host ports.\n");
    let mut push = |kind: Kind, name: &str, spec: Value| {
        out.push_str(&format!(
            "---\napiVersion: lucid/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec: {spec}\n"
        ));
    };
    push(Kind::Image, "lucid-standin", json!({"ref": image}));
    for r in &state.resources {
        match &r.spec {
            Spec::Network(n) if n.subnet.is_some() || n.gateway.is_some() => {
                push(r.kind(), r.name(), json!({"subnet": null, "gateway": null}));
            }
            Spec::Service(w) | Spec::Job(w) => {
                let mut spec = json!({"image": image});
                if w.ports.iter().any(|p| p.host_port.is_some()) {
                    // A merge patch replaces a list whole: every port, host ports moved.
                    let list: Vec<Value> = w
                        .ports
                        .iter()
                        .map(|p| {
                            let mut port = json!({"containerPort": p.container_port, "protocol": p.protocol.as_str()});
                            if p.host_port.is_some() {
                                port["hostPort"] = json!(ports.next().unwrap());
                            }
                            if let Some(ip) = p.host_ip {
                                port["hostIP"] = json!(ip.to_string());
                            }
                            port
                        })
                        .collect();
                    spec["ports"] = json!(list);
                }
                if w.networks.iter().any(|n| n.ipv4_address.is_some()) {
                    let list: Vec<Value> = w
                        .networks
                        .iter()
                        .map(|n| json!({"name": n.name, "aliases": n.aliases}))
                        .collect();
                    spec["networks"] = json!(list);
                }
                push(r.kind(), r.name(), spec);
            }
            _ => {}
        }
    }
    out
}

fn compose_lines(args: &[&str]) -> BTreeSet<String> {
    docker_ok(args)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// What the compose project left on the engine: containers, networks and volumes.
fn compose_leftovers(project: &str) -> Vec<String> {
    let filter = format!("label={COMPOSE_LABEL}={project}");
    let mut out = Vec::new();
    for (what, args) in [
        (
            "container",
            vec!["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"],
        ),
        (
            "network",
            vec![
                "network",
                "ls",
                "--filter",
                &filter,
                "--format",
                "{{.Name}}",
            ],
        ),
        (
            "volume",
            vec!["volume", "ls", "--filter", &filter, "--format", "{{.Name}}"],
        ),
    ] {
        out.extend(
            compose_lines(&args)
                .into_iter()
                .map(|n| format!("{what} {n}")),
        );
    }
    out
}

/// Takes the compose project down when dropped, also when the test panics, then
/// removes whatever compose left by its project label, and untags the test's image.
/// Everything it touches carries the test's project label or prefixed names.
struct ComposeUp {
    project: String,
    file: PathBuf,
    image: String,
}

impl ComposeUp {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(COMPOSE);
        cmd.arg("-p")
            .arg(&self.project)
            .arg("-f")
            .arg(&self.file)
            .args(args)
            .current_dir(self.file.parent().unwrap());
        cmd
    }

    fn down(&self) -> Result<Output, String> {
        try_run(
            self.command(&["down", "-v", "--remove-orphans", "-t", "2"]),
            Duration::from_secs(300),
        )
    }
}

impl Drop for ComposeUp {
    fn drop(&mut self) {
        match self.down() {
            Ok(out) if out.success() => {}
            Ok(out) => eprintln!("cleanup: {out:?}"),
            Err(why) => eprintln!("cleanup: {why}"),
        }
        let filter = format!("label={COMPOSE_LABEL}={}", self.project);
        let quiet = |args: &[&str]| -> Vec<String> {
            let mut cmd = Command::new("docker");
            cmd.args(args);
            try_run(cmd, DOCKER_TIMEOUT)
                .ok()
                .filter(Output::success)
                .map(|o| o.stdout.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default()
        };
        let remove = |mut args: Vec<String>| {
            let mut cmd = Command::new("docker");
            cmd.args(args.drain(..));
            if let Ok(out) = try_run(cmd, DOCKER_TIMEOUT) {
                if !out.success() {
                    eprintln!("cleanup (ignored): {out:?}");
                }
            }
        };
        let containers = quiet(&["ps", "-aq", "--filter", &filter]);
        if !containers.is_empty() {
            remove(
                ["rm", "-f", "-v"]
                    .iter()
                    .map(|s| s.to_string())
                    .chain(containers)
                    .collect(),
            );
        }
        for n in quiet(&["network", "ls", "-q", "--filter", &filter]) {
            remove(vec!["network".into(), "rm".into(), n]);
        }
        for v in quiet(&["volume", "ls", "-q", "--filter", &filter]) {
            remove(vec!["volume".into(), "rm".into(), "-f".into(), v]);
        }
        // Untag by reference: the image ID is STANDIN_IMAGE's, which stays.
        remove(vec!["image".into(), "rm".into(), self.image.clone()]);
    }
}

/// GET /healthz through a published port: the stand-in answers 200 on each of its ports.
fn http_status(addr: &str) -> Result<String, String> {
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).map_err(|e| e.to_string())?;
    Ok(reply.lines().next().unwrap_or("").to_string())
}

fn env_file(path: &Path) -> BTreeMap<String, String> {
    desired_state::envfile::parse_env_file(&std::fs::read_to_string(path).unwrap())
}

#[test]
fn the_exported_master_file_brings_up_an_equivalent_lucid_system_under_docker_compose() {
    // Load, not names: the names, subnets and ports are the test's own, but two
    // 27-container systems at once crowd a 2-core host. Taken first, so it is
    // released only after both guards below have cleaned up.
    let _one_at_a_time = full_lucid_lock();
    let Some(t) = TestEnv::new("composeup") else {
        return;
    };
    let compose_ok = Command::new(COMPOSE).arg("version").output();
    assert!(
        compose_ok.is_ok_and(|o| o.status.success()),
        "docker-compose is not installed (apt-get install docker-compose)"
    );
    let root = repo_root();
    let base = vec![
        root.join("configs/lucid"),
        root.join("configs/lucid/overlays/local"),
    ];
    let image = format!("lucid-e2e/{}:standin", t.project);
    let overlay = t.write_aside(
        "overlay/compose-up.yaml",
        &test_overlay(&load(&base), &image),
    );
    let files: Vec<PathBuf> = base.iter().cloned().chain([overlay]).collect();
    let state = load(&files);

    let services = names(&state, Kind::Service);
    let jobs = names(&state, Kind::Job);
    let networks = names(&state, Kind::Network);
    let volumes = names(&state, Kind::Volume);
    assert_eq!(services.len(), 27, "{services:?}");
    // Three set-up Jobs and three backup Jobs (issue 14).
    assert_eq!(jobs.len(), 6, "{jobs:?}");

    // The test's names are its own (a crashed run with the same pid was cleaned up by TestEnv).
    let ours = |kind: &str, names: &BTreeSet<String>, exists: fn(&str) -> bool| -> Vec<String> {
        names
            .iter()
            .map(|n| t.obj(n))
            .filter(|n| exists(n))
            .map(|n| format!("{kind} {n}"))
            .collect()
    };
    let workloads: BTreeSet<String> = services.union(&jobs).cloned().collect();
    let taken: Vec<String> = [
        ours("container", &workloads, container_exists),
        ours("network", &networks, network_exists),
        ours("volume", &volumes, volume_exists),
    ]
    .concat();
    assert!(
        taken.is_empty(),
        "the test's own names are in use: {taken:?}"
    );

    t.secrets_generate(&[root.join("configs/lucid")], &[])
        .expect_code(0);
    let out_dir = t.dir.join("compose");
    let mut export = vec!["export".to_string(), "compose".into()];
    for f in &files {
        export.extend(["-f".into(), f.display().to_string()]);
    }
    export.extend([
        "--secrets-dir".into(),
        t.secrets_dir.display().to_string(),
        "-d".into(),
        out_dir.display().to_string(),
        "--name-prefix".into(),
        t.prefix.clone(),
    ]);
    run(t.command(&export), LUCIDCTL_TIMEOUT).expect_code(0);
    let master = out_dir.join("docker-compose.master.yml");
    let text = std::fs::read_to_string(&master).unwrap();
    let secrets = env_file(&t.secrets_dir.join(".env.foundation"));
    let jwt = &secrets["JWT_SECRET"];
    assert!(jwt.len() >= 44, "JWT_SECRET is generated");
    assert!(!text.contains(jwt.as_str()), "the export inlines no secret");
    for fixed in [
        "ipam:",
        "ipv4_address:",
        "172.20.",
        "172.21.",
        ":18080:",
        ":13389:",
        ":18083:",
    ] {
        assert!(
            !text.contains(fixed),
            "the test overlay left {fixed:?} in the export"
        );
    }

    // The image exists under the test's tag, so compose uses it instead of building.
    docker_ok(&["tag", STANDIN_IMAGE, &image]);
    let up = ComposeUp {
        project: t.project.clone(),
        file: master.clone(),
        image: image.clone(),
    };
    let started = std::time::Instant::now();
    let out = run(up.command(&["up", "-d"]), Duration::from_secs(900));
    assert!(out.success(), "docker-compose up -d failed: {out:?}");

    // Every service running and healthy, every job exited 0.
    let filter = format!("label={COMPOSE_LABEL}={}", t.project);
    let settled = |c: &Value| {
        let state = &c["State"];
        match state["Status"].as_str() {
            Some("running") => state["Health"]["Status"] == "healthy",
            Some("exited") => true,
            _ => false,
        }
    };
    let mut last = Vec::new();
    let all_settled = wait_for(Duration::from_secs(300), || {
        let names = compose_lines(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"]);
        last = names.iter().filter_map(|n| inspect_container(n)).collect();
        last.len() == services.len() + jobs.len() && last.iter().all(settled)
    });
    let brief: Vec<String> = last
        .iter()
        .map(|c| {
            format!(
                "{} {} {}",
                c["Name"], c["State"]["Status"], c["State"]["Health"]["Status"]
            )
        })
        .collect();
    assert!(all_settled, "not every container settled: {brief:#?}");
    println!(
        "docker-compose up -d of the exported master file settled in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // Keyed by resource name: the container name without the test's prefix.
    let unprefixed = |docker_name: &str| -> String {
        let n = docker_name.trim_start_matches('/');
        n.strip_prefix(t.prefix.as_str())
            .unwrap_or_else(|| panic!("{n} lacks the prefix {}", t.prefix))
            .to_string()
    };
    let by_name: BTreeMap<String, Value> = last
        .into_iter()
        .map(|c| (unprefixed(c["Name"].as_str().unwrap()), c))
        .collect();
    let found: BTreeSet<String> = by_name.keys().cloned().collect();
    assert_eq!(
        found, workloads,
        "compose runs exactly the declared workloads, under their prefixed names"
    );
    for job in &jobs {
        let s = &by_name[job]["State"];
        assert_eq!(
            (s["Status"].as_str(), s["ExitCode"].as_i64()),
            (Some("exited"), Some(0)),
            "{job}: {s:#}"
        );
    }
    for service in &services {
        assert_eq!(by_name[service]["State"]["Status"], "running", "{service}");
    }

    // Per workload: the image, the networks and the published ports the desired state declares.
    for w in state.workloads() {
        let spec = w.spec.workload().unwrap();
        let c = &by_name[w.name()];
        assert_eq!(c["Config"]["Image"], image.as_str(), "{}", w.name());
        let mut want: BTreeSet<String> = spec.networks.iter().map(|n| t.obj(&n.name)).collect();
        if want.is_empty() {
            // lucidctl puts a workload without networks on Docker's default bridge.
            want.insert("bridge".into());
        }
        let got: BTreeSet<String> = c["NetworkSettings"]["Networks"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(got, want, "{}: networks", w.name());
        let want: BTreeSet<(String, String, String)> = spec
            .ports
            .iter()
            .filter_map(|p| {
                let host = p.host_port?;
                Some((
                    format!("{}/{}", p.container_port, p.protocol.as_str()),
                    p.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                    host.to_string(),
                ))
            })
            .collect();
        let mut got = BTreeSet::new();
        if let Some(bindings) = c["HostConfig"]["PortBindings"].as_object() {
            for (port, list) in bindings {
                for b in list.as_array().into_iter().flatten() {
                    got.insert((
                        port.clone(),
                        b["HostIp"].as_str().unwrap_or("").to_string(),
                        b["HostPort"].as_str().unwrap_or("").to_string(),
                    ));
                }
            }
        }
        assert_eq!(got, want, "{}: published ports", w.name());
        for (_, ip, port) in &want {
            let addr = format!("{}:{port}", if ip.is_empty() { "127.0.0.1" } else { ip });
            let status = http_status(&addr);
            assert!(
                status.as_deref().is_ok_and(|s| s.contains(" 200")),
                "{}: GET /healthz on {addr}: {status:?}",
                w.name()
            );
        }
    }
    let published = state
        .workloads()
        .filter(|w| {
            w.spec
                .workload()
                .unwrap()
                .ports
                .iter()
                .any(|p| p.host_port.is_some())
        })
        .count();
    assert_eq!(published, 3, "the local overlay publishes three services");

    // The isolated network holds exactly the payment system: its members and its bridge.
    let policy = state
        .of_kind(Kind::IsolationPolicy)
        .find_map(|r| match &r.spec {
            Spec::IsolationPolicy(p) if p.network == ISOLATED => Some(p.clone()),
            _ => None,
        })
        .expect("configs/lucid isolates lucid-tron-isolated");
    let expected: BTreeSet<String> = policy
        .members
        .iter()
        .chain(&policy.bridges)
        .cloned()
        .collect();
    assert_eq!(expected.len(), 6, "{expected:?}");
    let isolated = t.obj(ISOLATED);
    let net: Value = serde_json::from_str(&docker_ok(&["network", "inspect", &isolated])).unwrap();
    let members: BTreeSet<String> = net[0]["Containers"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| unprefixed(c["Name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        members, expected,
        "only the payment system is on {ISOLATED}"
    );

    // Networks under their prefixed names with the declared driver and internal flag
    // (the subnets are the test overlay's: none); volumes under their prefixed names.
    for r in state.of_kind(Kind::Network) {
        let Spec::Network(n) = &r.spec else { continue };
        let got = docker_ok(&[
            "network",
            "inspect",
            "--format",
            "{{.Driver}} {{.Internal}}",
            &t.obj(r.name()),
        ]);
        assert_eq!(
            got,
            format!("{} {}", n.driver(), n.internal),
            "{}",
            r.name()
        );
    }
    for v in &volumes {
        assert!(volume_exists(&t.obj(v)), "volume {} was created", t.obj(v));
    }

    // Secrets arrive through env_file, with the values `secrets generate` wrote.
    let gateway = &by_name["lucid-api-gateway"];
    let env: Vec<&str> = gateway["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        env.contains(&format!("JWT_SECRET={jwt}").as_str()),
        "lucid-api-gateway has JWT_SECRET from .env.foundation (value not shown)"
    );

    // down -v removes everything compose made; the guard's second down is then a no-op.
    let down = up.down().unwrap_or_else(|why| panic!("{why}"));
    assert!(down.success(), "docker-compose down -v failed: {down:?}");
    let left = compose_leftovers(&t.project);
    assert!(left.is_empty(), "docker-compose down -v left {left:?}");
    let left = [
        ours("container", &workloads, container_exists),
        ours("network", &networks, network_exists),
        ours("volume", &volumes, volume_exists),
    ]
    .concat();
    assert!(left.is_empty(), "docker-compose down -v left {left:?}");
}
