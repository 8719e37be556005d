use super::context;
use super::fail;
use crate::cli::DeleteArgs;
use crate::output::progress;
use reconcilers::apply::lock::EngineLock;
use reconcilers::apply::{execute_once, ApplyOptions};
use reconcilers::engine::EngineApi;
use reconcilers::exec::NoBuilds;
use reconcilers::plan::plan_delete;
use std::process::ExitCode;
use std::time::Duration;

pub async fn run(args: DeleteArgs) -> ExitCode {
    let loaded = match context::load(&args.source, &args.engine) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let engine = match context::connect(&args.engine).await {
        Ok(e) => e,
        Err(e) => return fail(&e),
    };
    let lock = match EngineLock::acquire(
        &engine,
        &args.engine.project,
        Duration::from_secs(600),
        args.no_wait,
        |h| eprintln!("waiting for the engine lock held by {h}..."),
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return fail(&e.to_string()),
    };
    let result = match engine.observe(&loaded.scope()).await {
        Ok(observed) => {
            let p = plan_delete(&loaded.state, &observed, &loaded.inputs, args.volumes);
            let display = progress::Display::new(args.progress);
            let host_files = reconcilers::hostfiles::for_engine(&engine);
            let ctx = loaded.apply_context(
                &engine,
                &*host_files,
                &NoBuilds,
                display.progress(),
                ApplyOptions::default(),
            );
            let outcomes = execute_once(&ctx, &p).await;
            display.finish();
            let failed = outcomes.iter().filter(|(_, _, o)| o.is_failure()).count();
            eprintln!(
                "Deleted {} object(s){}.",
                outcomes.len() - failed,
                if failed > 0 {
                    format!(", {failed} failed")
                } else {
                    String::new()
                }
            );
            if failed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => fail(&e.to_string()),
    };
    if let Err(e) = lock.release(&engine).await {
        eprintln!("warning: could not release the engine lock: {e}");
    }
    result
}
