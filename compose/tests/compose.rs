//! `lucidctl export compose` and `lucidctl import compose`:
//!
//! - the export of configs/lucid (with and without the local overlay, and with a
//!   selector) against golden files (regenerate with `UPDATE_GOLDEN=1`), and
//!   every golden file through `docker-compose config`;
//! - the import of realistic compose files under `fixtures/`, each of which must
//!   validate, and of one full of unsupported keys, listed with file and line;
//! - the round trip import, export, `docker-compose config`, compared with
//!   `docker-compose config` of the original for everything supported.
//!
//! docker-compose (1.29, Debian's) must be installed; `LUCID_E2E=skip` skips the
//! parts that need it when it is absent.

use desired_state::model::{Condition, Kind, Spec};
use desired_state::{DesiredState, LoadOptions};
use lucid_compose::export::{export, ExportOptions, ExportedFile};
use lucid_compose::import::{
    import, parse_expose, parse_port, FindingKind, ImportOptions, Imported,
};
use lucid_compose::text::{parse_compose_duration, split_words};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURES: [&str; 4] = ["shop", "chat", "metrics", "blog"];
/// Shaped like well-known public projects (issue 19); see tests/real_world.rs.
const REAL_WORLD: [&str; 3] = ["suite", "monitoring", "dbproxy"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("lucid-compose-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn write_files(dir: &Path, files: &[ExportedFile]) {
    for f in files {
        let path = dir.join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &f.content).unwrap();
    }
}

/// Every SecretSet's env file, as `lucidctl secrets generate` would write it:
/// the declared values plus a distinct stand-in for each generated key (this
/// crate does not depend on the reconcilers that generate real ones).
fn write_env_files(state: &DesiredState, dir: &Path) {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::fs::create_dir_all(dir).unwrap();
    for r in state.of_kind(Kind::SecretSet) {
        let Spec::SecretSet(s) = &r.spec else {
            continue;
        };
        let mut text = String::new();
        for g in &s.generate {
            text.push_str(&format!(
                "{}=test-{}-{}-{nonce:x}\n",
                g.key,
                r.name(),
                g.key
            ));
        }
        for (k, v) in &s.values {
            text.push_str(&format!("{k}={v}\n"));
        }
        std::fs::write(dir.join(&s.file), text).unwrap();
    }
}

