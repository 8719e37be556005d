//! An engine reached over SSH (issue 7), against a real sshd on 127.0.0.1:
//! diff, apply and a BuildKit build through the one forwarded socket, host
//! files over SFTP, a refused unknown host key, a `run` that survives the
//! connection being cut, and `doctor`.

use lucid_e2e::sshd::Sshd;
use lucid_e2e::*;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

fn ssh_args(sshd: &Sshd) -> Vec<String> {
    vec![
        "-H".into(),
        sshd.url(),
        "--ssh-config".into(),
        sshd.client_config.display().to_string(),
    ]
}

fn with<'a>(args: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    args.iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect()
}

fn mode_of(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn system(t: &TestEnv, conf: &str) -> String {
    t.write("conf.txt", conf);
    t.write(
        "ctx/Dockerfile",
        &format!("FROM {STANDIN_IMAGE}\nCOPY hello /hello\n"),
    );
    t.write("ctx/hello", "built through the tunnel\n");
    [
        network("net"),
        doc("ConfigFile", "conf", "file: conf.txt\nmode: \"0640\"\n"),
        doc(
            "SecretSet",
            "sec",
            "file: .env.sec\ngenerate:\n  - {key: TOKEN, bytes: 16, encoding: hex}\n",
        ),
        doc(
            "Image",
            "app",
            &format!("ref: lucid-e2e/{}-app:latest\nbuild: {{context: ctx}}\n", t.project),
        ),
        standin_service(
            "mounter",
            "net",
            8080,
            &[],
            &format!(
                "user: \"4343:4343\"\nenvFrom:\n  - {{secretSet: sec}}\nsecretFiles:\n  - {{secretSet: sec, target: /run/secrets}}\nmounts:\n  - {{configFile: conf, target: /conf.txt, readOnly: true}}\n"
            ),
        )
        .replace(STANDIN_IMAGE, &format!("lucid-e2e/{}-app:latest", t.project)),
        standin_service("bystander", "net", 8081, &[], ""),
    ]
    .concat()
}

#[test]
fn diff_apply_build_and_host_files_go_through_one_ssh_connection() {
    let Some(t) = TestEnv::new("sshapply") else {
        return;
    };
    let sshd = Sshd::start("sshapply");
    let ssh = ssh_args(&sshd);
    t.write("system.yaml", &system(&t, "first\n"));
    t.secrets_generate(std::slice::from_ref(&t.state_dir), &[])
        .expect_code(0);

    let (out, plan) = t.diff_json(&with(&ssh, &[]));
    assert_eq!(out.code(), 2, "changes pending: {out:?}");
    assert!(
        plan_changes(&plan).contains(&("Image".into(), "app".into(), "build".into())),
        "{plan}"
    );
    let apply = t.apply(&with(&ssh, &["--timeout", "90s"]));
    assert_eq!(
        apply.code(),
        0,
        "apply over ssh: {apply:?}\nsshd: {}",
        sshd.log()
    );
    assert!(
        inspect_container(&t.obj("mounter")).is_some_and(|c| c["State"]["Running"] == true),
        "the built service runs"
    );
    let host = t.files_dir.join(&t.project);
    let env_file = host.join("environment/.env.sec");
    assert_eq!(mode_of(&env_file), 0o600, "env files arrive 0600");
    assert!(std::fs::read_to_string(&env_file)
        .unwrap()
        .contains("TOKEN="));
    let conf = host.join("configs/conf");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "first\n");
    assert_eq!(
        mode_of(&conf),
        0o640,
        "config files keep their declared mode"
    );
    assert!(
        host.join("compose/docker-compose.master.yml").exists(),
        "a compose copy for emergencies"
    );
    // secretFiles arrive over SFTP 0400, owned by the service's user, who can read them.
    let token = host.join("secrets/mounter/sec/TOKEN");
    assert_eq!(mode_of(&token), 0o400, "secret files arrive 0400");
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&token).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (4343, 4343),
        "owned by the service's user"
    );
    let cat = docker(&[
        "exec",
        &t.obj("mounter"),
        "/standin",
        "cat",
        "/run/secrets/TOKEN",
    ]);
    assert!(cat.success(), "{cat:?}");
    assert_eq!(cat.stdout.len(), 32, "the 16-byte hex token");
    let out = t.diff(&with(&ssh, &[]));
    assert_eq!(out.code(), 0, "converged through the tunnel: {out:?}");

    // A file left in a secretFiles directory (a key dropped since) is removed over SFTP too.
    let stale = host.join("secrets/mounter/sec/OLD_KEY");
    std::fs::write(&stale, "old").unwrap();

    // A changed config file syncs and recreates exactly the service that mounts it.
    let before = t.ids(&["mounter", "bystander"]);
    system(&t, "second\n");
    let (_, plan) = t.diff_json(&with(&ssh, &[]));
    let changes = plan_changes(&plan);
    assert_eq!(
        changes,
        vec![(
            "Service".to_string(),
            "mounter".to_string(),
            "recreate".to_string()
        )],
        "{plan}"
    );
    let apply = t.apply(&with(&ssh, &["--timeout", "90s"]));
    assert_eq!(apply.code(), 0, "{apply:?}");
    let after = t.ids(&["mounter", "bystander"]);
    assert_ne!(before[0], after[0], "the mounting service was recreated");
    assert_eq!(before[1], after[1], "the other one was left alone");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "second\n");
    assert!(
        !stale.exists() && token.exists(),
        "the stale secret file is gone, the declared one stays"
    );
    assert!(
        !std::fs::read_dir(host.join("configs"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("lucidctl-tmp")),
        "no temporary file is left behind"
    );
    let _ = std::process::Command::new("docker")
        .args(["rmi", &format!("lucid-e2e/{}-app:latest", t.project)])
        .output();
}

