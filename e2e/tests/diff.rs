//! `lucidctl diff` against the real engine (issue 3): what it plans, how it
//! reports conflicts and unreachable engines, and that secrets never show.

use lucid_e2e::*;
use serde_json::{json, Value};

/// One network, one volume, two services (api waits for web) and a one-shot job.
fn small_system(greeting: &str) -> String {
    [
        network("net"),
        volume("data"),
        standin_service("web", "net", 8080, &[("GREETING", greeting)], "mounts:\n  - {volume: data, target: /data}\n"),
        standin_service("api", "net", 8081, &[], "dependsOn:\n  - {name: web, condition: healthy}\n"),
        doc(
            "Job",
            "init",
            &format!(
                "image: {STANDIN_IMAGE}\ncommand: [\"job\", \"--wait-tcp\", \"web:8080\", \"--message\", \"seeded\"]\n\
                 networks:\n  - {{name: net}}\ndependsOn:\n  - {{name: web, condition: healthy}}\n"
            ),
        ),
    ]
    .concat()
}

fn sorted(mut v: Vec<(String, String, String)>) -> Vec<(String, String, String)> {
    v.sort();
    v
}

fn triple(kind: &str, name: &str, action: &str) -> (String, String, String) {
    (kind.to_string(), name.to_string(), action.to_string())
}

#[test]
fn diff_on_an_empty_engine_plans_create_for_every_network_volume_service_and_job() {
    let Some(t) = TestEnv::new("diffempty") else {
        return;
    };
    t.write("system.yaml", &small_system("old"));

    let (out, plan) = t.diff_json(&[]);
    out.expect_code(2);
    assert_eq!(
        sorted(plan_changes(&plan)),
        sorted(vec![
            triple("Network", "net", "create"),
            triple("Volume", "data", "create"),
            triple("Service", "web", "create"),
            triple("Service", "api", "create"),
            triple("Job", "init", "create"),
        ]),
        "{out:?}"
    );
    for change in plan["changes"].as_array().unwrap() {
        assert_eq!(
            reason_types(change),
            ["notFound"],
            "every create is explained by absence: {change:#}"
        );
        assert_eq!(
            change["reasons"][0]["message"], "does not exist",
            "{change:#}"
        );
    }
    assert_eq!(plan["conflicts"], json!([]), "{out:?}");
    assert_eq!(plan["errors"], json!([]), "{out:?}");
    assert_eq!(plan["summary"]["create"], 5, "{out:?}");

    // The text form agrees, and diff changed nothing.
    let text = t.diff(&[]);
    text.expect_code(2);
    for line in [
        "+ Network/net",
        "+ Volume/data",
        "+ Service/web",
        "+ Service/api",
        "+ Job/init",
        "Plan: 5 to create.",
    ] {
        assert!(text.stdout.contains(line), "missing {line:?}: {text:?}");
    }
    assert!(
        project_containers(&t.project).is_empty(),
        "diff must not create containers"
    );
    assert!(
        project_networks(&t.project).is_empty(),
        "diff must not create networks"
    );
    assert!(
        project_volumes(&t.project).is_empty(),
        "diff must not create volumes"
    );
}

