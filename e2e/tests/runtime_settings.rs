//! Runtime settings (issue 19) against the real engine: a Service with
//! logging, ulimits, shm size, hostname, extra hosts, DNS, tmpfs, sysctls and
//! a stop signal is created as declared (`docker inspect`), a second diff is
//! clean, and changing one of them recreates with that field named.

use lucid_e2e::*;
use serde_json::{json, Value};

const SETTINGS: &str = "logging: {driver: json-file, options: {max-size: 1m, max-file: \"2\"}}\n\
ulimits: {nofile: {soft: 1024, hard: 2048}}\n\
shmSize: 128Mi\n\
hostname: HOSTNAME\n\
extraHosts: {mirror: 10.0.0.5}\n\
dns: [10.0.0.53]\n\
tmpfs: [{target: /scratch, size: 16Mi, mode: \"1777\"}]\n\
sysctls: {net.core.somaxconn: \"1024\"}\n\
stopSignal: SIGINT\n\
pid: host\n\
devices: [{hostPath: /dev/zero, containerPath: /dev/lucid-zero, permissions: r}]\n";

fn system(hostname: &str, bind: &str) -> String {
    [
        network("net"),
        // Shares web's network stack; a second, none, has no network at all.
        doc(
            "Service",
            "sidecar",
            &format!("image: {STANDIN_IMAGE}\ncommand: [\"serve\"]\nenv: {{STANDIN_NAME: sidecar, STANDIN_PORTS: \"8090\"}}\nnetworkMode: service:web\ndependsOn: [{{name: web}}]\nstopGracePeriod: 1s\n"),
        ),
        doc(
            "Service",
            "alone",
            &format!("image: {STANDIN_IMAGE}\ncommand: [\"serve\"]\nenv: {{STANDIN_NAME: alone, STANDIN_PORTS: \"8091\"}}\nnetworkMode: none\nstopGracePeriod: 1s\n"),
        ),
        standin_service(
            "web",
            "net",
            8080,
            &[],
            &format!(
                "{}mounts: [{{bind: {bind}, target: /shared, readOnly: true, selinux: shared}}, {{anonymous: true, target: /cache}}]\nports: [{{containerPort: 8080, hostPort: 0}}]\n",
                SETTINGS.replace("HOSTNAME", hostname)
            ),
        ),
    ]
    .concat()
}

fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    v.pointer(path).unwrap_or(&Value::Null)
}

#[test]
fn runtime_settings_reach_the_engine_and_converge() {
    let Some(t) = TestEnv::new("runtime") else {
        return;
    };
    let bind = t.write_aside("shared/readme", "relabeled\n");
    let bind = bind.parent().unwrap().display().to_string();
    t.write("system.yaml", &system("web-one", &bind));
    t.apply_ok(&[]);

    let c = inspect_container(&t.obj("web")).expect("web exists");
    assert_eq!(
        at(&c, "/HostConfig/LogConfig"),
        &json!({"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}})
    );
    assert_eq!(
        at(&c, "/HostConfig/Ulimits"),
        &json!([{"Name": "nofile", "Soft": 1024, "Hard": 2048}])
    );
    assert_eq!(at(&c, "/HostConfig/ShmSize"), &json!(128 << 20));
    assert_eq!(at(&c, "/Config/Hostname"), &json!("web-one"));
    assert_eq!(
        at(&c, "/HostConfig/ExtraHosts"),
        &json!(["mirror:10.0.0.5"])
    );
    assert_eq!(at(&c, "/HostConfig/Dns"), &json!(["10.0.0.53"]));
    assert_eq!(
        at(&c, "/HostConfig/Tmpfs"),
        &json!({"/scratch": "size=16777216,mode=1777"})
    );
    assert_eq!(
        at(&c, "/HostConfig/Sysctls"),
        &json!({"net.core.somaxconn": "1024"})
    );
    assert_eq!(at(&c, "/Config/StopSignal"), &json!("SIGINT"));
    assert_eq!(at(&c, "/HostConfig/PidMode"), &json!("host"));
    // hostPort 0: Docker picked a free port.
    let picked = at(&c, "/NetworkSettings/Ports/8080~1tcp/0/HostPort");
    assert!(
        picked
            .as_str()
            .and_then(|p| p.parse::<u16>().ok())
            .is_some_and(|p| p > 0),
        "{picked}"
    );
    assert_eq!(
        at(&c, "/HostConfig/Binds"),
        &json!([format!("{bind}:/shared:ro,z")])
    );
    assert_eq!(
        at(&c, "/HostConfig/Devices"),
        &json!([{"PathOnHost": "/dev/zero", "PathInContainer": "/dev/lucid-zero", "CgroupPermissions": "r"}])
    );

    let sidecar = inspect_container(&t.obj("sidecar")).expect("sidecar exists");
    assert_eq!(
        at(&sidecar, "/HostConfig/NetworkMode"),
        &json!(format!("container:{}", at(&c, "/Id").as_str().unwrap()))
    );
    let anonymous = c["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/cache")
        .expect("an anonymous volume at /cache");
    assert_eq!(anonymous["Type"], "volume");
    let anonymous = anonymous["Name"].as_str().unwrap().to_string();
    assert!(volume_exists(&anonymous));
    let alone = inspect_container(&t.obj("alone")).expect("alone exists");
    assert_eq!(at(&alone, "/HostConfig/NetworkMode"), &json!("none"));

    // What was created reads back as declared: nothing to do.
    t.assert_converged();

    // One changed setting recreates the container, naming the field.
    t.write("system.yaml", &system("web-two", &bind));
    let (out, plan) = t.diff_json(&[]);
    out.expect_code(2);
    let change = plan_change(&plan, "web").unwrap_or_else(|| panic!("{out:?}"));
    assert_eq!(change["action"], "recreate", "{change:#}");
    let fields: Vec<&str> = change["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert_eq!(fields, ["hostname"], "{change:#}");
    t.apply_ok(&[]);
    let c = inspect_container(&t.obj("web")).expect("web exists");
    assert_eq!(at(&c, "/Config/Hostname"), &json!("web-two"));
    // The new container starts with a fresh anonymous volume; the old one is
    // kept (no volume is removed unless a person asks), for `docker volume prune`.
    let fresh = c["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/cache")
        .and_then(|m| m["Name"].as_str())
        .map(String::from)
        .expect("an anonymous volume at /cache");
    assert_ne!(fresh, anonymous, "a fresh anonymous volume");
    assert!(
        volume_exists(&anonymous),
        "{anonymous} was deleted with its container"
    );
    let _ = docker(&["volume", "rm", &anonymous]);
    // web got a new container: sidecar was recreated to join its network stack.
    let sidecar = inspect_container(&t.obj("sidecar")).expect("sidecar exists");
    assert_eq!(
        at(&sidecar, "/HostConfig/NetworkMode"),
        &json!(format!("container:{}", at(&c, "/Id").as_str().unwrap()))
    );
    t.assert_converged();
    // lucidctl keeps anonymous volumes; the test removes the one it made.
    let _ = docker(&["rm", "-f", "-v", &t.obj("sidecar")]);
    let _ = docker(&["rm", "-f", "-v", &t.obj("web")]);
    assert!(!volume_exists(&fresh), "{fresh} left behind");
}
