//! `--target swarm` for diff, apply, delete and doctor: the same files,
//! validated for Swarm too, rendered into services, planned and applied
//! through `reconcilers::swarm`.

use super::context;
use super::fail;
use crate::cli::{
    ApplyArgs, DeleteArgs, DiffArgs, DoctorArgs, EngineArgs, OutputFormat, SourceArgs,
};
use reconcilers::context::Loaded;
use reconcilers::engine::{Engine, SwarmApi};
use reconcilers::swarm::apply::{apply as run_plan, SwarmApplyOptions, SwarmReport};
use reconcilers::swarm::plan::{plan, plan_delete, SwarmPlan, SwarmPlanOptions};
use reconcilers::swarm::render::{render, FileContent};
use reconcilers::swarm::SwarmDesired;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::process::ExitCode;
use std::time::Duration;

/// Loads and validates, the swarm rules included, before any engine call.
fn load(source: &SourceArgs, engine: &EngineArgs) -> Result<Loaded, String> {
    let loaded = context::load(source, engine)?;
    let diagnostics = desired_state::validate::validate_for_swarm(&loaded.state);
    crate::output::print_diagnostics(&diagnostics);
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        return Err(format!(
            "invalid for --target swarm: {errors} error(s); nothing was changed"
        ));
    }
    Ok(loaded)
}

/// ConfigFile contents, as read at load.
fn config_contents(loaded: &Loaded) -> BTreeMap<String, FileContent> {
    loaded
        .configs
        .iter()
        .map(|(name, c)| {
            (
                name.clone(),
                FileContent {
                    bytes: c.bytes.clone(),
                    mode: c.mode,
                },
            )
        })
        .collect()
}

/// An engine error, with the next step when -H is no swarm manager.
fn swarm_error(e: &reconcilers::engine::EngineError) -> String {
    let text = context::engine_error(e);
    if text.contains("not a swarm manager") {
        format!("{text}\n  fix: point -H at a swarm manager, or make this engine one with `docker swarm init`")
    } else {
        text
    }
}

struct Ready {
    loaded: Loaded,
    engine: Engine,
}

async fn connect(source: &SourceArgs, engine: &EngineArgs) -> Result<Ready, String> {
    let loaded = load(source, engine)?;
    let engine = context::connect(engine).await?;
    Ok(Ready { loaded, engine })
}

async fn observe_and_plan(
    r: &Ready,
    options: SwarmPlanOptions,
) -> Result<(SwarmDesired, SwarmPlan), String> {
    let observed = r
        .engine
        .observe_swarm()
        .await
        .map_err(|e| swarm_error(&e))?;
    let desired = render(
        &r.loaded.state,
        &r.loaded.inputs,
        &observed.images,
        &config_contents(&r.loaded),
    )
    .map_err(|e| e.to_string())?;
    let p = plan(
        &r.loaded.state,
        &desired,
        &observed,
        &r.loaded.inputs.project,
        options,
    );
    Ok((desired, p))
}