#[test]
fn diff_is_empty_after_apply_and_one_env_edit_is_exactly_one_recreate() {
    let Some(t) = TestEnv::new("diffenv") else {
        return;
    };
    t.write("system.yaml", &small_system("old"));
    t.apply_ok(&["--timeout", "60s"]);

    t.assert_converged();
    let (out, plan) = t.diff_json(&[]);
    out.expect_code(0);
    assert_eq!(plan["changes"], json!([]), "{out:?}");

    t.write("system.yaml", &small_system("new"));
    let (out, plan) = t.diff_json(&[]);
    out.expect_code(2);
    assert_eq!(
        plan_changes(&plan),
        vec![triple("Service", "web", "recreate")],
        "only web changed: {out:?}"
    );
    let web = plan_change(&plan, "web").unwrap();
    assert_eq!(reason_types(web), ["specChanged"], "{web:#}");
    assert_eq!(
        web["fields"],
        json!([{"path": "env.GREETING", "from": "\"old\"", "to": "\"new\""}]),
        "{web:#}"
    );
    assert_eq!(plan["summary"], json!({"recreate": 1}), "{out:?}");

    let text = t.diff(&[]);
    text.expect_code(2);
    assert!(
        text.stdout
            .contains("± Service/web  recreate  (spec changed)"),
        "{text:?}"
    );
    assert!(
        text.stdout.contains("env.GREETING: \"old\" -> \"new\""),
        "{text:?}"
    );
    assert!(text.stdout.contains("Plan: 1 to recreate."), "{text:?}");
}

