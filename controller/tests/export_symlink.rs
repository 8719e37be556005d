//! Issue 18, defect 8: export wrote through a fixed temp name
//! (`<file>.lucidctl-tmp`) with a plain write, so a symlink planted under
//! that name in a shared output directory clobbered its target. Every write
//! now goes through the one atomic write (create-new temp file, rename).

use std::process::Command;

#[test]
fn a_symlink_planted_at_the_old_temp_name_is_not_followed() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let state = tmp.path().join("state");
    std::fs::create_dir_all(&state).expect("mkdir");
    std::fs::write(
        state.join("system.yaml"),
        "apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: web}\nspec:\n  image: web:1\n",
    )
    .expect("write state");
    let out_dir = tmp.path().join("out");
    std::fs::create_dir_all(&out_dir).expect("mkdir out");
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "precious\n").expect("write victim");
    for name in [
        "docker-compose.master.lucidctl-tmp",
        "docker-compose.lucidctl-tmp",
    ] {
        std::os::unix::fs::symlink(&victim, out_dir.join(name)).expect("plant symlink");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_lucidctl"))
        .args(["export", "compose", "-f"])
        .arg(&state)
        .arg("-d")
        .arg(&out_dir)
        .arg("--secrets-dir")
        .arg(tmp.path().join("env"))
        .output()
        .expect("lucidctl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious\n",
        "the export wrote through the planted symlink"
    );
    let master =
        std::fs::read_to_string(out_dir.join("docker-compose.master.yml")).expect("master file");
    assert!(master.contains("web"), "{master}");
}
