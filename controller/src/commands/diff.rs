use super::context;
use super::fail;
use crate::cli::DiffArgs;
use crate::output::plan as show;
use reconcilers::plan::plan;
use std::process::ExitCode;

pub async fn run(args: DiffArgs) -> ExitCode {
    let (mut loaded, engine) = match context::load_and_connect(&args.source, &args.engine).await {
        Ok(both) => both,
        Err(e) => return fail(&e),
    };
    if !args.plan.no_pull {
        // Rolling tags: what the registries serve now, as the plan's input.
        for w in reconcilers::updates::ask_all(&engine, &loaded.state, &mut loaded.inputs).await {
            eprintln!(
                "warning: {}",
                desired_state::diagnostics::escape_controls(&w)
            );
        }
    }
    let depth = args.plan.depth();
    let observed =
        match reconcilers::observe::observe(&engine, &loaded.state, &loaded.inputs, depth).await {
            Ok(o) => o,
            Err(e) => return fail(&context::engine_error(&e)),
        };
    let p = plan(
        &loaded.state,
        &observed,
        &loaded.inputs,
        &args.plan.options(),
    );
    show::print(&p, args.output)
}