/// The containers here are made through the Engine API by the test itself (render
/// plus create, no `lucidctl apply`): diff must accept any container carrying the
/// labels a correct apply sets, and must see a hand-made difference in a declared
/// field even when the labels claim the desired spec hash.
#[test]
fn diff_judges_containers_created_through_the_engine_api_by_their_labels_and_fields() {
    use desired_state::model::{Kind, Spec};
    use reconcilers::engine::{Engine, EngineApi, ObserveScope};
    use reconcilers::render::{render_container, render_network, EnvValue, Inputs};

    let Some(t) = TestEnv::new("diffapi") else {
        return;
    };
    t.write(
        "system.yaml",
        &[
            network("net"),
            standin_service("web", "net", 8080, &[("GREETING", "old")], ""),
            standin_service(
                "api",
                "net",
                8081,
                &[],
                "dependsOn:\n  - {name: web, condition: healthy}\n",
            ),
        ]
        .concat(),
    );
    let options = desired_state::LoadOptions {
        paths: vec![t.state_dir.clone()],
        recursive: false,
        root: None,
    };
    let state = match desired_state::load_valid(&options) {
        Ok((state, _)) => state,
        Err(_) => panic!(
            "the test system does not validate; run lucidctl validate -f {}",
            t.state_dir.display()
        ),
    };
    let configs = reconcilers::prepare::read_config_files(&state).expect("config files");
    let inputs = Inputs {
        project: t.project.clone(),
        name_prefix: t.prefix.clone(),
        files_dir: t.files_dir.clone(),
        config_hashes: configs
            .iter()
            .map(|(k, v)| (k.clone(), v.hash.clone()))
            .collect(),
        secrets: reconcilers::prepare::read_secrets(
            &state,
            &t.secrets_dir,
            &reconcilers::sealed::Sealing::default(),
        )
        .expect("secrets"),
        // Image builds, revision: none here (the system has no Image resources).
        ..Default::default()
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let engine = rt.block_on(Engine::connect(None)).expect("engine");
    let observed = rt
        .block_on(engine.observe(&ObserveScope::default()))
        .expect("observe");
    let spec_of = |name: &str| {
        render_container(state.get(Kind::Service, name).unwrap(), &inputs, &observed)
            .unwrap()
            .unwrap()
    };

    rt.block_on(async {
        let net = state.get(Kind::Network, "net").unwrap();
        let Spec::Network(n) = &net.spec else {
            unreachable!()
        };
        engine
            .create_network(&render_network(net, n, &inputs))
            .await
            .expect("create network");
        for name in ["web", "api"] {
            let spec = spec_of(name);
            engine
                .create_container(&spec, &spec.name)
                .await
                .expect("create container");
            engine.start(&spec.name).await.expect("start container");
        }
    });
    let (out, plan) = t.diff_json(&[]);
    out.expect_code(0);
    assert_eq!(
        plan["changes"],
        json!([]),
        "containers with correct labels and fields are converged: {out:?}"
    );

    // Same labels (so the same spec hash), but GREETING differs: changed by hand.
    // Only an inspect shows that: the container list proves a container by its
    // labels, state and health, so this diff asks for every container's inspect.
    docker_ok(&["rm", "-f", &t.obj("web")]);
    let mut tampered = spec_of("web");
    tampered
        .env
        .insert("GREETING".into(), EnvValue::Plain("tampered".into()));
    rt.block_on(async {
        engine
            .create_container(&tampered, &tampered.name)
            .await
            .expect("create tampered container");
        engine
            .start(&tampered.name)
            .await
            .expect("start tampered container");
    });
    let (out, plan) = t.diff_json(&["--inspect-all"]);
    out.expect_code(2);
    assert_eq!(
        plan_changes(&plan),
        vec![triple("Service", "web", "recreate")],
        "{out:?}"
    );
    let web = plan_change(&plan, "web").unwrap();
    assert_eq!(reason_types(web), ["manualChange"], "{web:#}");
    assert_eq!(web["reasons"][0]["message"], "changed by hand", "{web:#}");
    assert_eq!(
        web["fields"],
        json!([{"path": "env.GREETING", "from": "\"tampered\"", "to": "\"old\""}]),
        "{web:#}"
    );

    // And apply repairs it (also asked to inspect everything).
    t.apply_ok(&["--timeout", "60s", "--inspect-all"]);
    t.assert_converged();
    let env = inspect_container(&t.obj("web")).unwrap()["Config"]["Env"].clone();
    assert!(
        env.as_array().unwrap().contains(&json!("GREETING=old")),
        "{env:#}"
    );
}

#[test]
fn diff_reports_an_unmanaged_container_with_a_desired_name_as_a_conflict_and_leaves_it_alone() {
    let Some(t) = TestEnv::new("diffconflict") else {
        return;
    };
    t.write(
        "system.yaml",
        &[
            network("net"),
            standin_service("web", "net", 8080, &[], ""),
            standin_service("api", "net", 8081, &[], ""),
        ]
        .concat(),
    );
    let squatter = t.obj("web");
    t.hand_made(&squatter);
    docker_ok(&[
        "run",
        "-d",
        "--name",
        &squatter,
        "--label",
        "e2e.purpose=hand-made",
        STANDIN_IMAGE,
    ]);
    let before = inspect_container(&squatter).unwrap();

    let (out, plan) = t.diff_json(&[]);
    out.expect_code(1);
    let conflicts = plan["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{out:?}");
    assert_eq!(conflicts[0]["kind"], "Service", "{out:?}");
    assert_eq!(conflicts[0]["name"], "web", "{out:?}");
    let message = conflicts[0]["message"].as_str().unwrap();
    assert!(
        message.contains(&squatter) && message.contains("ownership label"),
        "{message}"
    );

    let text = t.diff(&[]);
    text.expect_code(1);
    assert!(
        text.stdout.contains("! Service/web") && text.stdout.contains(&squatter),
        "{text:?}"
    );
    assert!(text.stdout.contains("1 conflict(s)"), "{text:?}");

    // apply refuses as a whole.
    let apply = t.apply(&["--timeout", "30s"]);
    apply.expect_code(1);
    assert!(
        apply.stderr.contains("conflicts") && apply.stderr.contains(&squatter),
        "{apply:?}"
    );

    let after = inspect_container(&squatter).expect("the unmanaged container must still exist");
    assert_eq!(after["Id"], before["Id"], "same container");
    assert_eq!(after["State"]["Running"], true, "still running");
    assert_eq!(
        after["State"]["StartedAt"], before["State"]["StartedAt"],
        "never restarted"
    );
    assert_eq!(
        after["Config"]["Labels"], before["Config"]["Labels"],
        "labels untouched"
    );
    assert_eq!(after["Name"], before["Name"], "not renamed");
    assert!(
        project_containers(&t.project).is_empty(),
        "nothing was created"
    );
    assert!(
        project_networks(&t.project).is_empty(),
        "nothing was created"
    );
    assert!(
        project_volumes(&t.project).is_empty(),
        "no lock left behind"
    );
}

#[test]
fn diff_against_an_unreachable_host_fails_with_one_line_and_a_fix_and_validation_runs_before_the_engine(
) {
    // Never reaches an engine, so it runs under LUCID_E2E=skip too.
    let t = TestEnv::offline("diffhost");
    t.write(
        "system.yaml",
        &[network("net"), standin_service("web", "net", 8080, &[], "")].concat(),
    );
    let host = "unix:///nonexistent.sock";

    for extra in [&["-H", host][..], &["-H", host, "-o", "json"][..]] {
        let out = t.diff(extra);
        out.expect_code(1);
        assert_eq!(out.stdout, "", "nothing on stdout: {out:?}");
        let lines: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 2, "one error line and its fix: {out:?}");
        assert!(lines[0].contains(host), "the line names the host: {out:?}");
        assert!(
            lines[1].starts_with("  fix: ") && lines[1].contains("systemctl status docker"),
            "what to do next: {out:?}"
        );
    }

    // An unknown field: reported at its position, and the engine is never mentioned.
    let bad = t.write_aside(
        "bad-field/bad.yaml",
        &format!(
            "---\napiVersion: lucid/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  image: {STANDIN_IMAGE}\n  commnd: [\"serve\"]\n"
        ),
    );
    let out = t.lucidctl_with("diff", std::slice::from_ref(&bad), &["-H", host]);
    out.expect_code(1);
    let at = format!("{}:8:3", bad.display());
    assert!(
        out.stderr.contains(&at),
        "expected the error at {at}: {out:?}"
    );
    assert!(
        out.stderr.contains("commnd") && out.stderr.contains("command"),
        "names the field and a fix: {out:?}"
    );
    assert_never_mentions_engine(&out, host);

    // A YAML syntax error: file:line:col too.
    let broken = t.write_aside(
        "bad-syntax/broken.yaml",
        "---\napiVersion: lucid/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  image: [unclosed\n  env: {A: \"1\"}\n",
    );
    let out = t.lucidctl_with("diff", std::slice::from_ref(&broken), &["-H", host]);
    out.expect_code(1);
    let prefix = format!("{}:", broken.display());
    let located = out.stderr.lines().any(|l| {
        l.strip_prefix(&prefix).is_some_and(|rest| {
            let mut parts = rest.splitn(3, ':');
            let line = parts.next().and_then(|p| p.parse::<u32>().ok());
            let col = parts.next().and_then(|p| p.parse::<u32>().ok());
            matches!((line, col), (Some(l), Some(c)) if l >= 7 && c >= 1)
        })
    });
    assert!(
        located,
        "expected {prefix}LINE:COL (line 7 or later): {out:?}"
    );
    assert_never_mentions_engine(&out, host);
}

