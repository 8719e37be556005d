//! External Networks and Volumes (issue 19) against the real engine: used by
//! their own Docker names, never created, changed or removed by lucidctl.

use lucid_e2e::*;

/// Removes what the test made by hand, even when it fails.
struct HandMade {
    container: String,
    network: String,
    volume: String,
}

impl Drop for HandMade {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "-v", &self.container]);
        let _ = docker(&["network", "rm", &self.network]);
        let _ = docker(&["volume", "rm", "-f", &self.volume]);
    }
}

#[test]
fn external_network_and_volume_must_exist_and_survive_delete() {
    let Some(t) = TestEnv::new("external") else {
        return;
    };
    let made = HandMade {
        container: t.obj("outside"),
        network: format!("{}shared_net", t.prefix),
        volume: format!("{}shared_data", t.prefix),
    };
    let state = format!(
        "{}{}{}",
        doc(
            "Network",
            "shared",
            &format!("external: true\nname: {}", made.network)
        ),
        doc(
            "Volume",
            "data",
            &format!("external: true\nname: {}", made.volume)
        ),
        standin_service(
            "outside",
            "shared",
            8080,
            &[],
            "mounts: [{volume: data, target: /data}]\n"
        ),
    );
    t.write("system.yaml", &state);

    // Missing: a conflict naming the command that would make it, and nothing created.
    let out = t.apply(&[]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.all()
            .contains(&format!("external network {} does not exist", made.network)),
        "{out:?}"
    );
    assert!(!network_exists(&made.network) && !volume_exists(&made.volume));

    docker_ok(&["network", "create", &made.network]);
    docker_ok(&["volume", "create", &made.volume]);
    t.apply_ok(&[]);
    let c = inspect_container(&made.container).expect("outside exists");
    assert!(
        c["NetworkSettings"]["Networks"]
            .get(&made.network)
            .is_some(),
        "{c:#}"
    );
    let mount = c["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/data")
        .unwrap();
    assert_eq!(mount["Name"], made.volume.as_str());
    t.assert_converged();

    // delete (with volumes) removes the container but never the external objects.
    let out = t.lucidctl("delete", &["--volumes"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(!container_exists(&made.container));
    assert!(network_exists(&made.network) && volume_exists(&made.volume));
}
