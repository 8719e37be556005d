//! Compose files shaped like well-known public projects (a self-hosted
//! suite, a monitoring stack, a database behind a pooler), one class of
//! real-world trouble each (issue 19): flow lists closed at the key's
//! indentation, `$${VAR}` escapes, `.env` comments, quotes and bare
//! `environment:` names, numbers written as strings or interpolated, merge
//! keys inside anchors, dotted variable names. Each must import with no
//! unsupported finding and validate; nothing may be dropped without a finding.

use desired_state::model::{Kind, Spec, WorkloadSpec};
use desired_state::{DesiredState, LoadOptions};
use lucid_compose::export::{export, ExportOptions};
use lucid_compose::import::{import, FindingKind, ImportOptions, Imported};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("lucid-compose-real-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn import_dir(src: &Path, out: &Path, env: HashMap<String, String>) -> Imported {
    import(
        &[src.join("docker-compose.yml")],
        &ImportOptions {
            output_dir: out.to_path_buf(),
            env,
            project: None,
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", src.display()))
}

/// Imports a fixture into a scratch directory (no git work tree), asserts it
/// needs no --allow-unsupported, and loads and validates the output.
fn import_fixture(name: &str) -> (Imported, DesiredState) {
    let out = scratch(name);
    let imported = import_dir(&fixture(name), &out, HashMap::new());
    let blocking: Vec<String> = imported.blocking().map(|f| f.to_string()).collect();
    assert!(
        blocking.is_empty(),
        "{name}: unsupported findings:\n{}",
        blocking.join("\n")
    );
    for f in &imported.files {
        std::fs::write(out.join(&f.path), &f.content).unwrap();
    }
    let loaded = desired_state::load_valid(&LoadOptions {
        paths: vec![out.clone()],
        recursive: false,
        root: Some(fixture(name).parent().unwrap().to_path_buf()),
    });
    let state = match loaded {
        Ok((state, _)) => state,
        Err(invalid) => panic!(
            "{name}: the import does not validate:\n{}",
            invalid
                .errors
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    let _ = std::fs::remove_dir_all(&out);
    (imported, state)
}

fn workload<'s>(state: &'s DesiredState, name: &str) -> &'s WorkloadSpec {
    state
        .workloads()
        .find(|r| r.name() == name)
        .unwrap_or_else(|| panic!("no workload {name}"))
        .spec
        .workload()
        .unwrap()
}

#[test]
fn self_hosted_suite_keeps_env_values_escapes_and_flow_lists() {
    let (imported, state) = import_fixture("suite");
    let app = workload(&state, "app");
    // Bare names take their value from .env, whose inline comments and
    // quotes are read as compose reads them.
    assert_eq!(app.env["TZ"], "Europe/Berlin");
    assert_eq!(
        app.env["TRUSTED_DOMAINS"],
        "files.example.org cloud.example.org"
    );
    assert_eq!(app.env["OVERWRITE_CLI_URL"], "https://files.example.org");
    // A flow list closed at the key's indentation.
    assert_eq!(
        app.healthcheck.as_ref().unwrap().test,
        [
            "CMD-SHELL",
            "curl -fsS http://localhost/status.php || exit 1"
        ]
    );
    // `$${VAR}` is the container's own `${VAR}`: escaped in the model.
    let cron = workload(&state, "cron");
    assert_eq!(
        cron.command.as_ref().unwrap()[0],
        "while true; do php -f /var/www/html/cron.php; sleep $${CRON_EVERY:-300}; done"
    );
    let search = workload(&state, "search");
    assert_eq!(search.env["discovery.type"], "single-node");
    assert_eq!(search.env["xpack.security.enabled"], "false");
    assert_eq!(imported.project, "suite");
}

#[test]
fn monitoring_stack_merges_anchors_within_anchors_and_reads_string_numbers() {
    let (imported, state) = import_fixture("monitoring");
    assert!(
        !imported
            .findings
            .iter()
            .any(|f| f.to_string().contains("<<")),
        "{:?}",
        imported.findings
    );
    for name in ["prometheus", "alertmanager", "node-exporter"] {
        let w = workload(&state, name);
        assert_eq!(w.init, Some(true), "{name}: x-base through x-service");
        assert!(w.restart.is_some(), "{name}: restart from x-base");
    }
    for name in ["prometheus", "alertmanager"] {
        let w = workload(&state, name);
        assert_eq!(
            w.resources.as_ref().unwrap().memory.unwrap().0,
            256 << 20,
            "{name}: deploy limits from x-service"
        );
        assert_eq!(w.healthcheck.as_ref().unwrap().retries, Some(5), "{name}");
    }
    assert_eq!(
        workload(&state, "node-exporter")
            .resources
            .as_ref()
            .unwrap()
            .pids_limit,
        Some(100),
        "pids_limit: ${{NODE_EXPORTER_PIDS:-100}}"
    );
    assert_eq!(
        workload(&state, "alertmanager").command.as_ref().unwrap()[1],
        "--web.external-url=http://$${HOSTNAME}:9093"
    );
}

#[test]
fn database_with_pooler_keeps_shell_variables_in_healthchecks() {
    let (_, state) = import_fixture("dbproxy");
    let db = workload(&state, "db");
    let check = db.healthcheck.as_ref().unwrap();
    assert_eq!(
        check.test[1],
        "pg_isready -U $${POSTGRES_USER} -d $${POSTGRES_DB}"
    );
    assert_eq!(check.retries, Some(5));
    assert_eq!(db.resources.as_ref().unwrap().memory.unwrap().0, 512 << 20);
    let pooler = workload(&state, "pooler");
    assert_eq!(pooler.resources.as_ref().unwrap().pids_limit, Some(64));
    assert_eq!(pooler.healthcheck.as_ref().unwrap().retries, Some(3));

    // Exported back, the escape is compose's `$${...}` again.
    let out = scratch("dbproxy-export");
    let files = export(
        &state,
        &ExportOptions {
            output_dir: out.clone(),
            secrets_dir: out.join("secrets"),
            ..Default::default()
        },
    );
    let compose = &files[0].content;
    assert!(
        compose.contains("pg_isready -U $${POSTGRES_USER} -d $${POSTGRES_DB}"),
        "{compose}"
    );
    let _ = std::fs::remove_dir_all(&out);
    assert!(state.get(Kind::SecretSet, "db-env").is_some());
    let Some(Spec::SecretSet(_)) = state.get(Kind::SecretSet, "db-env").map(|r| &r.spec) else {
        panic!("db-env is a SecretSet")
    };
}

#[test]
fn numbers_that_are_not_numbers_are_listed_not_dropped() {
    let dir = scratch("bad-numbers");
    std::fs::write(
        dir.join("docker-compose.yml"),
        "services:\n  web:\n    image: nginx:1.25\n    pids_limit: ${PIDS:-lots}\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      retries: \"five\"\n    init: ${INIT:-perhaps}\n",
    )
    .unwrap();
    let imported = import_dir(&dir, &dir.join("out"), HashMap::new());
    let blocking: Vec<String> = imported
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Unsupported)
        .map(|f| f.to_string())
        .collect();
    assert_eq!(blocking.len(), 3, "{blocking:?}");
    assert!(
        blocking[0]
            .contains("docker-compose.yml:4:17: services.web.pids_limit: expected a whole number"),
        "{blocking:?}"
    );
    assert!(
        blocking[1].contains(":7:16: services.web.healthcheck.retries:"),
        "{blocking:?}"
    );
    assert!(
        blocking[2].contains(":8:11: services.web.init: expected true or false, found \"perhaps\""),
        "{blocking:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bare_environment_name_set_nowhere_is_listed() {
    let dir = scratch("bare-env");
    std::fs::write(
        dir.join("docker-compose.yml"),
        "services:\n  web:\n    image: nginx:1.25\n    environment: [FROM_ENV, NOWHERE]\n",
    )
    .unwrap();
    let env = HashMap::from([("FROM_ENV".to_string(), "x".to_string())]);
    let imported = import_dir(&dir, &dir.join("out"), env);
    let blocking: Vec<String> = imported.blocking().map(|f| f.to_string()).collect();
    assert_eq!(blocking.len(), 1, "{blocking:?}");
    assert!(blocking[0].contains("NOWHERE has no value"), "{blocking:?}");
    assert!(imported.files[0].content.contains("FROM_ENV: x"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Compose configs become ConfigFiles mounted read-only where compose mounts
/// them; compose secrets become one SecretSet, of which each service gets only
/// the keys it names, as files in /run/secrets. No secret value is copied.
#[test]
fn wiki_configs_and_secrets_become_config_files_and_secret_files() {
    let (imported, state) = import_fixture("wiki");
    let text = &imported.files[0].content;
    assert!(!text.contains("fixture-not-a-secret"), "{text}");

    let wiki = workload(&state, "wiki");
    let mounts: Vec<(String, String, bool)> = wiki
        .mounts
        .iter()
        .map(|m| {
            (
                m.config_file.clone().unwrap_or_default(),
                m.target.clone(),
                m.read_only,
            )
        })
        .collect();
    assert_eq!(
        mounts,
        [
            ("wiki-config".into(), "/wiki/config.yml".into(), true),
            ("robots".into(), "/robots".into(), true),
        ]
    );
    let Some(Spec::ConfigFile(conf)) = state.get(Kind::ConfigFile, "wiki-config").map(|r| &r.spec)
    else {
        panic!("no ConfigFile wiki-config")
    };
    assert!(
        conf.file.as_deref().unwrap().ends_with("wiki/config.yml"),
        "{conf:?}"
    );
    assert_eq!(conf.mode.map(|m| m.0), Some(0o440), "mode 0440");
    let Some(Spec::ConfigFile(robots)) = state.get(Kind::ConfigFile, "robots").map(|r| &r.spec)
    else {
        panic!("no ConfigFile robots")
    };
    assert_eq!(
        robots.content.as_deref(),
        Some("User-agent: *\nDisallow: /admin\n")
    );
    let proxy = workload(&state, "proxy");
    assert_eq!(proxy.mounts[0].target, "/etc/nginx/conf.d/default.conf");
    assert!(proxy.secret_files.is_empty(), "the proxy takes no secret");

    // One SecretSet for the project; each service takes its own keys.
    let Some(Spec::SecretSet(set)) = state.get(Kind::SecretSet, "wiki-secrets").map(|r| &r.spec)
    else {
        panic!("no SecretSet wiki-secrets")
    };
    assert_eq!(set.file, ".env.wiki-secrets");
    assert_eq!(
        set.keys().collect::<Vec<_>>(),
        ["db_password", "session_key"]
    );
    assert!(set.values.is_empty(), "values stay out of the state");
    let files = |w: &WorkloadSpec| -> Vec<(String, String, Vec<String>)> {
        w.secret_files
            .iter()
            .map(|f| (f.secret_set.clone(), f.target.clone(), f.keys.clone()))
            .collect()
    };
    assert_eq!(
        files(wiki),
        [(
            "wiki-secrets".into(),
            "/run/secrets".into(),
            vec!["db_password".into(), "session_key".into()]
        )]
    );
    assert_eq!(
        files(workload(&state, "db")),
        [(
            "wiki-secrets".into(),
            "/run/secrets".into(),
            vec!["db_password".into()]
        )]
    );
    // The note says which file's content goes under which key.
    let notes: Vec<String> = imported.findings.iter().map(|f| f.to_string()).collect();
    assert!(
        notes.iter().any(|n| n.contains("secrets.db_password: secret db_password: put the content of ./secrets/db_password.txt (one line, without its final newline) into the secrets directory's .env.wiki-secrets as db_password=")),
        "{notes:#?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("put the value of the variable WIKI_SESSION_KEY into")),
        "{notes:#?}"
    );

    // Exported: configs are read-only binds again; the secret files, which a
    // 2.4 compose file cannot declare, are named in the header with their keys.
    let out = scratch("wiki-export");
    let files = export(
        &state,
        &ExportOptions {
            output_dir: out.clone(),
            secrets_dir: out.join("secrets"),
            ..Default::default()
        },
    );
    let compose = &files[0].content;
    let flat = compose.replace("\n#   ", " ").replace("\n#  ", " ");
    assert!(
        flat.contains("wiki (wiki-secrets keys db_password, session_key at /run/secrets)"),
        "{compose}"
    );
    assert!(compose.contains("/wiki/config.yml:ro"), "{compose}");
    assert!(compose.contains("./configs/robots:/robots:ro"), "{compose}");
    let _ = std::fs::remove_dir_all(&out);
}

/// What cannot be carried over is listed with file:line:col, never dropped:
/// a multi-line secret (a PEM key), a name that is no SecretSet key, a target
/// that renames the file, external (swarm) secrets and configs.
#[test]
fn secrets_and_configs_that_cannot_be_carried_are_listed() {
    let dir = scratch("secret-limits");
    std::fs::write(
        dir.join("tls.key"),
        "-----BEGIN PRIVATE KEY-----\nMIIfixture\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::write(dir.join("token"), "t0ken\n").unwrap();
    std::fs::write(dir.join("padded"), " t0ken \n").unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        "services:\n  web:\n    image: nginx:1.25\n    user: www-data\n    secrets:\n      - tls_key\n      - source: api_token\n        target: /etc/app/token\n      - 2fa-seed\n      - swarm_secret\n      - ok_token\n      - padded\n    configs: [swarm_config, missing]\nsecrets:\n  tls_key:\n    file: ./tls.key\n  api_token:\n    file: ./token\n  2fa-seed:\n    file: ./token\n  swarm_secret:\n    external: true\n  ok_token:\n    file: ./token\n  padded:\n    file: ./padded\nconfigs:\n  swarm_config:\n    external: true\n",
    )
    .unwrap();
    let imported = import_dir(&dir, &dir.join("out"), HashMap::new());
    let prefix = format!("{}:", dir.join("docker-compose.yml").display());
    let blocking: Vec<String> = imported
        .blocking()
        .map(|f| f.to_string().replacen(&prefix, "", 1))
        .collect();
    let expected = [
        "4:11: services.web.user: user \"www-data\": lucidctl's secret files belong to the service's user, which must be numeric",
        "8:17: services.web.secrets[1].target: target \"/etc/app/token\": lucidctl writes each secret as /run/secrets/<name>, here /run/secrets/api_token",
        "13:29: services.web.configs[1]: config \"missing\" is not declared under the top-level configs",
        "16:11: secrets.tls_key.file: ./tls.key has several lines (a PEM key or certificate?): a SecretSet env file holds one line per key",
        "19:3: secrets.2fa-seed: secret name \"2fa-seed\" cannot be a key of lucidctl's SecretSet",
        "22:15: secrets.swarm_secret.external: an external secret lives in a swarm",
        "26:11: secrets.padded.file: ./padded begins or ends with spaces or quotes",
        "29:15: configs.swarm_config.external: an external config lives in a swarm",
    ];
    assert_eq!(blocking.len(), expected.len(), "{blocking:#?}");
    for (got, want) in blocking.iter().zip(expected) {
        assert!(
            got.starts_with(want),
            "{got}\n  does not start with\n{want}"
        );
    }
    assert!(!imported.files[0].content.contains("MIIfixture"));
    assert!(!imported.files[0].content.contains("t0ken"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `extends`, from another file and within the file, merged as compose
/// merges it: the extending service's keys win, mappings merge per entry,
/// volumes merge by target, and paths stay relative to the file that wrote them.
#[test]
fn workers_extend_a_shared_definition_as_compose_merges_it() {
    let (imported, state) = import_fixture("workers");
    let blocking: Vec<String> = imported.blocking().map(|f| f.to_string()).collect();
    assert!(blocking.is_empty(), "{blocking:?}");
    let web = workload(&state, "web");
    assert_eq!(web.image.as_str(), "example/queue-app:2.4");
    assert_eq!(
        web.env["LOG_LEVEL"], "warning",
        "the extending service wins"
    );
    assert_eq!(web.env["QUEUE_URL"], "redis://redis:6379/0", "inherited");
    assert_eq!(web.ports[0].host_port, Some(8000));
    assert_eq!(
        web.env_from
            .iter()
            .map(|e| e.secret_set.as_str())
            .collect::<Vec<_>>(),
        ["app-env"],
        "env_file ../app.env, relative to common/"
    );
    let uploads = fixture("workers").join("uploads");
    assert_eq!(
        web.mounts[0].bind.as_deref(),
        Some(uploads.to_str().unwrap()),
        "../uploads relative to common/services.yml"
    );
    assert_eq!(web.logging.as_ref().unwrap().options["max-size"], "10m");
    assert_eq!(web.restart.map(|r| r.as_str()), Some("unless-stopped"));

    let worker = workload(&state, "worker");
    assert_eq!(worker.env["LOG_LEVEL"], "info");
    assert_eq!(worker.env["CONCURRENCY"], "4");
    assert!(worker.ports.is_empty());

    // scheduler extends worker, which extends python-app.
    let scheduler = workload(&state, "scheduler");
    assert_eq!(
        scheduler.command.as_deref().unwrap(),
        ["celery", "-A", "app", "beat"]
    );
    assert_eq!(scheduler.env["CONCURRENCY"], "4", "from worker");
    assert_eq!(
        scheduler.env["QUEUE_URL"], "redis://redis:6379/0",
        "from python-app"
    );
    assert_eq!(
        scheduler.mounts.len(),
        1,
        "merged by target: {:?}",
        scheduler.mounts
    );
    assert_eq!(
        scheduler.mounts[0].volume.as_deref(),
        Some("workers-beat-state")
    );
    assert_eq!(scheduler.depends_on[0].name, "redis", "from worker");
    assert!(
        state.workloads().all(|r| r.name() != "python-app"),
        "a service of a file read for extends only is no service of the project"
    );
}

fn import_error(files: &[(&str, &str)]) -> String {
    let dir = scratch(&format!("extends-{}", files.len()));
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let out = import(
        &[dir.join("docker-compose.yml")],
        &ImportOptions {
            output_dir: dir.join("out"),
            env: HashMap::new(),
            project: None,
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
    match out {
        Ok(i) => panic!("imported: {:?}", i.findings),
        Err(e) => e.to_string().replacen(&dir.display().to_string(), "DIR", 2),
    }
}

#[test]
fn extends_cycles_and_missing_services_are_errors_at_the_extends() {
    let cycle = import_error(&[(
        "docker-compose.yml",
        "services:\n  a:\n    extends: b\n    image: x\n  b:\n    extends:\n      service: a\n",
    )]);
    assert!(
        cycle.contains("DIR/docker-compose.yml:3:14")
            && cycle.contains("services.a.extends: a cycle (a -> b -> a)"),
        "{cycle}"
    );
    let across = import_error(&[
        (
            "docker-compose.yml",
            "services:\n  web:\n    extends: {file: base/common.yml, service: app}\n",
        ),
        (
            "base/common.yml",
            "services:\n  app:\n    extends: {file: ../docker-compose.yml, service: web}\n",
        ),
    ]);
    assert!(
        across.contains("a cycle (web -> app -> web)")
            || across.contains("a cycle (app -> web -> app)"),
        "{across}"
    );
    let missing = import_error(&[(
        "docker-compose.yml",
        "services:\n  web:\n    image: x\n    extends:\n      file: common.yml\n      service: app\n",
    )]);
    assert!(
        missing.contains("DIR/docker-compose.yml:5:13") && missing.contains("cannot read"),
        "{missing}"
    );
    let no_service = import_error(&[
        (
            "docker-compose.yml",
            "services:\n  web:\n    extends: {file: common.yml, service: app}\n",
        ),
        ("common.yml", "services:\n  other:\n    image: x\n"),
    ]);
    assert!(
        no_service.contains("DIR/docker-compose.yml:3:14")
            && no_service.contains("declares no service \"app\""),
        "{no_service}"
    );
}

/// What a service inherits from another file is checked there: an
/// unsupported key is listed at its line in that file, not dropped.
#[test]
fn inherited_keys_are_checked_in_the_file_that_wrote_them() {
    let dir = scratch("extends-inherited");
    std::fs::create_dir_all(dir.join("base")).unwrap();
    std::fs::write(
        dir.join("base/common.yml"),
        "services:\n  app:\n    image: example/app:1\n    links:\n      - db\n    environment:\n      MODE: base\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        "services:\n  web:\n    extends:\n      file: base/common.yml\n      service: app\n    environment:\n      MODE: web\n",
    )
    .unwrap();
    let imported = import_dir(&dir, &dir.join("out"), HashMap::new());
    let blocking: Vec<String> = imported.blocking().map(|f| f.to_string()).collect();
    assert_eq!(blocking.len(), 1, "{blocking:#?}");
    assert!(
        blocking[0].ends_with("base/common.yml:4:5: services.app.links: not supported by lucidctl"),
        "{blocking:#?}"
    );
    assert!(imported.files[0].content.contains("MODE: web"));
    let _ = std::fs::remove_dir_all(&dir);
}
