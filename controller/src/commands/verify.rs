use crate::cli::VerifyCommand;
use crate::output;
use desired_state::model::{Kind, Spec};
use reconcilers::engine::Engine;
use std::process::ExitCode;

pub async fn run(cmd: VerifyCommand) -> ExitCode {
    let VerifyCommand::Isolation(args) = cmd;
    let loaded = desired_state::load(&args.source.load_options());
    let load_errors: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    if !load_errors.is_empty() {
        output::print_diagnostics(&load_errors);
        eprintln!("error: the desired state does not load; fix it before verifying isolation");
        return ExitCode::FAILURE;
    }
    let state = loaded.state;
    let mut violations: Vec<String> =
        desired_state::validate::check_isolation(&state, args.source_dir.as_deref())
            .into_iter()
            .filter(|d| d.is_error())
            .map(|d| d.to_string())
            .collect();
    let policies: Vec<_> = state
        .of_kind(Kind::IsolationPolicy)
        .filter_map(|r| match &r.spec {
            Spec::IsolationPolicy(p) => Some((r.name().to_string(), p.clone())),
            _ => None,
        })
        .collect();
    if policies.is_empty() {
        eprintln!("error: no IsolationPolicy in the desired state; nothing to verify");
        return ExitCode::FAILURE;
    }
    if let Some(host) = &args.host {
        let engine = match Engine::connect(Some(host)).await {
            Ok(e) => e,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        for (name, p) in &policies {
            let network = format!("{}{}", args.name_prefix, p.network);
            let allowed: Vec<String> = p
                .members
                .iter()
                .chain(&p.bridges)
                .map(|m| format!("{}{m}", args.name_prefix))
                .collect();
            match engine.network_members(&network).await {
                Ok(Some(members)) => {
                    for c in members.iter().filter(|c| !allowed.contains(c)) {
                        violations.push(format!("container {c} is attached to {network}, which IsolationPolicy/{name} does not allow"));
                    }
                    println!(
                        "{network}: {} attached ({})",
                        members.len(),
                        members.join(", ")
                    );
                }
                Ok(None) => println!("{network}: not present on {host}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    for v in &violations {
        eprintln!("{v}");
    }
    if violations.is_empty() {
        println!(
            "isolation verified: {} polic(ies), no violations",
            policies.len()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!("{} isolation violation(s)", violations.len());
        ExitCode::FAILURE
    }
}
