//! Runtime settings (logging, ulimits, shm, hostname, hosts, DNS, tmpfs,
//! sysctls, stop signal): a change recreates with the field named, a
//! converged engine plans nothing, and specs without them keep their hash.

use super::*;

const RUNTIME: &str = r#"
  logging: {driver: json-file, options: {max-size: 10m, max-file: "3"}}
  ulimits: {nofile: {soft: 1024, hard: 4096}}
  shmSize: 128Mi
  hostname: api-host
  extraHosts: {mirror: 10.0.0.5}
  dns: [10.0.0.53]
  tmpfs: [{target: /run/cache, size: 16Mi, mode: "1777"}]
  sysctls: {net.core.somaxconn: "1024"}
  stopSignal: SIGQUIT
  pid: host
  devices: [{hostPath: /dev/ttyUSB0, permissions: rw}]
"#;

fn with_runtime() -> String {
    BASE.replace(
        "  dependsOn: [{name: redis, condition: healthy}]\n",
        &format!("  dependsOn: [{{name: redis, condition: healthy}}]{RUNTIME}"),
    )
}

/// The converged engine, with the runtime settings echoed as `docker inspect` shows them.
fn converged_runtime(d: &DesiredState, i: &Inputs) -> Observed {
    let mut o = converged(d, i);
    for r in d.workloads() {
        let spec = render_container(r, i, &o).unwrap().unwrap();
        let c = o
            .containers
            .iter_mut()
            .find(|c| c.name == spec.name)
            .unwrap();
        c.config.runtime = spec.runtime.clone();
    }
    o
}

#[test]
fn runtime_settings_render_in_engine_form() {
    let d = desired(&with_runtime());
    let o = converged_runtime(&d, &inputs());
    let api = d.workloads().find(|r| r.name() == "api").unwrap();
    let spec = render_container(api, &inputs(), &o).unwrap().unwrap();
    let rt = &spec.runtime;
    assert_eq!(rt.log_driver.as_deref(), Some("json-file"));
    assert_eq!(rt.log_options["max-file"], "3");
    assert_eq!(rt.ulimits["nofile"], (1024, 4096));
    assert_eq!(rt.shm_size, Some(128 << 20));
    assert_eq!(rt.extra_hosts, ["mirror:10.0.0.5"]);
    assert_eq!(rt.dns, ["10.0.0.53"]);
    assert_eq!(rt.tmpfs["/run/cache"], "size=16777216,mode=1777");
    assert_eq!(rt.stop_signal.as_deref(), Some("SIGQUIT"));
    assert_eq!(rt.pid_mode.as_deref(), Some("host"));
    let usb = "/dev/ttyUSB0".to_string();
    assert_eq!(rt.devices, [(usb.clone(), usb, "rw".to_string())]);
}

#[test]
fn unchanged_runtime_settings_converge() {
    let d = desired(&with_runtime());
    let i = inputs();
    let p = run(&d, &converged_runtime(&d, &i), &i);
    assert!(p.is_empty(), "{:?}", summary(&p));
}

#[test]
fn each_changed_setting_recreates_and_is_named() {
    let i = inputs();
    let base = with_runtime();
    let o = converged_runtime(&desired(&base), &i);
    for (from, to, field) in [
        ("max-size: 10m", "max-size: 20m", "logging.options.max-size"),
        ("driver: json-file", "driver: local", "logging.driver"),
        ("hard: 4096", "hard: 8192", "ulimits"),
        ("shmSize: 128Mi", "shmSize: 256Mi", "shmSize"),
        ("hostname: api-host", "hostname: api-2", "hostname"),
        ("10.0.0.5}", "10.0.0.6}", "extraHosts"),
        ("dns: [10.0.0.53]", "dns: [10.0.0.54]", "dns"),
        ("size: 16Mi", "size: 32Mi", "tmpfs"),
        ("somaxconn: \"1024\"", "somaxconn: \"2048\"", "sysctls"),
        ("SIGQUIT", "SIGINT", "stopSignal"),
        ("permissions: rw}", "permissions: r}", "devices"),
    ] {
        let d2 = desired(&base.replace(from, to));
        let p = run(&d2, &o, &i);
        assert_eq!(summary(&p), ["recreate Service/api"], "{field}");
        assert_eq!(p.changes[0].reasons, [Reason::SpecChanged], "{field}");
        let paths: Vec<&str> = p.changes[0]
            .fields
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(paths, [field]);
    }
}

