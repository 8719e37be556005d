use super::context;
use super::fail;
use super::EXIT_CHANGES;
use crate::cli::{DiffArgs, OutputFormat};
use crate::output::plan as show;
use reconcilers::plan::plan;
use std::process::ExitCode;

pub async fn run(args: DiffArgs) -> ExitCode {
    let loaded = match context::load(&args.source, &args.engine) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let engine = match context::connect(&args.engine).await {
        Ok(e) => e,
        Err(e) => return fail(&e),
    };
    let observed = match engine.observe(&context::scope(&loaded)).await {
        Ok(o) => o,
        Err(e) => return fail(&e.to_string()),
    };
    let options = args.plan.options();
    let p = plan(&loaded.state, &observed, &loaded.inputs, &options);
    match args.output {
        OutputFormat::Json => println!("{}", show::json(&p)),
        OutputFormat::Text => print!("{}", show::text(&p, show::use_colour())),
    }
    if !p.conflicts.is_empty() || !p.errors.is_empty() {
        ExitCode::FAILURE
    } else if p.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHANGES)
    }
}