fn load(paths: Vec<PathBuf>, root: Option<PathBuf>) -> DesiredState {
    match desired_state::load_valid(&LoadOptions {
        paths,
        recursive: false,
        root,
    }) {
        Ok((state, _)) => state,
        Err(invalid) => panic!(
            "invalid state:\n{}",
            invalid
                .errors
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// The compose implementations to check against: Debian's docker-compose 1.29,
/// plus compose v2 when `LUCID_COMPOSE_V2` names its binary (scripts/test.sh
/// installs it with scripts/install-anchors.sh). None when v1 is absent and
/// LUCID_E2E=skip says that is fine.
fn docker_compose() -> Option<Vec<String>> {
    let works = |bin: &str| {
        Command::new(bin)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let mut bins = Vec::new();
    if works("docker-compose") {
        bins.push("docker-compose".to_string());
    } else if std::env::var("LUCID_E2E").as_deref() == Ok("skip") {
        eprintln!("docker-compose is not installed and LUCID_E2E=skip: skipping the docker-compose checks");
        return None;
    } else {
        panic!("docker-compose is not installed (apt-get install docker-compose); set LUCID_E2E=skip to skip these checks");
    }
    if let Some(v2) = std::env::var("LUCID_COMPOSE_V2")
        .ok()
        .filter(|v| !v.is_empty())
    {
        assert!(works(&v2), "LUCID_COMPOSE_V2={v2} does not run");
        bins.push(v2);
    }
    Some(bins)
}

fn compose_config(bin: &str, project: &str, file: &Path, quiet: bool) -> Option<Value> {
    let mut cmd = Command::new(bin);
    cmd.args(["-p", project, "-f"]).arg(file).arg("config");
    if quiet {
        cmd.arg("-q");
    }
    let out = cmd.output().expect("run docker-compose");
    assert!(
        out.status.success(),
        "docker-compose -f {} config failed:\n{}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(file).unwrap_or_default()
    );
    if quiet {
        return None;
    }
    let text = String::from_utf8(out.stdout).unwrap();
    let docs =
        desired_state::yaml::parse_documents(file, &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    Some(docs.into_iter().next().expect("a document").value)
}

fn import_fixture(
    name: &str,
    dir: &Path,
    env: HashMap<String, String>,
) -> (Imported, DesiredState) {
    let src = dir.join(name);
    copy_dir(&here().join("fixtures").join(name), &src);
    let out = src.join("lucid");
    let imported = import(
        &[src.join("docker-compose.yml")],
        &ImportOptions {
            output_dir: out.clone(),
            env,
            project: None,
        },
    )
    .unwrap();
    let blocking: Vec<String> = imported.blocking().map(|f| f.to_string()).collect();
    assert!(
        blocking.is_empty(),
        "{name}: unexpected unsupported findings:\n{}",
        blocking.join("\n")
    );
    write_files(&out, &imported.files);
    let state = load(vec![out], Some(dir.to_path_buf()));
    (imported, state)
}

fn workload<'a>(
    state: &'a DesiredState,
    name: &str,
) -> (Kind, &'a desired_state::model::WorkloadSpec) {
    let r = state
        .workloads()
        .find(|r| r.name() == name)
        .unwrap_or_else(|| panic!("no workload {name}"));
    (r.kind(), r.spec.workload().unwrap())
}

#[test]
fn every_fixture_imports_and_validates() {
    let dir = scratch("import");
    let (imported, shop) = import_fixture("shop", &dir, HashMap::new());
    assert_eq!(imported.project, "shop");
    let (kind, migrate) = workload(&shop, "migrate");
    assert_eq!(
        kind,
        Kind::Job,
        "depended on with service_completed_successfully"
    );
    assert_eq!(
        migrate.command.as_deref().unwrap(),
        ["python", "manage.py", "migrate", "--noinput"]
    );
    let (_, web) = workload(&shop, "web");
    assert_eq!(
        web.command.as_ref().unwrap()[..3],
        ["gunicorn", "shop.wsgi", "--bind"]
    );
    assert_eq!(web.env["PRICE_FORMAT"], "$%.2f", "$$ is a literal $");
    assert!(web
        .depends_on
        .iter()
        .any(|d| d.name == "migrate" && d.condition == Condition::Completed));
    assert!(web
        .depends_on
        .iter()
        .any(|d| d.name == "redis" && d.condition == Condition::Healthy));
    assert_eq!(web.resources.as_ref().unwrap().memory.unwrap().0, 512 << 20);
    assert_eq!(
        web.env_from
            .iter()
            .map(|e| e.secret_set.as_str())
            .collect::<Vec<_>>(),
        ["db-env", "app-env"]
    );
    let Some(Spec::SecretSet(db_env)) = shop.get(Kind::SecretSet, "db-env").map(|r| &r.spec) else {
        panic!("no db-env")
    };
    assert_eq!(db_env.file, "db.env");
    assert_eq!(
        db_env.keys().collect::<Vec<_>>(),
        ["DATABASE_URL", "POSTGRES_PASSWORD"]
    );
    assert!(db_env.values.is_empty(), "values stay in the env file");
    assert!(
        !imported.files[0].content.contains("fixture-not-a-secret"),
        "no secret value is copied"
    );
    let Some(Spec::Image(img)) = shop.get(Kind::Image, "web").map(|r| &r.spec) else {
        panic!("no Image web")
    };
    assert_eq!(img.build.as_ref().unwrap().context, "../app");
    assert_eq!(img.build.as_ref().unwrap().args["PYTHON_VERSION"], "3.12");
    let (_, db) = workload(&shop, "db");
    assert_eq!(db.mounts[1].config_file.as_deref(), Some("schema-sql"));
    assert_eq!(db.networks[0].name, "shop-default");
    assert!(imported.files[0]
        .content
        .contains("kind: Network\nmetadata:\n  name: shop-default"));

    let (_, chat) = import_fixture("chat", &dir, HashMap::new());
    let (_, cache) = workload(&chat, "chat-redis");
    assert_eq!(cache.networks[0].name, "chat-backend");
    assert_eq!(
        cache.networks[0].aliases,
        ["cache"],
        "the compose service name stays resolvable"
    );
    let (_, app) = workload(&chat, "app");
    assert_eq!(app.depends_on[0].name, "chat-redis");
    assert_eq!(
        app.networks[1].ipv4_address.unwrap().to_string(),
        "10.20.0.20"
    );
    assert_eq!(
        app.ports[0].host_port, None,
        "expose is an unpublished port"
    );
    assert!(app.security.as_ref().unwrap().no_new_privileges);
    let Some(Spec::Network(backend)) = chat.get(Kind::Network, "chat-backend").map(|r| &r.spec)
    else {
        panic!()
    };
    assert!(backend.internal);
    assert_eq!(backend.subnet.unwrap().to_string(), "10.20.0.0/24");
    assert!(
        chat.get(Kind::Volume, "chat-cache-data").is_some(),
        "the volume's name: is kept"
    );

    let (_, metrics) = import_fixture("metrics", &dir, HashMap::new());
    let (_, prom) = workload(&metrics, "prometheus");
    let res = prom.resources.as_ref().unwrap();
    assert_eq!(
        (res.memory.unwrap().0, res.cpus),
        (512 << 20, Some(0.5)),
        "deploy.resources.limits"
    );
    assert_eq!(
        prom.restart.unwrap().as_str(),
        "on-failure",
        "deploy.restart_policy"
    );
    assert_eq!(
        prom.healthcheck
            .as_ref()
            .unwrap()
            .start_period
            .unwrap()
            .0
            .as_secs(),
        60
    );
    let (_, grafana) = workload(&metrics, "grafana");
    assert_eq!(
        grafana.env["GF_SERVER_ROOT_URL"], "http://localhost:3001/",
        "from .env"
    );
    assert_eq!(
        grafana.env["GF_SECURITY_ADMIN_USER"], "admin",
        "${{VAR:-default}}"
    );
    assert_eq!(grafana.ports[0].host_port, Some(3001));
    assert_eq!(
        grafana.restart.unwrap().as_str(),
        "unless-stopped",
        "from the <<: merge key"
    );
    let (_, node) = workload(&metrics, "node-exporter");
    assert_eq!(
        (node.mounts[0].bind.as_deref(), node.mounts[0].read_only),
        (Some("/"), true)
    );

    let (imported, blog) = import_fixture("blog", &dir, HashMap::new());
    for job in ["schema", "seed", "backup"] {
        assert_eq!(workload(&blog, job).0, Kind::Job, "{job}");
    }
    assert_eq!(workload(&blog, "app").0, Kind::Service);
    assert!(
        imported
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::Note && f.path == "services.backup.restart"),
        "{:?}",
        imported.findings
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unsupported_keys_are_listed_with_file_and_line() {
    let dir = scratch("unsupported");
    let file = here().join("fixtures/legacy/docker-compose.yml");
    let out = dir.join("lucid");
    let imported = import(
        std::slice::from_ref(&file),
        &ImportOptions {
            output_dir: out.clone(),
            env: HashMap::new(),
            project: None,
        },
    )
    .unwrap();
    let prefix = format!("{}:", file.display());
    let listed: Vec<String> = imported
        .blocking()
        .map(|f| f.to_string().replacen(&prefix, "", 1))
        .collect();
    let expected = [
        "7:5: services.app.links: not supported by lucidctl",
        "17:9: services.app.environment[0]: API_KEY has no value and is set neither in the environment nor in .env (compose would leave it out at `up`): write the value, or put it in an env_file",
        "22:7: services.app.deploy.replicas: not supported by lucidctl",
        "38:11: secrets.db_root_password.file: ./db_root_password.txt: cannot read: No such file or directory (os error 2); compose would fail too",
    ];
    assert_eq!(listed, expected);
    // --allow-unsupported: what is supported still converts into a valid state.
    write_files(&out, &imported.files);
    let state = load(vec![out], Some(dir.clone()));
    let (_, app) = workload(&state, "app");
    assert_eq!(app.env.keys().collect::<Vec<_>>(), ["MODE"]);
    // logging, ulimits, extra_hosts and tmpfs are carried over (issue 19).
    assert_eq!(app.logging.as_ref().unwrap().driver, "syslog");
    assert_eq!(app.ulimits["nofile"].hard, 65536);
    assert_eq!(app.extra_hosts["host.docker.internal"], "host-gateway");
    assert_eq!(app.tmpfs[0].target, "/tmp");
    assert_eq!(app.resources.as_ref().unwrap().memory.unwrap().0, 128 << 20);
    assert!(
        workload(&state, "db").1.networks.is_empty(),
        "network_mode host is left out"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn env_files_that_are_not_regular_files_are_refused_without_reading_them() {
    let dir = scratch("envdevice");
    let fifo = dir.join("fifo.env");
    let made = Command::new("mkfifo").arg("--").arg(&fifo).status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "mkfifo is needed for this test"
    );
    // A `.env` that is a FIFO would block the import before it starts.
    std::os::unix::fs::symlink(&fifo, dir.join(".env")).unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        format!(
            "services:\n  app:\n    image: app:1\n    env_file: [/dev/zero, {}]\n",
            fifo.display()
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let imported = import(
        &[dir.join("docker-compose.yml")],
        &ImportOptions {
            output_dir: dir.join("lucid"),
            env: HashMap::new(),
            project: None,
        },
    )
    .expect("the compose file itself imports");
    assert!(
        started.elapsed().as_secs() < 10,
        "nothing blocked or ran away"
    );
    let listed: Vec<String> = imported.blocking().map(|f| f.to_string()).collect();
    for path in ["/dev/zero", &fifo.display().to_string()] {
        assert!(
            listed
                .iter()
                .any(|f| f.contains(path) && f.contains("not a regular file")),
            "{path}: {listed:#?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn override_files_merge_and_unset_variables_are_reported() {
    let dir = scratch("override");
    std::fs::write(
        dir.join("docker-compose.yml"),
        "services:\n  web:\n    image: example/web:1\n    environment:\n      A: \"1\"\n    ports: [\"8080:80\"]\n    networks: [front]\nnetworks:\n  front: {}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("docker-compose.prod.yml"),
        "services:\n  web:\n    image: example/web:${TAG}\n    environment:\n      B: \"${HOST_NAME:?set HOST_NAME}\"\n    ports: [\"8443:443\"]\n    x-ignored: true\n",
    )
    .unwrap();
    let env: HashMap<String, String> = [("TAG".to_string(), "2".to_string())].into();
    let files = [
        dir.join("docker-compose.yml"),
        dir.join("docker-compose.prod.yml"),
    ];
    let imported = import(
        &files,
        &ImportOptions {
            output_dir: dir.join("out"),
            env,
            project: Some("demo".into()),
        },
    )
    .unwrap();
    let listed: Vec<String> = imported.blocking().map(|f| f.to_string()).collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].ends_with("docker-compose.prod.yml:5:10: services.web.environment.B: variable HOST_NAME is required (set HOST_NAME): left as ${HOST_NAME}; set it and import again"), "{}", listed[0]);
    let text = &imported.files[0].content;
    assert!(text.contains("image: example/web:2"), "{text}");
    assert!(
        text.contains("A: \"1\"") && text.contains("B: \"${HOST_NAME}\""),
        "{text}"
    );
    assert!(
        text.contains("hostPort: 8080") && text.contains("hostPort: 8443"),
        "ports accumulate: {text}"
    );
    assert!(text.contains("name: demo-front"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

struct GoldenCase {
    dir: &'static str,
    sources: &'static [&'static str],
    selector: &'static [(&'static str, &'static str)],
}

const GOLDEN: [GoldenCase; 3] = [
    GoldenCase {
        dir: "lucid-local",
        sources: &["configs/lucid", "configs/lucid/overlays/local"],
        selector: &[],
    },
    GoldenCase {
        dir: "lucid",
        sources: &["configs/lucid"],
        selector: &[],
    },
    GoldenCase {
        dir: "lucid-local-selector",
        sources: &["configs/lucid", "configs/lucid/overlays/local"],
        selector: &[("phase", "core")],
    },
];

/// The export as `lucidctl export compose` writes it by default: into configs/docker,
/// with the env files in configs/environment.
fn golden_export(case: &GoldenCase) -> (DesiredState, Vec<ExportedFile>) {
    let state = load(case.sources.iter().map(|s| repo().join(s)).collect(), None);
    let files = export(&state, &golden_options(case));
    (state, files)
}

fn golden_options(case: &GoldenCase) -> ExportOptions {
    let root = repo();
    ExportOptions {
        output_dir: root.join("configs/docker"),
        secrets_dir: root.join("configs/environment"),
        selector: case
            .selector
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        sources: case.sources.iter().map(|s| s.to_string()).collect(),
        name_prefix: String::new(),
    }
}

#[test]
fn export_matches_golden_files() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    for case in &GOLDEN {
        let (_, files) = golden_export(case);
        let dir = here().join("golden").join(case.dir);
        if update {
            let _ = std::fs::remove_dir_all(&dir);
            write_files(&dir, &files);
            continue;
        }
        let mut on_disk = BTreeSet::new();
        collect(&dir, &dir, &mut on_disk);
        let exported: BTreeSet<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(on_disk, exported, "{}: the set of files changed; run UPDATE_GOLDEN=1 cargo test -p lucid-compose --test compose", case.dir);
        for f in &files {
            let want = std::fs::read_to_string(dir.join(&f.path)).unwrap();
            if want != f.content {
                let line = want
                    .lines()
                    .zip(f.content.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(0)
                    + 1;
                panic!(
                    "{}/{} differs from the golden file at line {line}; if intended, run UPDATE_GOLDEN=1 cargo test -p lucid-compose --test compose\n--- golden\n{}\n--- now\n{}",
                    case.dir,
                    f.path.display(),
                    want.lines().nth(line - 1).unwrap_or(""),
                    f.content.lines().nth(line - 1).unwrap_or("")
                );
            }
        }
    }
}

fn collect(base: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_type().unwrap().is_dir() {
            collect(base, &e.path(), out);
        } else {
            out.insert(e.path().strip_prefix(base).unwrap().to_path_buf());
        }
    }
}

/// The exported files in a scratch tree shaped like the repository: configs/docker
/// (the files), configs/lucid and e2e (links), configs/environment (fresh env files).
fn config_tree(name: &str, state: &DesiredState, files: &[ExportedFile]) -> PathBuf {
    let tree = scratch(name);
    std::fs::create_dir_all(tree.join("configs")).unwrap();
    std::os::unix::fs::symlink(repo().join("configs/lucid"), tree.join("configs/lucid")).unwrap();
    std::os::unix::fs::symlink(repo().join("e2e"), tree.join("e2e")).unwrap();
    write_env_files(state, &tree.join("configs/environment"));
    write_files(&tree.join("configs/docker"), files);
    tree
}

#[test]
fn exported_files_pass_docker_compose_config() {
    let Some(bins) = docker_compose() else { return };
    for bin in &bins {
        for case in &GOLDEN {
            // The golden files themselves, in a tree shaped like the repository.
            let (state, files) = golden_export(case);
            let tree = config_tree(&format!("config-{}", case.dir), &state, &files);
            let docker = tree.join("configs/docker");
            for f in files
                .iter()
                .filter(|f| f.path.extension().is_some_and(|e| e == "yml"))
            {
                compose_config(bin, "lucidtest", &docker.join(&f.path), true);
            }
            // Nothing secret is inlined: no value of an env file appears in any file.
            let env =
                std::fs::read_to_string(tree.join("configs/environment/.env.foundation")).unwrap();
            let password = env
                .lines()
                .find_map(|l| l.strip_prefix("MONGODB_PASSWORD="))
                .unwrap();
            assert!(files.iter().all(|f| !f.content.contains(password)));
            std::fs::remove_dir_all(&tree).unwrap();
        }
    }
}

/// A compose file's document, comments dropped.
fn compose_doc(file: &ExportedFile) -> Value {
    let docs = desired_state::yaml::parse_documents(&file.path, &file.content)
        .unwrap_or_else(|e| panic!("{e}\n{}", file.content));
    docs.into_iter().next().expect("a document").value
}

/// `--name-prefix`: container_name and the networks' and volumes' `name:` carry the
/// prefix, as `lucidctl apply --name-prefix` names the objects; nothing else changes,
/// so keys, depends_on, network membership, aliases and volume mounts (by key) stay.
#[test]
fn a_name_prefix_renames_the_docker_objects_and_nothing_else() {
    const PREFIX: &str = "copy2-";
    for case in &GOLDEN {
        let (state, plain) = golden_export(case);
        let prefixed = export(
            &state,
            &ExportOptions {
                name_prefix: PREFIX.into(),
                ..golden_options(case)
            },
        );
        let paths = |files: &[ExportedFile]| -> Vec<PathBuf> {
            files.iter().map(|f| f.path.clone()).collect()
        };
        assert_eq!(
            paths(&prefixed),
            paths(&plain),
            "{}: the same files",
            case.dir
        );
        for (p, f) in prefixed.iter().zip(&plain) {
            if f.path.extension().is_none_or(|e| e != "yml") {
                assert_eq!(
                    p,
                    f,
                    "{}: {} is not a compose file",
                    case.dir,
                    f.path.display()
                );
                continue;
            }
            let what = format!("{}/{}", case.dir, f.path.display());
            let want = compose_doc(f);
            let mut got = compose_doc(p);
            let mut renamed = 0;
            for (section, field) in [
                ("services", "container_name"),
                ("networks", "name"),
                ("volumes", "name"),
            ] {
                let Some(entries) = got.get_mut(section).and_then(Value::as_object_mut) else {
                    continue;
                };
                for (key, entry) in entries.iter_mut() {
                    let name = entry[field].as_str().unwrap_or_default().to_string();
                    let plain_name = want[section][key][field].as_str().unwrap();
                    assert_eq!(
                        name,
                        format!("{PREFIX}{plain_name}"),
                        "{what}: {section}.{key}.{field}"
                    );
                    assert_eq!(
                        plain_name, key,
                        "{what}: without a prefix the name is the key"
                    );
                    entry[field] = json!(plain_name);
                    renamed += 1;
                }
            }
            assert!(renamed > 0, "{what}: names something");
            assert_eq!(got, want, "{what}: only the names differ");
            assert!(
                !p.content.contains(&format!("{PREFIX}{PREFIX}")),
                "{what}: prefixed once"
            );
        }
        // The header says so, and the isolation check to run names the prefix too.
        let flat = |text: &str| {
            text.replace("\n#   ", " ")
                .replace("\n#  ", " ")
                .replace("\n# ", " ")
        };
        let master = prefixed
            .iter()
            .find(|f| f.path.extension().is_some_and(|e| e == "yml"))
            .map(|f| flat(&f.content))
            .unwrap();
        assert!(
            master.contains(&format!(
                "carry the lucidctl names with the prefix {PREFIX} (as `lucidctl apply --name-prefix {PREFIX}` names them)"
            )),
            "{}: {master}",
            case.dir
        );
        if let Some(support) = prefixed
            .iter()
            .find(|f| f.path == Path::new("docker-compose.support.yml"))
        {
            assert!(
                flat(&support.content).contains(&format!(
                    "`lucidctl verify isolation -H ... --name-prefix {PREFIX}`"
                )),
                "{}",
                support.content
            );
        }
    }
}

/// What docker-compose makes of a prefixed export: the prefixed Docker names.
#[test]
fn prefixed_files_pass_docker_compose_config() {
    let Some(bins) = docker_compose() else { return };
    const PREFIX: &str = "copy2-";
    let case = &GOLDEN[0];
    let state = load(case.sources.iter().map(|s| repo().join(s)).collect(), None);
    let files = export(
        &state,
        &ExportOptions {
            name_prefix: PREFIX.into(),
            ..golden_options(case)
        },
    );
    let tree = config_tree("config-prefixed", &state, &files);
    let master = tree.join("configs/docker/docker-compose.master.yml");
    for bin in &bins {
        let config = compose_config(bin, "lucidtest", &master, false).unwrap();
        let names = |section: &str, field: &str| -> BTreeMap<String, String> {
            config[section]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v[field].as_str().unwrap_or("").to_string()))
                .collect()
        };
        let want = |kind: Kind| -> BTreeMap<String, String> {
            state
                .of_kind(kind)
                .map(|r| (r.name().to_string(), format!("{PREFIX}{}", r.name())))
                .collect()
        };
        let mut workloads = want(Kind::Service);
        workloads.extend(want(Kind::Job));
        assert_eq!(names("services", "container_name"), workloads, "{bin}");
        assert_eq!(names("networks", "name"), want(Kind::Network), "{bin}");
        assert_eq!(names("volumes", "name"), want(Kind::Volume), "{bin}");
    }
    std::fs::remove_dir_all(&tree).unwrap();
}

#[test]
fn export_headers_say_what_compose_cannot_express() {
    let (_, files) = golden_export(&GOLDEN[0]);
    // Header comments are wrapped; read them as one line.
    let flat = |text: &str| text.replace("\n#   ", " ").replace("\n#  ", " ");
    let file = |name: &str| {
        flat(
            &files
                .iter()
                .find(|f| f.path == Path::new(name))
                .unwrap()
                .content,
        )
    };
    let support = file("docker-compose.support.yml");
    assert!(support.contains("IsolationPolicy tron-isolation: network lucid-tron-isolated is reserved for its members"), "{support}");
    assert!(support.contains("only lucid-payment-gateway may join it and other networks too"));
    assert!(support.contains(
        "lucid-auth-service healthy (docker-compose.foundation.yml), for lucid-payment-gateway"
    ));
    assert!(support.contains("lucid-tron-isolated:\n    name: lucid-tron-isolated"));
    let foundation = file("docker-compose.foundation.yml");
    assert!(foundation.contains("Jobs (") && foundation.contains("lucid-storage-secrets-init,"));
    assert!(
        foundation.contains("beforeRecreate: lucidctl runs these Jobs"),
        "{foundation}"
    );
    assert!(foundation.contains("condition: service_completed_successfully"));
    assert!(foundation.contains("../environment/.env.foundation"));
    assert!(foundation.contains("mongod-conf 0644"));
    assert!(
        !foundation.contains("IsolationPolicy"),
        "the policy does not concern phase 1"
    );
    let master = file("docker-compose.master.yml");
    assert!(
        !master.contains("Requires, up first"),
        "the master file has every dependency"
    );
    let (_, base) = golden_export(&GOLDEN[1]);
    let master = flat(
        &base
            .iter()
            .find(|f| f.path == Path::new("docker-compose.master.yml"))
            .unwrap()
            .content,
    );
    assert!(master.contains("Build order: lucidctl builds base images first (pickme/lucid-base:python-distroless-arm64 (Image lucid-base-python) before the Images built FROM it: lucid-"), "{master}");
    assert!(
        master.contains("lucid-base-java (pickme/lucid-base:java-distroless-arm64)"),
        "an Image no service uses is named"
    );
    assert!(master.contains("platform: linux/arm64"));
}

/// What `docker-compose config` says about each service, in one form for any
/// syntax, keyed by container name (or service name when compose picks it).
fn normalize(config: &Value, project: &str) -> BTreeMap<String, Value> {
    let empty = Map::new();
    let services = config
        .get("services")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let top_name = |section: &str, key: &str| -> String {
        let named = config
            .get(section)
            .and_then(|s| s.get(key))
            .and_then(|n| n.get("name"))
            .and_then(Value::as_str);
        named
            .map(str::to_string)
            .unwrap_or_else(|| format!("{project}_{key}"))
            .replace('_', "-")
    };
    let id_of = |key: &str| -> String {
        services
            .get(key)
            .and_then(|s| s.get("container_name"))
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_string()
    };
    let text = |v: &Value| -> String {
        match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    };
    let words = |v: &Value| -> Value {
        match v {
            Value::String(s) => json!(split_words(s).unwrap()),
            other => other.clone(),
        }
    };
    let millis = |v: Option<&Value>| {
        v.map(|d| json!(parse_compose_duration(&text(d)).unwrap().as_millis() as u64))
    };
    let mut out = BTreeMap::new();
    for (key, s) in services {
        let get = |k: &str| s.get(k);
        let deploy = |p: &str| s.pointer(&format!("/deploy{p}"));
        let mut n = Map::new();
        n.insert(
            "image".into(),
            get("image")
                .cloned()
                .unwrap_or_else(|| json!(format!("{project}_{key}"))),
        );
        let env: BTreeMap<String, String> = get("environment")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            .unwrap_or_default();
        n.insert("environment".into(), json!(env));
        let mut ports = BTreeSet::new();
        for p in get("ports").and_then(Value::as_array).into_iter().flatten() {
            for port in parse_port(p).unwrap() {
                ports.insert(format!(
                    "{:?}|{:?}|{}/{}",
                    port.host_ip,
                    port.host_port,
                    port.container_port,
                    port.protocol.as_str()
                ));
            }
        }
        for e in get("expose")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for port in parse_expose(&text(e)).unwrap() {
                ports.insert(format!(
                    "None|None|{}/{}",
                    port.container_port,
                    port.protocol.as_str()
                ));
            }
        }
        n.insert("ports".into(), json!(ports));
        let mut names = BTreeSet::from([key.clone()]);
        if let Some(c) = get("container_name").and_then(Value::as_str) {
            names.insert(c.to_string());
        }
        let mut nets = BTreeMap::new();
        match (get("network_mode").and_then(Value::as_str), get("networks")) {
            (Some(mode), _) => {
                nets.insert(mode.to_string(), json!({}));
            }
            (None, None) => {
                nets.insert(
                    top_name("networks", "default"),
                    json!({"names": names, "ip": null}),
                );
            }
            (None, Some(Value::Array(list))) => {
                for net in list {
                    nets.insert(
                        top_name("networks", &text(net)),
                        json!({"names": names, "ip": null}),
                    );
                }
            }
            (None, Some(Value::Object(map))) => {
                for (net, v) in map {
                    let mut all = names.clone();
                    all.extend(
                        v.get("aliases")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .map(text),
                    );
                    nets.insert(
                        top_name("networks", net),
                        json!({"names": all, "ip": v.get("ipv4_address")}),
                    );
                }
            }
            _ => {}
        }
        n.insert("networks".into(), json!(nets));
        let mut mounts = BTreeSet::new();
        for v in get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (src, target, ro) = match v {
                Value::String(s) => {
                    let parts: Vec<&str> = s.split(':').collect();
                    (
                        parts[0].to_string(),
                        parts[1].to_string(),
                        parts
                            .get(2)
                            .is_some_and(|m| m.split(',').any(|o| o == "ro")),
                    )
                }
                other => (
                    text(&other["source"]),
                    text(&other["target"]),
                    other.get("read_only") == Some(&json!(true)),
                ),
            };
            let src = if src.starts_with('/') {
                src
            } else {
                top_name("volumes", &src)
            };
            mounts.insert(format!("{src}|{target}|{ro}"));
        }
        n.insert("volumes".into(), json!(mounts));
        if let Some(h) = get("healthcheck") {
            let test = if h.get("disable") == Some(&json!(true)) {
                json!(["NONE"])
            } else {
                match &h["test"] {
                    Value::String(s) => json!(["CMD-SHELL", s]),
                    other => other.clone(),
                }
            };
            n.insert(
                "healthcheck".into(),
                json!({"test": test, "interval": millis(h.get("interval")), "timeout": millis(h.get("timeout")),
                       "start_period": millis(h.get("start_period")),
                       "retries": h.get("retries").map(|r| text(r).parse::<i64>().map(Value::from).unwrap_or(r.clone()))}),
            );
        }
        let deps: BTreeMap<String, String> = match get("depends_on") {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(d, v)| {
                    (
                        id_of(d),
                        v.get("condition")
                            .map(text)
                            .unwrap_or("service_started".into()),
                    )
                })
                .collect(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|d| (id_of(&text(d)), "service_started".to_string()))
                .collect(),
            _ => BTreeMap::new(),
        };
        n.insert("depends_on".into(), json!(deps));
        n.insert(
            "command".into(),
            get("command").map(words).unwrap_or(Value::Null),
        );
        n.insert(
            "entrypoint".into(),
            get("entrypoint").map(words).unwrap_or(Value::Null),
        );
        let restart = get("restart").map(text).or_else(|| {
            deploy("/restart_policy/condition").map(|c| match text(c).as_str() {
                "any" => "always".to_string(),
                "none" => "no".to_string(),
                other => other.to_string(),
            })
        });
        n.insert(
            "restart".into(),
            json!(restart.unwrap_or_else(|| "no".into())),
        );
        let memory = get("mem_limit")
            .or(deploy("/resources/limits/memory"))
            .map(|m| match m {
                Value::Number(b) => b.as_u64().unwrap(),
                other => {
                    text(other)
                        .parse::<desired_state::model::ByteSize>()
                        .unwrap()
                        .0
                }
            });
        n.insert("memory".into(), json!(memory));
        let cpus = get("cpus")
            .or(deploy("/resources/limits/cpus"))
            .map(|c| text(c).parse::<f64>().unwrap());
        n.insert("cpus".into(), json!(cpus));
        // v1 prints an interpolated `${P:-100}` as the string "100"; it means 100.
        let integer = |v: &Value| text(v).parse::<i64>().map(Value::from).unwrap_or(v.clone());
        n.insert(
            "pids_limit".into(),
            get("pids_limit").map(integer).unwrap_or(Value::Null),
        );
        for k in ["user", "working_dir", "init", "read_only", "privileged"] {
            n.insert(k.into(), get(k).cloned().unwrap_or(Value::Null));
        }
        for k in ["cap_add", "cap_drop", "security_opt"] {
            let set: BTreeSet<String> = get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            n.insert(k.into(), json!(set));
        }
        n.insert(
            "stop_grace_period".into(),
            json!(millis(get("stop_grace_period"))),
        );
        out.insert(id_of(key), Value::Object(n));
    }
    out
}

#[test]
fn round_trip_keeps_the_supported_configuration() {
    // v1 only: v2's `config` prints another normal form, which `normalize` does not model.
    let Some(bins) = docker_compose() else { return };
    let bin = bins[0].as_str();
    let dir = scratch("round-trip");
    for name in FIXTURES.into_iter().chain(REAL_WORLD) {
        let (_, state) = import_fixture(name, &dir, std::env::vars().collect());
        let src = dir.join(name);
        let out = src.join("compose");
        let files = export(
            &state,
            &ExportOptions {
                output_dir: out.clone(),
                secrets_dir: src.clone(),
                selector: Vec::new(),
                sources: vec![format!("{name}/lucid")],
                name_prefix: String::new(),
            },
        );
        write_files(&out, &files);
        let original = compose_config(bin, name, &src.join("docker-compose.yml"), false).unwrap();
        let exported =
            compose_config(bin, name, &out.join("docker-compose.master.yml"), false).unwrap();
        let (a, b) = (normalize(&original, name), normalize(&exported, name));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{name}: services"
        );
        for (id, want) in &a {
            assert_eq!(
                want,
                &b[id],
                "{name}: service {id} differs after import and export\n--- original\n{}\n--- round trip\n{}",
                serde_json::to_string_pretty(want).unwrap(),
                serde_json::to_string_pretty(&b[id]).unwrap()
            );
        }
        // The phase-less fixtures export to the master file only.
        assert_eq!(
            files.len(),
            1 + files
                .iter()
                .filter(|f| f.path.starts_with("configs"))
                .count(),
            "{name}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn export_of_odd_shapes_is_accepted_by_docker_compose() {
    let dir = scratch("odd");
    std::fs::create_dir_all(dir.join("state")).unwrap();
    std::fs::write(
        dir.join("state/odd.yaml"),
        r#"apiVersion: lucid/v1alpha1
kind: ConfigFile
metadata: {name: app-conf}
spec: {content: "listen 80\n", mode: "0600"}
---
apiVersion: lucid/v1alpha1
kind: Volume
metadata: {name: odd-data}
spec: {driver: local, driverOpts: {type: tmpfs, device: tmpfs}}
---
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: odd-net}
spec: {internal: true, subnet: 172.30.0.0/24, gateway: 172.30.0.1}
---
apiVersion: lucid/v1alpha1
kind: Job
metadata: {name: odd-job}
spec:
  image: busybox:1.36
  command: ["sh", "-c", "echo $HOME > /data/x"]
  mounts: [{volume: odd-data, target: /data}]
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: odd-app, labels: {tier: odd}}
spec:
  image: busybox:1.36
  ports: [{containerPort: 80, hostPort: 8080, hostIP: "::1"}, {containerPort: 53, protocol: udp}]
  networks: [{name: odd-net, ipv4Address: 172.30.0.5}]
  mounts: [{configFile: app-conf, target: /etc/app.conf}, {bind: /var/log, target: /host-log, readOnly: true}]
  healthcheck: {test: [NONE]}
  dependsOn: [{name: odd-job, condition: completed}]
  resources: {memory: "100000000", cpus: 0.5}
  security: {privileged: true}
"#,
    )
    .unwrap();
    let state = load(vec![dir.join("state")], Some(dir.clone()));
    let out = dir.join("out");
    let files = export(
        &state,
        &ExportOptions {
            output_dir: out.clone(),
            secrets_dir: dir.join("env"),
            selector: Vec::new(),
            sources: vec!["state".into()],
            name_prefix: String::new(),
        },
    );
    let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    assert_eq!(names, ["docker-compose.master.yml", "configs/app-conf"]);
    assert_eq!(files[1].content, "listen 80\n");
    let master = &files[0].content;
    for want in [
        "\"./configs/app-conf:/etc/app.conf:ro\"",
        "/var/log:/host-log:ro",
        "network_mode: bridge",
        "\"echo $$HOME > /data/x\"",
        "\"[::1]:8080:80/tcp\"",
        "\"53/udp\"",
        "disable: true",
        "mem_limit: 100000000",
        "privileged: true",
        "app-conf 0600",
        "condition: service_completed_successfully",
        "restart: \"no\"",
        "driver_opts:\n      device: tmpfs\n      type: tmpfs",
        "internal: true",
        "ipv4_address: \"172.30.0.5\"",
    ] {
        assert!(master.contains(want), "missing {want:?} in\n{master}");
    }
    if let Some(bins) = docker_compose() {
        let bin = bins[0].as_str();
        write_files(&out, &files);
        let config =
            compose_config(bin, "odd", &out.join("docker-compose.master.yml"), false).unwrap();
        assert_eq!(
            config["services"]["odd-job"]["command"][2], "echo $$HOME > /data/x",
            "compose keeps the literal $"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
