//! The chaos soak's smoke mode (issue 22): the soak driver (src/bin/soak)
//! for a few minutes against its own Docker daemon, through ssh://, from a
//! git repository; fails on any invariant violation. The seed is printed;
//! `LUCID_E2E_SEED=<seed>` replays the schedule, `LUCID_SOAK_DURATION=10m`
//! runs it longer.

use lucid_e2e::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn a_short_chaos_soak_ends_with_no_invariant_violation() {
    if skip_requested() {
        println!("skipped: LUCID_E2E=skip");
        return;
    }
    // A whole Lucid system: one at a time with the other whole-Lucid tests (CPU, not names).
    let _one_at_a_time = full_lucid_lock();
    let duration = std::env::var("LUCID_SOAK_DURATION").unwrap_or_else(|_| "240s".into());
    let json = std::env::temp_dir().join(format!("soak-smoke-{}.json", std::process::id()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_soak"));
    cmd.args([
        "--smoke",
        "--duration",
        &duration,
        "--results",
        "none",
        "--json",
    ])
    .arg(&json)
    .arg("--lucidctl")
    .arg(lucidctl_bin());
    let out = run(cmd, Duration::from_secs(1800));
    println!("{}", out.stdout);
    eprintln!("{}", out.stderr);
    let _ = std::fs::remove_file(&json);
    assert_eq!(
        out.code(),
        0,
        "the soak found invariant violations (its output above names them and the seed to replay)"
    );
    assert!(
        out.stdout.contains("no invariant violations"),
        "the soak ran to its end: {out:?}"
    );
}
