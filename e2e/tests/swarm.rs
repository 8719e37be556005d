//! `--target swarm` against the real engine (issue 16), on a one-node swarm
//! this test makes (`docker swarm init` on loopback) and always leaves
//! again, even on failure (the `Swarm` guard's Drop). Swarm mode is
//! engine-wide, so the swarm tests are serialised: one test binary, its
//! tests taking a process-wide mutex, and a file lock
//! (/tmp/lucid-e2e-swarm.lock) against other processes. An engine already
//! in a swarm the test did not make is never touched: the test fails.

use lucid_e2e::swarm::Swarm;
use lucid_e2e::*;
use std::time::{Duration, Instant};

const IMAGE: &str = STANDIN_IMAGE;

fn system(config: &str, web_env: &str) -> String {
    format!(
        r#"apiVersion: lucid/v1alpha1
kind: Network
metadata: {{name: front}}
spec: {{}}
---
apiVersion: lucid/v1alpha1
kind: Network
metadata: {{name: vault}}
spec: {{internal: true}}
---
apiVersion: lucid/v1alpha1
kind: IsolationPolicy
metadata: {{name: vault-only}}
spec: {{network: vault, members: [store, init], bridges: [api]}}
---
apiVersion: lucid/v1alpha1
kind: ConfigFile
metadata: {{name: greeting}}
spec: {{content: "{config}"}}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {{name: store}}
spec:
  image: {IMAGE}
  env: {{STANDIN_NAME: store}}
  networks: [{{name: vault}}]
  healthcheck: {{test: ["CMD", "/standin", "probe", "8080"], interval: 1s, timeout: 1s, retries: 3}}
---
apiVersion: lucid/v1alpha1
kind: Job
metadata: {{name: init}}
spec:
  image: {IMAGE}
  command: [job, --wait-tcp, "store:8080", --message, "store is up"]
  networks: [{{name: vault}}]
  dependsOn: [{{name: store, condition: healthy}}]
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {{name: api}}
spec:
  image: {IMAGE}
  replicas: 2
  env: {{STANDIN_NAME: api}}
  networks: [{{name: front}}, {{name: vault}}]
  mounts: [{{configFile: greeting, target: /etc/greeting}}]
  healthcheck: {{test: ["CMD", "/standin", "probe", "8080"], interval: 1s, timeout: 1s, retries: 3}}
  dependsOn: [{{name: init, condition: completed}}]
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {{name: web}}
spec:
  image: {IMAGE}
  env: {{STANDIN_NAME: web{web_env}}}
  networks: [{{name: front}}]
  healthcheck: {{test: ["CMD", "/standin", "probe", "8080"], interval: 1s, timeout: 1s, retries: 3}}
  dependsOn: [{{name: api, condition: healthy}}]
"#
    )
}