#[test]
fn leaving_pid_host_out_recreates() {
    let i = inputs();
    let base = with_runtime();
    let o = converged_runtime(&desired(&base), &i);
    let p = run(&desired(&base.replace("  pid: host\n", "")), &o, &i);
    assert_eq!(summary(&p), ["recreate Service/api"]);
    assert_eq!(p.changes[0].reasons, [Reason::SpecChanged]);
}

#[test]
fn a_setting_changed_by_hand_recreates() {
    let d = desired(&with_runtime());
    let i = inputs();
    let mut o = converged_runtime(&d, &i);
    let api = o.containers.iter_mut().find(|c| c.name == "api").unwrap();
    api.config.runtime.hostname = Some("someone-else".into());
    let p = run(&d, &o, &i);
    assert_eq!(summary(&p), ["recreate Service/api"]);
    assert_eq!(p.changes[0].reasons, [Reason::ManualChange]);
    assert_eq!(p.changes[0].fields[0].path, "hostname");
}

#[test]
fn daemon_defaults_for_undeclared_settings_are_not_changes() {
    let d = desired(BASE);
    let i = inputs();
    let mut o = converged(&d, &i);
    for c in &mut o.containers {
        let rt = &mut c.config.runtime;
        rt.log_driver = Some("json-file".into());
        rt.shm_size = Some(64 << 20);
        rt.hostname = Some("0123456789ab".into());
        rt.stop_signal = Some("SIGTERM".into());
    }
    let p = run(&d, &o, &i);
    assert!(p.is_empty(), "{:?}", summary(&p));
}

#[test]
fn specs_without_runtime_settings_hash_as_before() {
    // The hash covers the serialized spec: new fields left out must not appear in it.
    let d = desired(BASE);
    for r in d.workloads() {
        let declared = serde_json::to_value(r.spec.workload().unwrap()).unwrap();
        for key in [
            "logging",
            "ulimits",
            "shmSize",
            "hostname",
            "extraHosts",
            "dns",
            "tmpfs",
            "sysctls",
            "stopSignal",
            "pid",
            "devices",
        ] {
            assert!(declared.get(key).is_none(), "{key} in {declared}");
        }
    }
}

const MODES: &str = r#"
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: vpn}
spec: {image: api:1, networkMode: host}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: client}
spec: {image: api:1, networkMode: "service:vpn", dependsOn: [{name: vpn}]}
"#;

#[test]
fn network_modes_render_stop_first_and_plan_no_network_changes() {
    let d = desired(MODES);
    let i = Inputs {
        name_prefix: "p-".into(),
        ..inputs()
    };
    let mut o = converged_runtime(&d, &i);
    // Docker shows a host-mode container on the "host" network and stores the peer's ID.
    for c in &mut o.containers {
        c.config
            .networks
            .insert("host".into(), ObservedAttachment::default());
    }
    let vpn_id = o.container("p-vpn").unwrap().id.clone();
    let client = o
        .containers
        .iter_mut()
        .find(|c| c.name == "p-client")
        .unwrap();
    client.config.runtime.network_mode = Some(format!("container:{vpn_id}"));
    let p = run(&d, &o, &i);
    assert!(p.is_empty(), "{:?}", summary(&p));
    let r = d.workloads().find(|r| r.name() == "client").unwrap();
    let spec = render_container(r, &i, &o).unwrap().unwrap();
    assert_eq!(
        spec.runtime.network_mode.as_deref(),
        Some("container:p-vpn")
    );
    assert!(!spec.start_first);

    // vpn got a new container: client must be recreated to join it.
    o.containers
        .iter_mut()
        .find(|c| c.name == "p-vpn")
        .unwrap()
        .id = "id-new".into();
    let p = run(&d, &o, &i);
    assert_eq!(summary(&p), ["recreate Service/client"]);
    assert_eq!(p.changes[0].fields[0].path, "networkMode");
}

#[test]
fn selinux_relabel_renders_converges_and_changes_recreate() {
    let base = BASE.replace(
        "  dependsOn: [{name: redis, condition: healthy}]\n",
        "  dependsOn: [{name: redis, condition: healthy}]\n  mounts: [{bind: /srv/api, target: /srv, selinux: private}]\n",
    );
    let i = inputs();
    let d = desired(&base);
    let o = converged(&d, &i);
    let api = d.workloads().find(|r| r.name() == "api").unwrap();
    let spec = render_container(api, &i, &o).unwrap().unwrap();
    assert_eq!(spec.mounts[0].selinux, Some("Z"));
    assert!(run(&d, &o, &i).is_empty());
    let p = run(
        &desired(&base.replace("selinux: private", "selinux: shared")),
        &o,
        &i,
    );
    assert_eq!(summary(&p), ["recreate Service/api"]);
    assert_eq!(p.changes[0].fields[0].path, "mounts./srv.selinux");
}

