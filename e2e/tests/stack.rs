//! `lucidctl export stack` deployed with `docker stack deploy` on a real
//! one-node swarm (issue 16): every service reaches its replica with a
//! healthy task, the Job completes, the isolated network is an encrypted
//! overlay and a ConfigFile is a Swarm config named by its content.

use lucid_e2e::swarm::Swarm;
use lucid_e2e::*;
use std::time::Duration;

fn system() -> String {
    let image = STANDIN_IMAGE;
    format!(
        r#"apiVersion: lucid/v1alpha1
kind: Network
metadata: {{name: vault}}
spec: {{internal: true}}
---
apiVersion: lucid/v1alpha1
kind: IsolationPolicy
metadata: {{name: vault-only}}
spec: {{network: vault, members: [store, init]}}
---
apiVersion: lucid/v1alpha1
kind: ConfigFile
metadata: {{name: greeting}}
spec: {{content: "hello from a swarm config\n"}}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {{name: store, labels: {{phase: foundation}}}}
spec:
  image: {image}
  command: [serve]
  env: {{STANDIN_NAME: store, STANDIN_PORTS: "8080"}}
  networks: [{{name: vault}}]
  mounts: [{{configFile: greeting, target: /etc/greeting}}]
  resources: {{memory: 64Mi}}
  healthcheck: {{test: ["CMD", "/standin", "probe", "8080"], interval: 1s, timeout: 1s, retries: 3}}
---
apiVersion: lucid/v1alpha1
kind: Job
metadata: {{name: init, labels: {{phase: foundation}}}}
spec:
  image: {image}
  command: [job, --wait-tcp, "store:8080", --message, "store is up"]
  networks: [{{name: vault}}]
  dependsOn: [{{name: store, condition: healthy}}]
"#
    )
}

fn lines(args: &[&str]) -> Vec<String> {
    docker_ok(args).lines().map(str::to_string).collect()
}

#[test]
fn an_exported_stack_comes_up_under_docker_stack_deploy() {
    let Some(t) = TestEnv::new("stack") else {
        return;
    };
    t.write("system.yaml", &system());
    let out_dir = t.dir.join("stack");
    let exported = t.lucidctl_raw(&[
        "export",
        "stack",
        "-f",
        &t.state_dir.display().to_string(),
        "-d",
        &out_dir.display().to_string(),
        "--name-prefix",
        &t.prefix,
    ]);
    exported.expect_code(0);
    let file = out_dir.join("docker-stack.foundation.yml");
    let text = std::fs::read_to_string(&file).expect("the phase file");
    assert!(
        text.contains("Isolation:") && text.contains("init after store"),
        "the header lists what the stack loses: {text}"
    );

    let swarm = Swarm::init(&t.project);
    let stack = t.project.replace('.', "-");
    let deployed = docker(&[
        "stack",
        "deploy",
        "--detach=true",
        "-c",
        &file.display().to_string(),
        "--",
        &stack,
    ]);
    assert!(deployed.success(), "docker stack deploy: {deployed:?}");
    let healthy_store = || {
        docker(&[
            "ps",
            "--filter",
            &format!("label=com.docker.swarm.service.name={stack}_store"),
            "--format",
            "{{.Status}}",
        ])
        .stdout
        .contains("(healthy)")
    };
    let job_done = || {
        docker(&[
            "service",
            "ls",
            "--filter",
            &format!("name={stack}_init"),
            "--format",
            "{{.Replicas}}",
        ])
        .stdout
        .contains("completed")
            && docker(&[
                "service",
                "ps",
                "--format",
                "{{.CurrentState}}",
                "--",
                &format!("{stack}_init"),
            ])
            .stdout
            .contains("Complete")
    };
    let up = wait_for(Duration::from_secs(120), || healthy_store() && job_done());
    let services = docker(&["service", "ls"]).stdout;
    let tasks = docker(&["stack", "ps", "--no-trunc", "--", &stack]).stdout;
    assert!(up, "store healthy and init completed:\n{services}\n{tasks}");

    let vault = t.obj("vault");
    let driver = docker_ok(&[
        "network",
        "inspect",
        "--format",
        "{{.Driver}} {{.Internal}} {{.Attachable}} {{json .Options}}",
        "--",
        &vault,
    ]);
    assert!(
        driver.starts_with("overlay true true ") && driver.contains("\"encrypted\""),
        "an encrypted, internal, attachable overlay: {driver}"
    );
    let configs = lines(&["config", "ls", "--format", "{{.Name}}"]);
    let greeting = format!("{}greeting-", t.prefix);
    assert!(
        configs
            .iter()
            .any(|c| c.starts_with(&greeting) && c.len() == greeting.len() + 12),
        "the config is named by its content: {configs:?}"
    );
    let removed = docker(&["stack", "rm", "--", &stack]);
    assert!(removed.success(), "{removed:?}");
    drop(swarm);
}
