//! `lucidctl run`: wires flags to the library's run loop
//! (`reconcilers::run`): the engine, the source (files or git), the trigger
//! producers, the status endpoint and the signals.

use crate::cli::{RunArgs, StatusArgs};
use crate::commands::context;
use crate::output::progress;
use reconcilers::engine::EngineApi;
use reconcilers::run::{
    channel, spawn_engine_events, spawn_interval, watch_files, Controller, DesiredSource,
    FilesSource, GitRepoSource, GitSource, RunConfig, Trigger, TriggerSender,
};
use std::process::ExitCode;
use std::sync::Arc;

mod endpoints;
pub mod events;

pub async fn run(args: RunArgs) -> ExitCode {
    if args.engine.target == crate::cli::EngineTarget::Swarm {
        return crate::commands::swarm_run(args).await;
    }
    let engine = match context::connect(&args.engine).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let target = args.engine.target();
    let source: Box<dyn DesiredSource> = match &args.git {
        Some(url) => Box::new(GitRepoSource::new(
            GitSource::new(url, &args.branch, &args.cache_dir),
            args.git_paths.clone(),
            args.source.recursive,
            target,
        )),
        None => Box::new(FilesSource {
            options: args.source.load_options(),
            target,
        }),
    };
    let host_files = reconcilers::hostfiles::for_engine(&engine);
    let lines = progress::Lines::new();
    let on_event = progress::build_event;
    let config = RunConfig {
        name_prefix: args.engine.name_prefix.clone(),
        plan: args.plan.options(),
        inspect_all: args.plan.inspect_all,
        timeout: args.timeout,
        notify: args.notify.clone(),
        outage_threshold: args.notify_after,
        ask_registries: !args.plan.no_pull,
        ..RunConfig::new(&args.engine.project)
    };
    let secrets = config.secrets.clone();
    let shared: Arc<dyn EngineApi> = Arc::new(engine.clone());
    let (tx, queue) = channel();
    let _watcher = match &args.git {
        Some(_) => {
            spawn_interval(tx.clone(), args.poll, Trigger::Git);
            None
        }
        None => watch_files(&source.watched_paths(), args.source.recursive, tx.clone()),
    };
    let controller = match Controller::new(
        shared.clone(),
        &*host_files,
        source,
        &lines,
        &on_event,
        config,
    )
    .with_notifications()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let status = controller.status();
    let bound = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let endpoints = match endpoints::endpoints(&args, bound, status.clone(), tx.clone(), &secrets) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {}", desired_state::diagnostics::escape_controls(&e));
            return ExitCode::FAILURE;
        }
    };
    tokio::spawn(reconcilers::run::serve(listener, endpoints));
    spawn_interval(tx.clone(), args.resync, Trigger::Resync);
    spawn_engine_events(shared, tx.clone(), status);
    spawn_signals(tx.clone());
    tracing::info!(
        "lucidctl run: reconciling project {} on {}; status on http://{bound}/status",
        args.engine.project,
        engine.host(),
    );
    tx.send(Trigger::Start).await;
    controller.run(queue, tx).await;
    ExitCode::SUCCESS
}

fn spawn_signals(tx: TriggerSender) {
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("lucidctl run: finishing the change in progress, then stopping");
        tx.send(Trigger::Shutdown).await;
    });
}

pub fn status_command(args: &StatusArgs) -> ExitCode {
    let body = match events::get_json(&args.listen, "/status", args.token.as_ref()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.output == crate::cli::OutputFormat::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    let field = |k: &str| {
        body.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("-")
            .to_string()
    };
    println!(
        "revision: {}   last reconcile: {}   last error: {}",
        field("applied_revision"),
        field("last_reconcile"),
        field("last_error")
    );
    if let Some(broken) = body.get("input_error").and_then(|v| v.as_str()) {
        let good = &body["last_good"];
        println!(
            "INPUT BROKEN: running on last good revision {} since {}; {}",
            good["revision"].as_str().unwrap_or("-"),
            good["since"].as_str().unwrap_or("-"),
            broken
        );
    }
    if let Some(since) = body.get("disconnected_since").and_then(|v| v.as_str()) {
        println!("ENGINE DISCONNECTED since {since}");
    }
    println!(
        "{:<8} {:<40} {:<14} {}",
        "KIND", "NAME", "STATE", "LAST ERROR"
    );
    for r in body
        .get("resources")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
    {
        let g = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        println!(
            "{:<8} {:<40} {:<14} {}",
            g("kind"),
            g("name"),
            g("state"),
            g("last_error")
        );
    }
    ExitCode::SUCCESS
}