#[test]
fn anonymous_volumes_converge_whatever_docker_names_them() {
    let base = BASE.replace(
        "  dependsOn: [{name: redis, condition: healthy}]\n",
        "  dependsOn: [{name: redis, condition: healthy}]\n  mounts: [{anonymous: true, target: /cache}]\n",
    );
    let i = inputs();
    let d = desired(&base);
    let o = converged(&d, &i);
    let api = d.workloads().find(|r| r.name() == "api").unwrap();
    let spec = render_container(api, &i, &o).unwrap().unwrap();
    assert_eq!(spec.mounts[0].from, MountFrom::Anonymous);
    assert!(run(&d, &o, &i).is_empty());
    // Replacing it by a named volume recreates.
    let named = base.replace(
        "{anonymous: true, target: /cache}",
        "{volume: data, target: /cache}",
    );
    let p = run(&desired(&named), &o, &i);
    assert_eq!(summary(&p), ["recreate Service/api"]);
    assert_eq!(p.changes[0].fields[0].path, "mounts./cache");
}

const EXTERNAL: &str = r#"
---
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: proxy}
spec: {external: true, name: traefik_proxy}
---
apiVersion: lucid/v1alpha1
kind: Volume
metadata: {name: media}
spec: {external: true}
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: web}
spec:
  image: api:1
  networks: [{name: proxy}]
  mounts: [{volume: media, target: /media}]
"#;

#[test]
fn external_objects_must_exist_and_are_used_by_their_own_names() {
    let d = desired(EXTERNAL);
    let i = Inputs {
        name_prefix: "p-".into(),
        externals: crate::render::external_names(&d),
        ..inputs()
    };
    let p = run(&d, &Observed::default(), &i);
    let conflicts: Vec<&str> = p.conflicts.iter().map(|c| c.message.as_str()).collect();
    assert_eq!(conflicts.len(), 2, "{conflicts:?}");
    assert!(conflicts[0].starts_with("external network traefik_proxy does not exist"));
    assert!(conflicts[1].starts_with("external volume media does not exist"));
    assert!(!summary(&p)
        .iter()
        .any(|s| s.contains("Network/") || s.contains("Volume/")));

    // Present (made by someone else, no labels): used as is, never touched.
    let mut o = converged(&d, &i);
    o.networks.clear();
    o.volumes.clear();
    o.networks.push(ObservedNetwork {
        name: "traefik_proxy".into(),
        ..Default::default()
    });
    o.volumes.push(ObservedVolume {
        name: "media".into(),
        ..Default::default()
    });
    let web = d.workloads().next().unwrap();
    let spec = render_container(web, &i, &o).unwrap().unwrap();
    assert_eq!(spec.networks[0].network, "traefik_proxy");
    assert_eq!(spec.mounts[0].from, MountFrom::Volume("media".into()));
    let p = run(&d, &o, &i);
    assert!(p.conflicts.is_empty(), "{:?}", p.conflicts);
    assert!(p.is_empty(), "{:?}", summary(&p));
}

#[test]
fn ephemeral_host_ports_converge_and_allow_start_first() {
    let base = BASE.replace(
        "  dependsOn: [{name: redis, condition: healthy}]\n",
        "  dependsOn: [{name: redis, condition: healthy}]\n  ports: [{containerPort: 8080, hostPort: 0}]\n",
    );
    let i = inputs();
    let d = desired(&base);
    let mut o = converged(&d, &i);
    // Docker answers the declared binding with an empty HostPort, read as 0.
    let api = o.containers.iter_mut().find(|c| c.name == "api").unwrap();
    api.config.ports = vec![ObservedPort {
        container_port: 8080,
        protocol: "tcp".into(),
        host_ip: None,
        host_port: Some(0),
    }];
    assert!(run(&d, &o, &i).is_empty());
    let r = d.workloads().find(|r| r.name() == "api").unwrap();
    assert!(render_container(r, &i, &o).unwrap().unwrap().start_first);
    let fixed = base.replace("hostPort: 0", "hostPort: 8080");
    let p = run(&desired(&fixed), &o, &i);
    assert_eq!(summary(&p), ["recreate Service/api"]);
}