fn swarm_args(extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--target".to_string(), "swarm".to_string()];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn lucidctl(env: &TestEnv, sub: &str, extra: &[&str]) -> Output {
    let args = swarm_args(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.lucidctl(sub, &args)
}

/// `docker service ls` replicas column by service name.
fn replicas(env: &TestEnv) -> std::collections::BTreeMap<String, String> {
    docker_ok(&[
        "service",
        "ls",
        "--filter",
        &format!("name={}", env.prefix),
        "--format",
        "{{.Name}} {{.Replicas}}",
    ])
    .lines()
    .filter_map(|l| {
        let (name, rest) = l.split_once(' ')?;
        Some((name.to_string(), rest.to_string()))
    })
    .collect()
}

/// Names of the networks a service's tasks join.
fn service_networks(service: &str) -> Vec<String> {
    let ids = docker_ok(&[
        "service",
        "inspect",
        service,
        "--format",
        "{{range .Spec.TaskTemplate.Networks}}{{.Target}} {{end}}",
    ]);
    ids.split_whitespace()
        .map(|id| docker_ok(&["network", "inspect", id, "--format", "{{.Name}}"]))
        .collect()
}

#[test]
fn swarm_target_applies_repairs_rolls_and_holds() {
    let Some(env) = TestEnv::new("swarm") else {
        return;
    };
    let _swarm = Swarm::init(&env.prefix);

    // Fields with no Swarm meaning fail validation before any engine call.
    let bad = env.write_aside(
        "bad/bad.yaml",
        &format!(
            "apiVersion: lucid/v1alpha1\nkind: Network\nmetadata: {{name: net}}\nspec: {{subnet: 10.77.0.0/24}}\n---\napiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {{name: db}}\nspec:\n  image: {IMAGE}\n  networks: [{{name: net, ipv4Address: 10.77.0.5}}]\n  mounts: [{{volume: data, target: /data}}]\n---\napiVersion: lucid/v1alpha1\nkind: Volume\nmetadata: {{name: data}}\nspec: {{}}\n"
        ),
    );
    let out = env.lucidctl_with("apply", std::slice::from_ref(&bad), &["--target", "swarm"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("bad.yaml:11:"),
        "file:line:col of the static IP: {out:?}"
    );
    assert!(out.stderr.contains("static IP"), "{out:?}");
    assert!(out.stderr.contains("named volume \"data\""), "{out:?}");
    assert!(out.stderr.contains("fix: pin the tasks"), "{out:?}");
    assert!(out.stderr.contains("nothing was changed"), "{out:?}");
    assert!(
        replicas(&env).is_empty(),
        "validation failed, so nothing was created"
    );

    // Cold apply: dependency waves, each gated on task health.
    env.write("system.yaml", &system("hello", ""));
    let started = Instant::now();
    let out = lucidctl(&env, "apply", &["--timeout", "120s"]);
    let cold = started.elapsed();
    assert_eq!(out.code(), 0, "cold apply: {out:?}");
    let order: Vec<usize> = [
        "Service/{p}store create",
        "Job/{p}init create",
        "Service/{p}api create",
        "Service/{p}web create",
    ]
    .iter()
    .map(|l| {
        let line = l.replace("{p}", &env.prefix);
        out.stderr
            .find(&format!("✔ {line}"))
            .unwrap_or_else(|| panic!("{line} should be reported: {out:?}"))
    })
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "waves in dependency order: {out:?}"
    );
    let r = replicas(&env);
    assert_eq!(r[&env.obj("api")], "2/2", "{r:?}");
    assert_eq!(r[&env.obj("store")], "1/1", "{r:?}");
    assert!(r[&env.obj("init")].contains("1/1 completed"), "{r:?}");
    let vault = docker_ok(&[
        "network",
        "inspect",
        &env.obj("vault"),
        "--format",
        "{{.Driver}} {{.Internal}} {{.Attachable}} {{index .Options \"encrypted\"}}|",
    ]);
    assert_eq!(
        vault, "overlay true true |",
        "internal, attachable, encrypted (the option is present)"
    );
    assert_eq!(service_networks(&env.obj("web")), vec![env.obj("front")]);

    // Nothing to do: diff exits 0, a second apply changes nothing.
    let diff = lucidctl(&env, "diff", &[]);
    assert_eq!(diff.code(), 0, "{diff:?}");
    assert!(diff.stdout.contains("No changes"), "{diff:?}");
    let started = Instant::now();
    let again = lucidctl(&env, "apply", &[]);
    let noop = started.elapsed();
    assert_eq!(again.code(), 0, "{again:?}");
    assert!(again.stdout.contains("No changes"), "{again:?}");
    assert!(
        !again.stderr.contains(" create ") && !again.stderr.contains(" update "),
        "{again:?}"
    );
    println!(
        "speed: cold apply {:.1}s, no-op apply {:.2}s",
        cold.as_secs_f64(),
        noop.as_secs_f64()
    );

    // Drift by hand: one service scaled, one removed, a non-member put on the isolated network.
    docker_ok(&["service", "scale", "-d", &format!("{}=3", env.obj("api"))]);
    docker_ok(&["service", "rm", &env.obj("store")]);
    docker_ok(&[
        "service",
        "update",
        "-d",
        "--network-add",
        &env.obj("vault"),
        &env.obj("web"),
    ]);
    let (diff, plan) = {
        let out = lucidctl(&env, "diff", &["-o", "json"]);
        let plan = out.json();
        (out, plan)
    };
    assert_eq!(diff.code(), 2, "{diff:?}");
    let change = |name: &str| {
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == env.obj(name).as_str())
            .cloned()
            .unwrap_or_else(|| panic!("a change for {name}: {plan}"))
    };
    assert_eq!(change("store")["action"], "create");
    assert_eq!(change("api")["action"], "update");
    assert_eq!(change("api")["reasons"][0]["type"], "manualChange");
    assert_eq!(change("api")["fields"][0]["path"], "replicas");
    let web = change("web");
    assert_eq!(web["reasons"][0]["type"], "networkNotDeclared", "{web}");
    assert_eq!(web["reasons"][0]["policy_violation"], true, "{web}");
    let violations = plan["violations"].to_string();
    assert!(
        violations.contains(&env.obj("web")) && violations.contains("vault-only"),
        "{plan}"
    );
    let out = lucidctl(&env, "apply", &["--timeout", "120s"]);
    assert_eq!(out.code(), 0, "repair: {out:?}");
    let r = replicas(&env);
    assert_eq!(r[&env.obj("api")], "2/2", "{r:?}");
    assert_eq!(r[&env.obj("store")], "1/1", "{r:?}");
    assert_eq!(
        service_networks(&env.obj("web")),
        vec![env.obj("front")],
        "corrected"
    );
    assert_eq!(lucidctl(&env, "diff", &[]).code(), 0);

    // A changed ConfigFile: a new config, a rolling update of its service, the old one removed.
    let configs_before = docker_ok(&["config", "ls", "--format", "{{.Name}}"]);
    let old: Vec<&str> = configs_before
        .lines()
        .filter(|n| n.starts_with(&env.obj("greeting")))
        .collect();
    assert_eq!(old.len(), 1, "{configs_before}");
    env.write("system.yaml", &system("hello again", ""));
    let out = lucidctl(&env, "apply", &["--timeout", "120s"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stdout.contains("config file greeting changed"),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains(&format!("✔ Service/{} update", env.obj("api"))),
        "{out:?}"
    );
    let configs_after = docker_ok(&["config", "ls", "--format", "{{.Name}}"]);
    assert!(
        !configs_after.contains(old[0]),
        "old config removed: {configs_after}"
    );
    assert_eq!(lucidctl(&env, "diff", &[]).code(), 0);

    // A bad revision: Swarm rolls it back, lucidctl holds it.
    env.write(
        "system.yaml",
        &system("hello again", ", STANDIN_UNHEALTHY: \"1\""),
    );
    let out = lucidctl(&env, "apply", &["--timeout", "120s"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("rolled the update back"), "{out:?}");
    let r = replicas(&env);
    assert_eq!(
        r[&env.obj("web")],
        "1/1",
        "the old revision serves again: {r:?}"
    );
    let diff = lucidctl(&env, "diff", &[]);
    assert!(diff.stdout.contains("held"), "{diff:?}");
    let out = lucidctl(&env, "apply", &[]);
    assert!(out.stderr.contains("held"), "not tried again: {out:?}");
    assert!(!out.stderr.contains("rolled the update back"), "{out:?}");

    // run repairs drift from the manager's events: a service removed, one scaled.
    let args = swarm_args(&["--resync", "10m"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let running = env.spawn("run", &args);
    std::thread::sleep(Duration::from_secs(2));
    docker_ok(&["service", "rm", &env.obj("store")]);
    docker_ok(&["service", "scale", "-d", &format!("{}=4", env.obj("api"))]);
    let repaired = wait_for(Duration::from_secs(90), || {
        let r = replicas(&env);
        r.get(&env.obj("store")).map(String::as_str) == Some("1/1")
            && r.get(&env.obj("api")).map(String::as_str) == Some("2/2")
    });
    let out = running.kill();
    assert!(
        repaired,
        "run repaired the removal and the scale: {:?} {out:?}",
        replicas(&env)
    );
    assert!(
        out.stderr
            .contains(&format!("✔ Service/{} create", env.obj("store"))),
        "{out:?}"
    );
    assert!(
        !out.stderr.contains("rolled the update back"),
        "the held revision is not retried: {out:?}"
    );

    // doctor: the node, its architecture, the image.
    let out = lucidctl(&env, "doctor", &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("(manager) linux/"), "{out:?}");
    assert!(
        out.stdout.contains(&format!("✔ image {IMAGE} present")),
        "{out:?}"
    );

    // delete: services, configs, networks gone.
    let out = lucidctl(&env, "delete", &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(replicas(&env).is_empty());
    assert!(!network_exists(&env.obj("vault")));
    let configs = docker_ok(&["config", "ls", "--format", "{{.Name}}"]);
    assert!(!configs.contains(&env.prefix), "{configs}");

    // export stack: the same system handed to `docker stack deploy` comes up.
    env.write("system.yaml", &system("hello", ""));
    let stack_dir = env.dir.join("stack");
    let stack_prefix = format!("{}stk-", env.prefix);
    let out = env.lucidctl_raw(&[
        "export",
        "stack",
        "-f",
        &env.state_dir.display().to_string(),
        "-d",
        &stack_dir.display().to_string(),
        "--name-prefix",
        &stack_prefix,
        "--secrets-dir",
        &env.secrets_dir.display().to_string(),
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    let master = stack_dir.join("docker-stack.yml");
    let text = std::fs::read_to_string(&master).unwrap();
    assert!(
        text.contains("moby/moby#40364") && text.contains("Isolation:"),
        "{text}"
    );
    let stack = format!("{}stk", env.prefix);
    let started = Instant::now();
    let out = docker(&[
        "stack",
        "deploy",
        "-c",
        &master.display().to_string(),
        &stack,
    ]);
    assert!(out.success(), "{out:?}");
    let up = wait_for(Duration::from_secs(120), || {
        let r = replicas_named(&format!("{stack}_"));
        ["api", "store", "web"].iter().all(|s| {
            let want = if *s == "api" { "2/2" } else { "1/1" };
            r.get(&format!("{stack}_{s}")).map(String::as_str) == Some(want)
        })
    });
    let stack_cold = started.elapsed();
    let r = replicas_named(&format!("{stack}_"));
    let _ = docker(&["stack", "rm", &stack]);
    assert!(up, "the exported stack comes up: {r:?}");
    println!(
        "speed: docker stack deploy until every service's tasks are healthy {:.1}s (no dependency order)",
        stack_cold.as_secs_f64()
    );
    // The stack's networks go with its services; wait so the swarm leaves cleanly.
    wait_for(Duration::from_secs(30), || {
        replicas_named(&format!("{stack}_")).is_empty()
    });
}

fn replicas_named(prefix: &str) -> std::collections::BTreeMap<String, String> {
    docker_ok(&["service", "ls", "--format", "{{.Name}} {{.Replicas}}"])
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| {
            let (name, rest) = l.split_once(' ')?;
            Some((name.to_string(), rest.to_string()))
        })
        .collect()
}

/// Payment services on the isolated overlay (configs/lucid/isolation.yaml).
const TRON_MEMBERS: [&str; 5] = [
    "lucid-tron-client",
    "lucid-payout-router",
    "lucid-wallet-manager",
    "lucid-usdt-manager",
    "lucid-trx-staking",
];
const TRON_BRIDGE: &str = "lucid-payment-gateway";
const STORAGE_LABEL: &str = "lucid-e2e-storage";

/// A swarm overlay for the local Lucid system: no fixed subnets, the test's
/// stand-in image, ports not bound to one host IP, and every workload with a
/// named volume pinned to the node labelled for storage.
fn swarm_overlay(state: &desired_state::DesiredState) -> String {
    use desired_state::model::MountSource;
    let mut out = String::from("# e2e: the local Lucid system on a one-node swarm.\n");
    for net in ["lucid-pi-network", "lucid-tron-isolated"] {
        out.push_str(&format!(
            "---\napiVersion: lucid/v1alpha1\nkind: Network\nmetadata:\n  name: {net}\nspec:\n  subnet: null\n  gateway: null\n"
        ));
    }
    out.push_str("---\napiVersion: lucid/v1alpha1\nkind: Image\nmetadata:\n  name: lucid-standin\n$patch: delete\n");
    for r in state.workloads() {
        let w = r.spec.workload().unwrap();
        out.push_str(&format!(
            "---\napiVersion: lucid/v1alpha1\nkind: {}\nmetadata:\n  name: {}\nspec:\n  image: {STANDIN_IMAGE}\n",
            r.kind().as_str(),
            r.name()
        ));
        if w.ports.iter().any(|p| p.host_ip.is_some()) {
            let ports: Vec<String> = w
                .ports
                .iter()
                .map(|p| format!("{{containerPort: {}}}", p.container_port))
                .collect();
            out.push_str(&format!("  ports: [{}]\n", ports.join(", ")));
        }
        if w.mounts
            .iter()
            .any(|m| matches!(m.source(), Some(MountSource::Volume(_))))
        {
            out.push_str(&format!(
                "  placement: {{constraints: [\"node.labels.{STORAGE_LABEL} == true\"]}}\n"
            ));
        }
    }
    out
}

#[test]
fn the_local_lucid_system_on_a_swarm_comes_up_isolated_and_converged() {
    let _one_at_a_time = full_lucid_lock();
    let Some(env) = TestEnv::new("swarmlucid") else {
        return;
    };
    let _swarm = Swarm::init(&env.prefix);
    let node = docker_ok(&["info", "--format", "{{.Swarm.NodeID}}"]);
    docker_ok(&[
        "node",
        "update",
        "--label-add",
        &format!("{STORAGE_LABEL}=true"),
        &node,
    ]);

    let root = repo_root();
    let base = vec![
        root.join("configs/lucid"),
        root.join("configs/lucid/overlays/local"),
    ];
    let (state, _) = desired_state::load_valid(&desired_state::LoadOptions {
        paths: base.clone(),
        recursive: false,
        root: None,
    })
    .unwrap_or_else(|_| panic!("configs/lucid with the local overlay validates"));
    let overlay = env.write_aside("overlay/swarm.yaml", &swarm_overlay(&state));
    let files: Vec<std::path::PathBuf> = base.iter().cloned().chain([overlay]).collect();
    env.secrets_generate(&[root.join("configs/lucid")], &[])
        .expect_code(0);

    // Without the overlay, the base files are refused for a swarm, before any change.
    let out = env.lucidctl_with("diff", &base, &["--target", "swarm"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("foundation.yaml:30:7:") && out.stderr.contains("named volume"),
        "{out:?}"
    );

    let started = Instant::now();
    let out = env.lucidctl_with("apply", &files, &["--target", "swarm", "--timeout", "300s"]);
    let cold = started.elapsed();
    assert_eq!(out.code(), 0, "cold apply of Lucid on the swarm: {out:?}");
    let services: Vec<_> = state
        .workloads()
        .filter(|r| r.kind() == desired_state::model::Kind::Service)
        .collect();
    assert_eq!(services.len(), 27);
    let r = replicas(&env);
    for s in &services {
        assert_eq!(
            r.get(&env.obj(s.name())).map(String::as_str),
            Some("1/1"),
            "{}: {r:?}",
            s.name()
        );
    }
    for j in state
        .workloads()
        .filter(|r| r.kind() == desired_state::model::Kind::Job)
    {
        let got = r.get(&env.obj(j.name())).cloned().unwrap_or_default();
        assert!(got.contains("1/1 completed"), "{}: {got:?}", j.name());
    }
    // The isolated overlay holds exactly the payment members and the gateway.
    let isolated = env.obj("lucid-tron-isolated");
    let mut on_isolated: Vec<String> = r
        .keys()
        .filter(|name| service_networks(name).contains(&isolated))
        .cloned()
        .collect();
    on_isolated.sort();
    let mut expected: Vec<String> = TRON_MEMBERS
        .iter()
        .chain([&TRON_BRIDGE])
        .map(|n| env.obj(n))
        .collect();
    expected.sort();
    assert_eq!(on_isolated, expected);

    let diff = env.lucidctl_with("diff", &files, &["--target", "swarm"]);
    assert_eq!(diff.code(), 0, "{diff:?}");
    let started = Instant::now();
    let again = env.lucidctl_with("apply", &files, &["--target", "swarm"]);
    let noop = started.elapsed();
    assert_eq!(again.code(), 0, "{again:?}");
    assert!(again.stdout.contains("No changes"), "{again:?}");
    println!(
        "speed (Lucid, one-node swarm): cold apply {:.1}s, no-op apply {:.2}s",
        cold.as_secs_f64(),
        noop.as_secs_f64()
    );

    let out = env.lucidctl_with("delete", &files, &["--target", "swarm"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(replicas(&env).is_empty());
}
