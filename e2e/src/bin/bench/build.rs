//! Scenario 6: an up-to-date build of a 200 MB generated context. lucidctl
//! compares content hashes and skips the engine; the anchor is a fully cached
//! `docker build` with BuildKit (the docker CLI needs the buildx plugin for
//! that: scripts/install-anchors.sh buildx; without it the classic builder is
//! the anchor, and the table says so).

use crate::report::{Row, Unit};
use crate::scenarios::Runner;
use crate::tools::Kind;
use lucid_e2e::{target_dir, try_run};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SYSTEM: &str = "200 MB context";

/// ~100 MB in 8000 small files and 100 MB in 5 blobs, pseudo-random so
/// nothing compresses away. xorshift: the bench takes no rand crate for this.
fn generate(ctx: &Path) -> Result<(), String> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut fill = |n: usize| -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.truncate(n);
        v
    };
    let small = ctx.join("small");
    std::fs::create_dir_all(&small).map_err(|e| e.to_string())?;
    for i in 0..8000 {
        std::fs::write(
            small.join(format!("f{i:05}.txt")),
            fill(2048 + (i * 37) % 20000),
        )
        .map_err(|e| e.to_string())?;
    }
    for i in 0..5 {
        std::fs::write(ctx.join(format!("blob{i}.bin")), fill(20 << 20))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The private DOCKER_CONFIG holding the buildx plugin, if installed.
fn buildx_config() -> Option<PathBuf> {
    let dir = std::env::var_os("LUCID_BUILDX_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("anchors/docker-config"));
    dir.join("cli-plugins/docker-buildx")
        .is_file()
        .then_some(dir)
}

fn timed(mut cmd: Command) -> Result<f64, String> {
    crate::guard::check_interrupt();
    cmd.env("NO_COLOR", "1");
    let out = try_run(cmd, Duration::from_secs(900))?;
    if out.success() {
        Ok(out.took.as_secs_f64())
    } else {
        Err(format!(
            "exit {:?}: {}",
            out.code,
            out.stderr.lines().last().unwrap_or("")
        ))
    }
}

pub fn up_to_date_build(runner: &mut Runner, work: &Path, tag: &str, base_image: &str) {
    crate::scenarios::progress("[6] up-to-date build of a 200 MB context");
    let Some(lucidctl) = runner
        .tools
        .iter()
        .find(|t| t.kind == Kind::Lucidctl && t.available)
    else {
        return;
    };
    let state = work.join("build/state");
    let ctx = state.join("ctx");
    let image = format!("lucid-bench/big:{tag}");
    let cli_image = format!("lucid-bench/big:{tag}-cli");
    let prepared = generate(&ctx)
        .and_then(|_| {
            std::fs::write(ctx.join("Dockerfile"), format!("FROM {base_image}\nCOPY . /ctx\n")).map_err(|e| e.to_string())
        })
        .and_then(|_| {
            std::fs::write(
                state.join("image.yaml"),
                format!("apiVersion: lucid/v1alpha1\nkind: Image\nmetadata: {{name: big}}\nspec: {{ref: \"{image}\", build: {{context: ctx}}}}\n"),
            )
            .map_err(|e| e.to_string())
        });
    let lucid_build = |force: bool| {
        let mut cmd = Command::new(&lucidctl.program[0]);
        cmd.args(["build", "-p", &format!("{tag}-build"), "--state-root"])
            .arg(work)
            .arg("-f")
            .arg(&state);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    let buildx = buildx_config();
    let docker_build = || {
        let mut cmd = Command::new("docker");
        match &buildx {
            Some(config) => cmd.env("DOCKER_CONFIG", config).env("DOCKER_BUILDKIT", "1"),
            None => cmd.env("DOCKER_BUILDKIT", "0"),
        };
        cmd.args(["build", "-q", "-t", &cli_image]).arg(&ctx);
        cmd
    };
    let anchor_label = match &buildx {
        Some(_) => "docker build, BuildKit (buildx), cached",
        None => {
            "docker build, classic builder, cached (no buildx: scripts/install-anchors.sh buildx)"
        }
    };
    let mut rows = vec![
        Row::new(6, SYSTEM, "lucidctl", &lucidctl.label(), Unit::Seconds)
            .note("up to date: hash check"),
        Row::new(6, SYSTEM, "docker-build", anchor_label, Unit::Seconds),
        Row::new(
            6,
            SYSTEM,
            "lucidctl-force",
            &lucidctl.label(),
            Unit::Seconds,
        )
        .note("--force: cached BuildKit build through the API"),
    ];
    // The first builds fill the caches; untimed.
    let warm = prepared
        .and_then(|_| timed(lucid_build(false)))
        .and_then(|_| timed(docker_build()));
    if let Err(e) = warm {
        for row in &mut rows {
            row.error = Some(format!("could not prepare: {e}"));
        }
    }
    let started = std::time::Instant::now();
    for round in 0..runner.runs {
        if round >= 2 && started.elapsed() > runner.budget {
            break;
        }
        for (i, row) in rows.iter_mut().enumerate() {
            if row.error.is_some() {
                continue;
            }
            let cmd = match i {
                0 => lucid_build(false),
                1 => docker_build(),
                _ => lucid_build(true),
            };
            match timed(cmd) {
                Ok(v) => row.samples.push(v),
                Err(e) => row.error = Some(e),
            }
        }
    }
    runner.rows.extend(rows);
    let _ = std::fs::remove_dir_all(work.join("build"));
}

/// For the JSON header: whether the buildx anchor is present.
pub fn buildx_version() -> String {
    match buildx_config() {
        Some(config) => {
            let mut cmd = Command::new("docker");
            cmd.env("DOCKER_CONFIG", config).args(["buildx", "version"]);
            try_run(cmd, Duration::from_secs(30))
                .map(|o| o.stdout.trim().to_string())
                .unwrap_or_default()
        }
        None => "not installed".into(),
    }
}