/// Builds the Images whose context changed, on the manager, as `lucidctl
/// build` does: the spec hash then carries the new image ID. Other nodes
/// need the image pushed to a registry they reach (`spec.push`).
async fn build_images(r: &Ready, project: &str) -> Result<(), String> {
    use reconcilers::apply::Builder;
    use reconcilers::engine::EngineApi;
    use reconcilers::plan::{Action, PlanOptions, Target};
    if r.loaded.builds.is_empty() {
        return Ok(());
    }
    let observed = r
        .engine
        .observe(&Default::default())
        .await
        .map_err(|e| context::engine_error(&e))?;
    let p = reconcilers::plan::plan(
        &r.loaded.state,
        &observed,
        &r.loaded.inputs,
        &PlanOptions::default(),
    );
    let on_event = crate::output::progress::build_event;
    let builder = reconcilers::build::ImageBuilder {
        builds: &r.loaded.builds,
        project,
        on_event: &on_event,
    };
    for c in p.changes.iter().filter(|c| c.action == Action::Build) {
        let Target::Image { reference } = &c.target else {
            continue;
        };
        let started = std::time::Instant::now();
        eprintln!("Image {reference}: building on the manager");
        builder.build(&r.engine, reference).await?;
        eprintln!(
            "Image {reference}: built in {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

pub fn text(p: &SwarmPlan) -> String {
    let mut out = String::new();
    for c in &p.changes {
        let reasons: Vec<String> = c.reasons.iter().map(|r| r.to_string()).collect();
        let _ = writeln!(
            out,
            "{} {}/{}  {}  ({})",
            c.action.marker(),
            c.kind,
            c.name,
            c.action.as_str(),
            reasons.join(", ")
        );
        for f in &c.fields {
            let _ = writeln!(out, "      {}: {} -> {}", f.path, f.from, f.to);
        }
    }
    for v in &p.violations {
        let _ = writeln!(out, "! policy violation: {v}");
    }
    for c in &p.conflicts {
        let _ = writeln!(out, "! conflict: {c}");
    }
    let count = |a| p.changes.iter().filter(|c| c.action == a).count();
    use reconcilers::swarm::plan::SwarmAction as A;
    if p.is_empty() {
        out.push_str("No changes: the swarm matches the files.\n");
    } else {
        let _ = writeln!(
            out,
            "Plan: {} to create, {} to update, {} to run, {} to remove, {} held, {} conflict(s).",
            count(A::Create),
            count(A::Update),
            count(A::Run),
            count(A::Remove),
            count(A::Held),
            p.conflicts.len()
        );
    }
    out
}

/// 0 nothing to do, 2 changes, 1 conflicts: as `diff` on the local target.
fn exit_code(p: &SwarmPlan) -> ExitCode {
    if !p.conflicts.is_empty() {
        ExitCode::from(controller::exit::FAILURE)
    } else if p.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

fn print(p: &SwarmPlan, format: OutputFormat) -> ExitCode {
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(p).unwrap_or_else(|_| "{}".into())
        ),
        OutputFormat::Text => print!("{}", text(p)),
    }
    exit_code(p)
}

fn no_selector(selector: &[(String, String)]) -> Result<(), String> {
    if selector.is_empty() {
        Ok(())
    } else {
        Err("-l/--selector is not supported with --target swarm yet; apply the whole set".into())
    }
}

pub async fn diff(args: DiffArgs) -> ExitCode {
    if let Err(e) = no_selector(&args.plan.selector) {
        return fail(&e);
    }
    let ready = match connect(&args.source, &args.engine).await {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let options = SwarmPlanOptions {
        prune: args.plan.prune,
        retry_failed: false,
    };
    match observe_and_plan(&ready, options).await {
        Ok((_, p)) => print(&p, args.output),
        Err(e) => fail(&e),
    }
}

fn print_report(report: &SwarmReport) -> ExitCode {
    let failed = report.failures().count();
    if failed > 0 || !report.held.is_empty() {
        eprintln!(
            "{failed} failed, {} held: {}",
            report.held.len(),
            report
                .failures()
                .map(|o| format!("{}/{}", o.kind, o.name))
                .collect::<Vec<_>>()
                .join(", ")
        );
        ExitCode::FAILURE
    } else {
        eprintln!("Converged.");
        ExitCode::SUCCESS
    }
}

pub async fn apply(args: ApplyArgs) -> ExitCode {
    if let Err(e) = no_selector(&args.plan.selector) {
        return fail(&e);
    }
    if args.plan.prune && args.source.paths.is_empty() {
        return fail("refusing to prune: no files given");
    }
    let ready = match connect(&args.source, &args.engine).await {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if args.plan.prune && ready.loaded.state.resources.is_empty() {
        return fail("refusing to prune: the desired set is empty (that would remove everything)");
    }
    let options = SwarmPlanOptions {
        prune: args.plan.prune,
        retry_failed: args.retry_failed,
    };
    if !args.dry_run {
        if let Err(e) = build_images(&ready, &args.engine.project).await {
            return fail(&e);
        }
    }
    let (desired, p) = match observe_and_plan(&ready, options).await {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    if args.dry_run {
        return print(&p, OutputFormat::Text);
    }
    if !p.conflicts.is_empty() {
        print!("{}", text(&p));
        return fail("conflicts: nothing was changed");
    }
    if !args.quiet {
        print!("{}", text(&p));
    }
    let lock = match reconcilers::apply::lock::EngineLock::acquire(
        &ready.engine,
        &args.engine.project,
        args.timeout * 2 + Duration::from_secs(60),
        args.no_wait,
        |holder| eprintln!("waiting for the engine lock held by {holder}..."),
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return fail(&e.to_string()),
    };
    let apply_options = SwarmApplyOptions {
        timeout: args.timeout,
        ..SwarmApplyOptions::default()
    };
    let report = run_plan(
        &ready.engine,
        &ready.loaded.state,
        &desired,
        &p,
        &apply_options,
        &|line| eprintln!("{}", desired_state::diagnostics::escape_controls(line)),
    )
    .await;
    if let Err(e) = lock.release(&ready.engine).await {
        eprintln!("warning: could not release the engine lock: {e}");
    }
    print_report(&report)
}

pub async fn delete(args: DeleteArgs) -> ExitCode {
    let ready = match connect(&args.source, &args.engine).await {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let observed = match ready.engine.observe_swarm().await {
        Ok(o) => o,
        Err(e) => return fail(&swarm_error(&e)),
    };
    let desired = match render(
        &ready.loaded.state,
        &ready.loaded.inputs,
        &observed.images,
        &config_contents(&ready.loaded),
    ) {
        Ok(d) => d,
        Err(e) => return fail(&e.to_string()),
    };
    let p = plan_delete(&desired, &observed, &ready.loaded.inputs.project);
    let lock = match reconcilers::apply::lock::EngineLock::acquire(
        &ready.engine,
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
    let report = run_plan(
        &ready.engine,
        &ready.loaded.state,
        &SwarmDesired::default(),
        &p,
        &SwarmApplyOptions::default(),
        &|line| eprintln!("{}", desired_state::diagnostics::escape_controls(line)),
    )
    .await;
    if let Err(e) = lock.release(&ready.engine).await {
        eprintln!("warning: could not release the engine lock: {e}");
    }
    if args.volumes {
        eprintln!("note: with --target swarm, volumes stay on their nodes; remove them there");
    }
    let failed = report.failures().count();
    eprintln!(
        "Deleted {} object(s){}.",
        report.outcomes.len() - failed,
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

/// Nodes, their architectures and labels, and the images the files need.
pub async fn doctor(args: DoctorArgs) -> ExitCode {
    let ready = match connect(&args.source, &args.engine).await {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let nodes = match ready.engine.nodes().await {
        Ok(n) => n,
        Err(e) => {
            return fail(&format!(
                "{}\n  fix: -H must reach a swarm manager (`docker swarm init`, or `docker node ls` on a manager)",
                context::engine_error(&e)
            ))
        }
    };
    let observed = match ready.engine.observe_swarm().await {
        Ok(o) => o,
        Err(e) => return fail(&swarm_error(&e)),
    };
    let mut problems = 0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "swarm manager {}: {} node(s)",
        ready.engine.host(),
        nodes.len()
    );
    for n in &nodes {
        let ok = n.state == "ready" && n.availability == "active";
        if !ok {
            problems += 1;
        }
        let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            out,
            "{} node {} ({}) {}/{} {} {} labels: {}",
            if ok { "✔" } else { "✘" },
            n.hostname,
            n.role,
            n.os,
            n.architecture,
            n.state,
            n.availability,
            if labels.is_empty() {
                "(none)".into()
            } else {
                labels.join(", ")
            }
        );
    }
    let mut images: Vec<String> = ready
        .loaded
        .state
        .workloads()
        .filter_map(|r| r.spec.workload().map(|w| ready.loaded.inputs.image_of(w)))
        .collect();
    images.sort();
    images.dedup();
    for image in images {
        let here = observed.images.contains_key(&image);
        let from_registry = image.contains('/')
            && image
                .split('/')
                .next()
                .is_some_and(|h| h.contains('.') || h.contains(':'));
        let line = if here {
            format!("✔ image {image} present on the manager")
        } else if from_registry {
            format!("? image {image} not on the manager; every node must pull it from its registry")
        } else {
            problems += 1;
            format!("✘ image {image} not on the manager; push it to a registry every node reaches, or pin its services to a node that has it")
        };
        let _ = writeln!(out, "{line}");
    }
    if nodes.len() > 1 {
        let _ = writeln!(out, "note: images are checked on the manager only; a service pinned elsewhere needs its image on that node");
    }
    print!("{}", desired_state::diagnostics::escape_controls(&out));
    if problems > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `run --target swarm`: keeps the swarm converged on the files as loaded at
/// start. A pass (observe, plan, apply) runs at start, after the manager
/// reports a service of this system created, updated or removed (debounced),
/// and every --resync. Held revisions are not retried; a completed Job does
/// not run again.
pub async fn run(args: crate::cli::RunArgs) -> ExitCode {
    use futures_util::StreamExt;
    if args.git.is_some() {
        return fail("--git is not supported with --target swarm yet; run from a checkout with -f");
    }
    if let Err(e) = no_selector(&args.plan.selector) {
        return fail(&e);
    }
    let ready = match connect(&args.source, &args.engine).await {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let options = SwarmPlanOptions {
        prune: args.plan.prune,
        retry_failed: false,
    };
    let apply_options = SwarmApplyOptions {
        timeout: args.timeout,
        ..SwarmApplyOptions::default()
    };
    let prefix = ready.loaded.inputs.name_prefix.clone();
    let ours: Vec<String> = ready
        .loaded
        .state
        .workloads()
        .map(|r| ready.loaded.inputs.object_name(r.name()))
        .collect();
    eprintln!(
        "keeping the swarm at {} converged on {} service(s) and job(s); resync every {}s",
        ready.engine.host(),
        ours.len(),
        args.resync.as_secs()
    );
    let mut events = ready.engine.service_events();
    loop {
        match observe_and_plan(&ready, options).await {
            Ok((desired, p)) if !p.is_empty() && p.conflicts.is_empty() => {
                print!("{}", text(&p));
                let report = run_plan(
                    &ready.engine,
                    &ready.loaded.state,
                    &desired,
                    &p,
                    &apply_options,
                    &|line| eprintln!("{}", desired_state::diagnostics::escape_controls(line)),
                )
                .await;
                let _ = print_report(&report);
            }
            Ok((_, p)) if !p.conflicts.is_empty() => print!("{}", text(&p)),
            Ok(_) => {}
            Err(e) => eprintln!("error: {}", desired_state::diagnostics::escape_controls(&e)),
        }
        // Wait for a trigger: one of ours changed on the manager, or the resync.
        let deadline = tokio::time::sleep(args.resync);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
                item = events.next() => match item {
                    Some(Ok(name)) if ours.contains(&name) || (!prefix.is_empty() && name.starts_with(&prefix)) => {
                        // Let a burst of events (a scale, a removal's tasks) settle.
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        eprintln!("warning: {e}; listening again in 1s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        events = ready.engine.service_events();
                        break;
                    }
                    None => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        events = ready.engine.service_events();
                        break;
                    }
                }
            }
        }
    }
}