#[track_caller]
fn assert_never_mentions_engine(out: &Output, host: &str) {
    let all = out.all().to_lowercase();
    for word in ["engine", "nonexistent.sock", "cannot reach", "docker"] {
        assert!(!all.contains(word), "validation failed, so the engine ({host}) must never be contacted or mentioned; found {word:?}: {out:?}");
    }
}

fn env_file_value(t: &TestEnv, file: &str, key: &str) -> String {
    let text = std::fs::read_to_string(t.secrets_dir.join(file))
        .unwrap_or_else(|e| panic!("cannot read the env file {file}: {e}"));
    text.lines()
        .filter_map(|l| l.trim().split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().trim_matches('"').trim_matches('\'').to_string())
        .unwrap_or_else(|| panic!("{key} is not in {file}"))
}

/// The whole value, and its first 16 characters (a truncated value is a leak too).
#[track_caller]
fn assert_secret_absent(secret: &str, haystack: &str, what: &str) {
    assert!(
        secret.len() >= 32,
        "the test secret should be long: {}",
        secret.len()
    );
    assert!(
        !haystack.contains(secret),
        "the secret value appears in {what}"
    );
    assert!(
        !haystack.contains(&secret[..16]),
        "part of the secret value appears in {what}"
    );
}

fn labels_text(t: &TestEnv, name: &str) -> String {
    inspect_container(&t.obj(name)).unwrap()["Config"]["Labels"].to_string()
}