#[test]
fn an_unknown_host_key_is_refused_with_a_fix() {
    let Some(t) = TestEnv::new("sshhostkey") else {
        return;
    };
    let sshd = Sshd::start("sshhostkey");
    t.write("system.yaml", &network("net"));
    let out = t.diff(&[
        "-H",
        &sshd.url(),
        "--ssh-config",
        &sshd.stranger_config.display().to_string(),
    ]);
    assert_eq!(out.code(), 1, "{out:?}");
    let err = out.stderr.to_lowercase();
    assert!(err.contains("host key"), "{out:?}");
    assert!(
        err.contains("ssh-keyscan -p"),
        "says how to fix it: {out:?}"
    );
    assert!(project_networks(&t.project).is_empty(), "nothing changed");
}

#[test]
fn run_survives_a_cut_connection_and_repairs_drift_made_meanwhile() {
    let Some(t) = TestEnv::new("sshrun") else {
        return;
    };
    let mut sshd = Sshd::start("sshrun");
    let ssh = ssh_args(&sshd);
    t.write(
        "system.yaml",
        &[network("net"), standin_service("web", "net", 8080, &[], "")].concat(),
    );
    let addr = format!("127.0.0.1:{}", free_port());
    let run = t.spawn(
        "run",
        &with(
            &ssh,
            &["--listen", &addr, "--resync", "10m", "--timeout", "60s"],
        ),
    );
    assert!(
        wait_for(Duration::from_secs(90), || running(&t.obj("web"))),
        "the loop converges over ssh"
    );
    sshd.stop();
    docker_ok(&["rm", "-f", &t.obj("web")]);
    assert!(
        wait_for(Duration::from_secs(20), || loop_status(&addr)
            .is_some_and(|s| s["disconnected_since"].is_string())),
        "status says since when it is disconnected: {:?}",
        loop_status(&addr)
    );
    std::thread::sleep(Duration::from_secs(2));
    sshd.resume();
    if !wait_for(Duration::from_secs(60), || running(&t.obj("web"))) {
        panic!(
            "drift made while disconnected is repaired after the reconnect: {:?}\nstatus: {:?}",
            run.kill(),
            loop_status(&addr)
        );
    }
    assert!(
        wait_for(Duration::from_secs(20), || loop_status(&addr)
            .is_some_and(|s| s["disconnected_since"].is_null())),
        "{:?}",
        loop_status(&addr)
    );
    // SIGTERM, as systemd stops it: the loop exits and closes its SSH master and directory.
    let out = run.terminate(Duration::from_secs(60));
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("reconnected"), "{out:?}");
}

