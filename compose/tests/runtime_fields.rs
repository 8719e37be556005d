//! Import and export of the runtime keys (logging, ulimits, shm_size,
//! hostname, extra_hosts, dns, tmpfs, sysctls, stop_signal): a compose file
//! shaped like a database behind a proxy imports without findings, exports,
//! and imports again to the same spec; docker-compose accepts the export.

use desired_state::model::{ByteSize, Kind, WorkloadSpec};
use desired_state::LoadOptions;
use lucid_compose::export::{export, ExportOptions};
use lucid_compose::import::{import, ImportOptions, Imported};
use std::path::{Path, PathBuf};
use std::process::Command;

const COMPOSE: &str = r#"services:
  db:
    image: postgres:16
    volumes:
      - /var/lib/postgresql/data
    shm_size: 256m
    ulimits:
      nofile: {soft: 20000, hard: 40000}
      nproc: 65535
    sysctls:
      - net.core.somaxconn=1024
    stop_signal: SIGINT
    pid: host
    devices:
      - /dev/ttyUSB0
      - /dev/gpiomem:/dev/gpio:rw
    logging:
      driver: json-file
      options: {max-size: 10m, max-file: "3"}
  exporter:
    image: prom/node-exporter:v1.8.0
    network_mode: host
  grafana:
    image: grafana/grafana:10.4.2
    profiles: [monitoring, debug]
    ports: ["3000", "127.0.0.1::9090"]
  backup:
    image: restic/restic:0.16.4
    network_mode: "service:proxy"
  proxy:
    image: nginx:1.25
    networks: [edge]
    volumes:
      - /srv/proxy/conf:/etc/nginx/conf.d:ro,Z
      - type: bind
        source: /srv/proxy/html
        target: /usr/share/nginx/html
        bind: {selinux: z}
    hostname: edge
    extra_hosts:
      - "host.docker.internal:host-gateway"
      - "mirror=10.0.0.5"
    dns: 10.0.0.53
    tmpfs:
      - /var/cache/nginx:size=64m,mode=1777
      - /run
    logging:
      driver: local
      options: {max-size: 5m, max-file: 2}
networks:
  edge:
    external: true
    name: traefik_proxy
"#;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lucid-runtime-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn import_into(compose: &Path, out: &Path) -> (Imported, Vec<(String, WorkloadSpec)>) {
    let imported = import(
        &[compose.to_path_buf()],
        &ImportOptions {
            output_dir: out.to_path_buf(),
            env: Default::default(),
            project: Some("rt".into()),
        },
    )
    .unwrap();
    for f in &imported.files {
        let p = out.join(&f.path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, &f.content).unwrap();
    }
    let (state, _) = desired_state::load_valid(&LoadOptions {
        paths: vec![out.to_path_buf()],
        recursive: false,
        root: Some(out.parent().unwrap().to_path_buf()),
    })
    .unwrap_or_else(|e| {
        panic!(
            "{:?}",
            e.errors.iter().map(|d| d.to_string()).collect::<Vec<_>>()
        )
    });
    let specs = state
        .workloads()
        .map(|r| (r.name().to_string(), r.spec.workload().unwrap().clone()))
        .collect();
    (imported, specs)
}

/// The metadata labels of resource `name` in the state at `dir`.
fn state_labels(dir: &Path, name: &str) -> std::collections::BTreeMap<String, String> {
    let (state, _) = desired_state::load_valid(&LoadOptions {
        paths: vec![dir.to_path_buf()],
        recursive: false,
        root: Some(dir.parent().unwrap().to_path_buf()),
    })
    .unwrap_or_else(|_| panic!("invalid"));
    let r = state.workloads().find(|r| r.name() == name).unwrap();
    r.metadata.labels.clone()
}