fn env_of(t: &TestEnv, name: &str) -> Value {
    inspect_container(&t.obj(name)).unwrap()["Config"]["Env"].clone()
}

#[test]
fn secrets_never_appear_in_diff_output_or_labels_even_after_a_rotation() {
    let Some(t) = TestEnv::new("diffsecret") else {
        return;
    };
    t.write(
        "system.yaml",
        &[
            network("net"),
            doc(
                "SecretSet",
                "app-secrets",
                "file: .env.app\ngenerate:\n  - {key: API_TOKEN, bytes: 24, encoding: hex}\nvalues:\n  API_USER: e2e-user\n",
            ),
            standin_service("web", "net", 8080, &[], "envFrom:\n  - {secretSet: app-secrets}\n"),
        ]
        .concat(),
    );
    let generate = t.secrets_generate(std::slice::from_ref(&t.state_dir), &[]);
    generate.expect_code(0);
    let first = env_file_value(&t, ".env.app", "API_TOKEN");
    assert_secret_absent(&first, &generate.all(), "secrets generate output");

    let apply = t.apply_ok(&["--timeout", "60s"]);
    assert_secret_absent(&first, &apply.all(), "apply output");
    assert!(
        env_of(&t, "web")
            .as_array()
            .unwrap()
            .contains(&json!(format!("API_TOKEN={first}"))),
        "the secret reaches the container"
    );
    assert_secret_absent(&first, &labels_text(&t, "web"), "container labels");
    t.assert_converged();

    let rotate = t.secrets_generate(
        std::slice::from_ref(&t.state_dir),
        &["--rotate", "API_TOKEN"],
    );
    rotate.expect_code(0);
    let second = env_file_value(&t, ".env.app", "API_TOKEN");
    assert_ne!(first, second, "--rotate gives a new value");
    assert_secret_absent(&first, &rotate.all(), "secrets generate --rotate output");
    assert_secret_absent(&second, &rotate.all(), "secrets generate --rotate output");

    let (json_out, plan) = t.diff_json(&[]);
    json_out.expect_code(2);
    assert_eq!(
        plan_changes(&plan),
        vec![triple("Service", "web", "recreate")],
        "{json_out:?}"
    );
    let web = plan_change(&plan, "web").unwrap();
    assert_eq!(
        web["reasons"],
        json!([{"type": "secretChanged", "set": "app-secrets", "message": "secret set app-secrets changed"}]),
        "{web:#}"
    );
    assert_eq!(
        web["fields"],
        json!([{"path": "env.API_TOKEN", "from": "(sensitive)", "to": "(sensitive)"}]),
        "{web:#}"
    );
    let text_out = t.diff(&[]);
    text_out.expect_code(2);
    assert!(
        text_out
            .stdout
            .contains("env.API_TOKEN: (sensitive) -> (sensitive)"),
        "{text_out:?}"
    );
    for secret in [&first, &second] {
        assert_secret_absent(secret, &json_out.all(), "diff -o json output");
        assert_secret_absent(secret, &text_out.all(), "diff output");
    }

    let apply = t.apply_ok(&["--timeout", "60s"]);
    assert!(
        env_of(&t, "web")
            .as_array()
            .unwrap()
            .contains(&json!(format!("API_TOKEN={second}"))),
        "the rotated secret reaches the container"
    );
    for secret in [&first, &second] {
        assert_secret_absent(secret, &apply.all(), "apply output");
        assert_secret_absent(secret, &labels_text(&t, "web"), "container labels");
    }
    t.assert_converged();
}