/// OpenSSH leaves Nagle's algorithm on for a connection that only forwards,
/// and an engine answer longer than a segment then waits up to 40 ms for a
/// delayed ACK. lucidctl opens one short session with a tty on its master,
/// which makes sshd (and ssh) set TCP_NODELAY; a key refused a tty
/// (`restrict,port-forwarding`) keeps Nagle and still drives the engine.
#[test]
fn the_tunnel_asks_for_a_tty_once_and_a_key_refused_one_still_works() {
    let Some(t) = TestEnv::new("sshnodelay") else {
        return;
    };
    let sshd = Sshd::start("sshnodelay");
    let ssh = ssh_args(&sshd);
    t.write("system.yaml", &network("net"));
    let addr = format!("127.0.0.1:{}", free_port());
    let run = t.spawn("run", &with(&ssh, &["--listen", &addr, "--resync", "10m"]));
    let asked = wait_for(Duration::from_secs(30), || {
        sshd.log().contains("session_pty_req: session 0 alloc")
    });
    let out = run.terminate(Duration::from_secs(60));
    assert!(
        asked,
        "a tty session on the tunnel's connection: {}",
        sshd.log()
    );
    assert_eq!(out.code(), 0, "{out:?}");

    let key = std::fs::read_to_string(sshd.dir.join("authorized_keys")).expect("key");
    std::fs::write(
        sshd.dir.join("authorized_keys"),
        format!("restrict,port-forwarding {key}"),
    )
    .expect("restricted key");
    t.write("system.yaml", &[network("net"), network("other")].concat());
    let run = t.spawn("run", &with(&ssh, &["--listen", &addr, "--resync", "10m"]));
    let refused = wait_for(Duration::from_secs(30), || {
        sshd.log().contains("Allocating a pty not permitted")
    });
    let applied = wait_for(Duration::from_secs(60), || {
        project_networks(&t.project).len() >= 2
    });
    let out = run.terminate(Duration::from_secs(60));
    assert!(refused, "the tty was asked for and refused: {}", sshd.log());
    assert!(
        applied,
        "converged through a key without a tty: {:?} {out:?}",
        project_networks(&t.project)
    );
    assert_eq!(out.code(), 0, "{out:?}");
}

#[test]
fn doctor_passes_here_and_fails_clearly_on_a_wrong_architecture_or_a_full_disk() {
    let Some(t) = TestEnv::new("sshdoctor") else {
        return;
    };
    let sshd = Sshd::start("sshdoctor");
    let ssh = ssh_args(&sshd);
    t.write("system.yaml", &network("net"));
    let out = t.lucidctl("doctor", &with(&ssh, &["--offline", "-o", "json"]));
    assert_eq!(out.code(), 0, "{out:?}");
    let report = out.json();
    let verdict = |name: &str| {
        report["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name))
            .map(|c| c["verdict"].as_str().unwrap_or("").to_string())
    };
    for name in [
        "SSH reachable, host key known",
        "engine reachable",
        "API version",
        "BuildKit available",
        "architecture",
        "free disk space",
        // The test host's kernel has the memory cgroup (/info MemoryLimit).
        "memory cgroup",
    ] {
        assert_eq!(verdict(name).as_deref(), Some("pass"), "{name}: {report}");
    }
    assert!(
        verdict("container logs rotated").is_some(),
        "daemon.json is read through the SSH path too: {report}"
    );

    let out = t.lucidctl(
        "doctor",
        &with(&ssh, &["--offline", "--platform", "linux/arm64"]),
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stdout.contains("FAIL  architecture"), "{out:?}");
    assert!(
        out.stdout.contains("the images are for linux/arm64"),
        "{out:?}"
    );
    assert!(out.stdout.contains("fix:"), "{out:?}");

    let out = t.lucidctl(
        "doctor",
        &with(&ssh, &["--offline", "--min-free-gb", "1000000"]),
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stdout.contains("FAIL  free disk space"), "{out:?}");
    assert!(out.stdout.contains("--min-free-gb"), "{out:?}");
}