#[test]
fn runtime_keys_import_export_and_import_again_unchanged() {
    let dir = scratch("round");
    std::fs::write(dir.join("docker-compose.yml"), COMPOSE).unwrap();
    let (imported, first) = import_into(&dir.join("docker-compose.yml"), &dir.join("lucid"));
    let findings: Vec<String> = imported.findings.iter().map(|f| f.to_string()).collect();
    assert_eq!(findings.len(), 3, "{findings:#?}");
    assert!(findings.iter().any(|f| f.contains(
        "services.grafana.profiles[1]: profile debug: as with compose's --profile debug, lucidctl acts on this service only when asked: -l profile.debug=true"
    )));
    assert!(
        findings[0].contains("services.db.volumes[0]: anonymous volume \"/var/lib/postgresql/data\": lucidctl starts it empty"),
        "{findings:#?}"
    );
    assert!(imported.blocking().next().is_none());

    let db = &first.iter().find(|(n, _)| n == "db").unwrap().1;
    assert_eq!(db.shm_size, Some(ByteSize(256 << 20)));
    assert!(db.mounts[0].anonymous && db.mounts[0].target == "/var/lib/postgresql/data");
    assert_eq!(
        (db.ulimits["nofile"].soft, db.ulimits["nofile"].hard),
        (20000, 40000)
    );
    assert_eq!(
        (db.ulimits["nproc"].soft, db.ulimits["nproc"].hard),
        (65535, 65535)
    );
    assert_eq!(db.sysctls["net.core.somaxconn"], "1024");
    assert_eq!(db.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(db.pid, Some(desired_state::model::PidMode::Host));
    assert_eq!(db.devices[0].host_path, "/dev/ttyUSB0");
    assert_eq!(db.devices[0].container_path, None);
    assert_eq!(db.devices[1].container_path(), "/dev/gpio");
    assert_eq!(db.devices[1].permissions(), "rw");
    assert_eq!(db.logging.as_ref().unwrap().options["max-file"], "3");
    let proxy = &first.iter().find(|(n, _)| n == "proxy").unwrap().1;
    assert_eq!(proxy.hostname.as_deref(), Some("edge"));
    assert_eq!(proxy.networks[0].name, "traefik-proxy");
    use desired_state::model::SelinuxLabel;
    assert_eq!(proxy.mounts[0].selinux, Some(SelinuxLabel::Private));
    assert!(proxy.mounts[0].read_only);
    assert_eq!(proxy.mounts[1].selinux, Some(SelinuxLabel::Shared));
    assert_eq!(proxy.extra_hosts["host.docker.internal"], "host-gateway");
    assert_eq!(proxy.extra_hosts["mirror"], "10.0.0.5");
    assert_eq!(proxy.dns[0].to_string(), "10.0.0.53");
    assert_eq!(proxy.tmpfs.len(), 2);
    assert_eq!(proxy.tmpfs[0].size, Some(ByteSize(64 << 20)));
    assert_eq!(proxy.tmpfs[0].mode.map(|m| m.0), Some(0o1777));
    assert_eq!(proxy.logging.as_ref().unwrap().options["max-file"], "2");
    let grafana = &first.iter().find(|(n, _)| n == "grafana").unwrap().1;
    assert_eq!(grafana.ports[0].host_port, Some(0));
    let labels = &state_labels(&dir.join("lucid"), "grafana");
    assert_eq!(
        labels.get("profile.monitoring").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        labels.get("profile.debug").map(String::as_str),
        Some("true")
    );
    assert_eq!(grafana.ports[1].host_port, Some(0));
    assert_eq!(
        grafana.ports[1].host_ip.map(|i| i.to_string()).as_deref(),
        Some("127.0.0.1")
    );
    let exporter = &first.iter().find(|(n, _)| n == "exporter").unwrap().1;
    assert_eq!(exporter.network_mode.as_deref(), Some("host"));
    assert!(exporter.networks.is_empty());
    let backup = &first.iter().find(|(n, _)| n == "backup").unwrap().1;
    assert_eq!(backup.network_mode.as_deref(), Some("service:proxy"));
    assert_eq!(backup.depends_on[0].name, "proxy");

    let (state, _) = desired_state::load_valid(&LoadOptions {
        paths: vec![dir.join("lucid")],
        recursive: false,
        root: Some(dir.clone()),
    })
    .unwrap();
    let out = dir.join("exported");
    let files = export(
        &state,
        &ExportOptions {
            output_dir: out.clone(),
            secrets_dir: dir.clone(),
            selector: Vec::new(),
            sources: vec!["lucid".into()],
            name_prefix: String::new(),
        },
    );
    for f in &files {
        let p = out.join(&f.path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, &f.content).unwrap();
    }
    let master = out.join("docker-compose.master.yml");
    let (again, second) = import_into(&master, &dir.join("lucid2"));
    assert!(again.blocking().next().is_none());
    assert_eq!(first, second);
    assert_eq!(state_labels(&dir.join("lucid2"), "grafana"), *labels);
    assert!(state.workloads().all(|r| r.kind() == Kind::Service));

    // docker-compose reads the export and keeps every key.
    if let Ok(o) = Command::new("docker-compose")
        .arg("-f")
        .arg(&master)
        .args(["-p", "rt", "config"])
        .output()
    {
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for key in [
            "shm_size",
            "ulimits",
            "sysctls",
            "stop_signal",
            "pid",
            "devices",
            "logging",
            "hostname",
            "extra_hosts",
            "dns",
            "tmpfs",
        ] {
            assert!(
                text.contains(&format!("{key}:")),
                "{key} missing from\n{text}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
