mod apply;
mod build;
mod compose;
pub mod context;
mod delete;
mod diff;
mod doctor;
mod explain;
mod graph;
mod logs;
mod notify;
mod registry;
mod secrets;
mod swarm;
pub use swarm::run as swarm_run;
mod validate;
mod verify;

use crate::cli::{Cli, Command};
use std::process::ExitCode;

pub fn run(cli: Cli) -> ExitCode {
    controller::terminal::set_verbose(cli.verbose);
    match &cli.command {
        Command::Run(args) => controller::logging::init(args.log_format, true),
        _ => controller::logging::init(controller::logging::LogFormat::Text, false),
    }
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Graph(args) => graph::run(&args),
        Command::Diff(args) if is_swarm(&args.engine) => block_on(swarm::diff(args)),
        Command::Apply(args) if is_swarm(&args.engine) => block_on(swarm::apply(args)),
        Command::Delete(args) if is_swarm(&args.engine) => block_on(swarm::delete(args)),
        Command::Doctor(args) if is_swarm(&args.engine) => block_on(swarm::doctor(args)),
        Command::Diff(args) => block_on(diff::run(args)),
        Command::Apply(args) => block_on(apply::run(args)),
        Command::Delete(args) => block_on(delete::run(args)),
        Command::Secrets(cmd) => secrets::run(cmd),
        Command::Export(cmd) => compose::export(cmd),
        Command::Import(cmd) => compose::import(cmd),
        Command::Verify(cmd) => block_on(verify::run(cmd)),
        Command::Run(args) => block_on(crate::run::run(args)),
        Command::Status(args) => crate::run::status_command(&args),
        Command::Events(args) => crate::run::events::command(&args),
        Command::Build(args) => block_on(build::run(args)),
        Command::Registry(cmd) => block_on(registry::run(cmd)),
        Command::Doctor(args) => block_on(doctor::run(args)),
        Command::Notify(cmd) => block_on(notify::run(cmd)),
        Command::Logs(args) => block_on(logs::run(args)),
        Command::Completions(args) => {
            controller::docs::completions(args.shell, &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man(args) => match controller::docs::write_man_pages(&args.dir) {
            Ok(files) => {
                for f in files {
                    println!("wrote {}", f.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!(
                "cannot write the man pages into {}: {e}",
                args.dir.display()
            )),
        },
    }
}

fn is_swarm(engine: &crate::cli::EngineArgs) -> bool {
    engine.target == crate::cli::EngineTarget::Swarm
}

/// One line on stderr and exit code 1: how every command reports what stopped it.
pub fn fail(message: &str) -> ExitCode {
    // Messages can carry text from files and engine answers: never raw control characters.
    eprintln!(
        "error: {}",
        desired_state::diagnostics::escape_controls(message)
    );
    ExitCode::from(controller::exit::FAILURE)
}

pub fn block_on(fut: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}
