//! `lucidctl doctor`: the host checklist. Every check prints its verdict, the
//! value found and, when it fails, what would fix it.

use super::context;
use crate::cli::{DoctorArgs, OutputFormat};
use reconcilers::doctor::{self, Check, DoctorOptions, Verdict};
use reconcilers::engine::EngineError;
use reconcilers::remote::SshError;
use std::process::ExitCode;

pub async fn run(args: DoctorArgs) -> ExitCode {
    let mut checks = Vec::new();
    let state = match desired_state::load_valid(&args.source.load_options()) {
        Ok((state, _)) => {
            checks.push(Check::new(
                "desired state",
                Verdict::Pass,
                format!("{} resources", state.resources.len()),
                None,
            ));
            Some(state)
        }
        Err(invalid) => {
            checks.push(Check::new(
                "desired state",
                Verdict::Fail,
                format!("{} error(s)", invalid.errors.len()),
                Some("run `lucidctl validate` for the details".into()),
            ));
            None
        }
    };
    let host = args
        .engine
        .host
        .clone()
        .unwrap_or_else(|| reconcilers::engine::DEFAULT_HOST.to_string());
    let is_ssh = host.starts_with("ssh://");
    let engine = context::connect_typed(&args.engine).await;
    match (&engine, is_ssh) {
        (_, false) => checks.push(Check::new(
            "SSH reachable, host key known",
            Verdict::Skip,
            "local engine; no SSH",
            None,
        )),
        (Ok(_), true) => checks.push(Check::new(
            "SSH reachable, host key known",
            Verdict::Pass,
            host.clone(),
            None,
        )),
        (Err(EngineError::Ssh(e)), true) => checks.push(Check::new(
            if matches!(e, SshError::HostKey { .. }) {
                "host key known"
            } else {
                "SSH reachable"
            },
            Verdict::Fail,
            e.to_string(),
            Some(ssh_fix(e)),
        )),
        (Err(_), true) => checks.push(Check::new(
            "SSH reachable, host key known",
            Verdict::Pass,
            host.clone(),
            None,
        )),
    }
    match &engine {
        Ok(e) => checks.push(Check::new(
            "engine reachable",
            Verdict::Pass,
            format!("{} (API {} in use)", e.host(), e.api_version()),
            None,
        )),
        Err(EngineError::Ssh(_)) => {}
        Err(e) => checks.push(Check::new(
            "engine reachable",
            Verdict::Fail,
            e.to_string(),
            Some("start the Docker daemon on the host, or point --host / DOCKER_HOST at it".into()),
        )),
    }
    if let Ok(engine) = &engine {
        let files = reconcilers::hostfiles::for_engine(engine);
        let options = DoctorOptions {
            min_free_bytes: (args.min_free_gb.max(0.0) * (1u64 << 30) as f64) as u64,
            platform: args.platform.clone(),
            offline: args.offline,
        };
        checks.extend(doctor::run(engine, &*files, state.as_ref(), &options).await);
    }
    print(&checks, args.output);
    if doctor::passed(&checks) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn ssh_fix(e: &SshError) -> String {
    match e {
        SshError::HostKey { .. } => {
            "verify the host's key fingerprint, then add it to known_hosts (see above)".into()
        }
        SshError::Auth { .. } => {
            "load your key into ssh-agent or name it with IdentityFile in ~/.ssh/config".into()
        }
        _ => "check that the host is up and sshd listens (ssh -v user@host)".into(),
    }
}

fn print(checks: &[Check], format: OutputFormat) {
    if format == OutputFormat::Json {
        let body = serde_json::json!({ "passed": doctor::passed(checks), "checks": checks });
        println!(
            "{}",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        );
        return;
    }
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in checks {
        let tag = match c.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Warn => "WARN",
            Verdict::Skip => "SKIP",
        };
        println!("{tag}  {:width$}  {}", c.name, c.value);
        if let Some(fix) = &c.fix {
            println!("      {:width$}  fix: {fix}", "");
        }
    }
    let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    if failed == 0 {
        println!("\nAll required checks passed.");
    } else {
        println!("\n{failed} check(s) failed.");
    }
}
