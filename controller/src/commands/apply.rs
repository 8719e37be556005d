use super::context;
use super::fail;
use crate::cli::{ApplyArgs, OutputFormat, ProgressMode};
use crate::output::{plan as show, progress};
use reconcilers::apply::lock::EngineLock;
use reconcilers::apply::{converge, ApplyOptions};
use reconcilers::build::ImageBuilder;
use std::process::ExitCode;
use std::time::{Duration, Instant};

pub async fn run(args: ApplyArgs) -> ExitCode {
    let (mut loaded, engine) = match context::load_and_connect(&args.source, &args.engine).await {
        Ok(both) => both,
        Err(e) => return fail(&e),
    };
    if args.plan.prune && loaded.state.resources.is_empty() {
        return fail("refusing to prune: the desired set is empty (that would remove everything)");
    }
    if !args.plan.no_pull {
        // Rolling tags: what the registries serve now, as the plan's input.
        for w in reconcilers::updates::ask_all(&engine, &loaded.state, &mut loaded.inputs).await {
            eprintln!(
                "warning: {}",
                desired_state::diagnostics::escape_controls(&w)
            );
        }
    }
    let mut plan = args.plan.options();
    plan.retry_failed = args.retry_failed;
    let options = ApplyOptions {
        plan,
        timeout: args.timeout,
        concurrency: args.concurrency,
        observe: args.plan.depth(),
        ..ApplyOptions::default()
    };
    let display = progress::Display::new(if args.dry_run {
        ProgressMode::Plain
    } else {
        args.progress
    });
    let on_event = |image: &str, event| display.build_event(image, event);
    let builder = ImageBuilder {
        builds: &loaded.builds,
        project: &args.engine.project,
        on_event: &on_event,
    };
    let host_files = reconcilers::hostfiles::for_engine(&engine);
    let ctx = loaded.apply_context(&engine, &*host_files, &builder, display.progress(), options);
    if args.dry_run {
        // Exactly what `diff` prints, with the same exit code.
        return match ctx.plan_now().await {
            Ok(p) => show::print(&p, OutputFormat::Text),
            Err(e) => fail(&context::engine_error(&e)),
        };
    }
    // Nothing to do costs what `diff` costs: no lock, no write, one observation.
    let looked = Instant::now();
    match ctx.plan_observed().await {
        Ok((p, observed)) => match ctx.nothing_to_do(&p, observed, looked.elapsed()).await {
            Ok(Some(report)) => {
                if !args.quiet {
                    print!("{}", show::text(&p, show::use_colour()));
                }
                display.finish();
                progress::print_report(&report);
                eprintln!("Converged.");
                return ExitCode::SUCCESS;
            }
            Ok(None) => {}
            Err(e) => return fail(&e.to_string()),
        },
        Err(e) => return fail(&context::engine_error(&e)),
    }
    let lease = args.timeout * 2 + Duration::from_secs(60);
    let lock = match EngineLock::acquire(
        &engine,
        &args.engine.project,
        lease,
        args.no_wait,
        |holder| eprintln!("waiting for the engine lock held by {holder}..."),
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return fail(&e.to_string()),
    };
    if !args.quiet {
        // What is about to happen, in the form diff shows; a person watching
        // sees it before the first change, a log keeps it.
        match ctx.plan_now().await {
            Ok(p) => print!("{}", show::text(&p, show::use_colour())),
            Err(e) => {
                let _ = lock.release(&engine).await;
                return fail(&context::engine_error(&e));
            }
        }
    }
    let result = converge(&ctx).await;
    display.finish();
    if let Err(e) = lock.release(&engine).await {
        eprintln!("warning: could not release the engine lock: {e}");
    }
    match result {
        Ok(report) => {
            progress::print_report(&report);
            if report.failures().next().is_some() || !report.held.is_empty() {
                ExitCode::FAILURE
            } else {
                eprintln!("Converged.");
                ExitCode::SUCCESS
            }
        }
        Err(reconcilers::apply::ApplyError::Engine(e)) => fail(&context::engine_error(&e)),
        Err(e) => fail(&e.to_string()),
    }
}
