//! `lucidctl run`: a level-triggered controller. File changes, engine events,
//! new git commits and a resync timer only wake the loop; every pass observes
//! everything again, plans and acts. Passes run one at a time. Invalid or
//! empty input changes nothing: the last good state keeps running.

mod git;
mod http;
mod status;

use crate::cli::{RunArgs, SourceArgs, StatusArgs};
use crate::commands::context;
use crate::output::progress;
use backon::{BackoffBuilder, ExponentialBuilder};
use desired_state::model::{Kind, Spec};
use futures_util::StreamExt;
use reconcilers::apply::lock::EngineLock;
use reconcilers::apply::{converge, ApplyContext, ApplyOptions, Outcome};
use reconcilers::build::ImageBuilder;
use reconcilers::engine::{Engine, EventObject};
use status::{now_rfc3339, Readiness, ResourceStatus, Status};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
enum Trigger {
    Start,
    Resync,
    Files,
    // Read through Debug, in the log line of the pass it triggers.
    #[allow(dead_code)]
    Engine(String),
    Git,
    Retry,
    Shutdown,
}

/// Restarts of one workload inside this window count towards crash-looping.
const CRASH_WINDOW: Duration = Duration::from_secs(600);
const CRASH_LIMIT: usize = 5;

struct Loop {
    args: RunArgs,
    status: Arc<Mutex<Status>>,
    engine: Engine,
    git: Option<git::GitSource>,
    revision: Option<String>,
    /// When each workload was last started or recreated by this loop.
    restarts: BTreeMap<String, VecDeque<Instant>>,
    /// Crash-looping workloads, held back until the given time.
    held: BTreeMap<String, (Instant, u32)>,
    known_volumes: BTreeSet<String>,
    first_pass_done: bool,
}

pub async fn run(args: RunArgs) -> ExitCode {
    let engine = match context::connect(&args.engine).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let status = Arc::new(Mutex::new(Status::default()));
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    tokio::spawn(http::serve(listener, status.clone()));
    let (tx, mut rx) = mpsc::channel::<Trigger>(1024);
    let git = args
        .git
        .as_ref()
        .map(|url| git::GitSource::new(url, &args.branch, &args.cache_dir));
    spawn_resync(tx.clone(), args.resync);
    spawn_events(engine.clone(), tx.clone(), status.clone());
    spawn_signals(tx.clone());
    let _watcher = if git.is_some() {
        spawn_git_poll(tx.clone(), args.poll);
        None
    } else {
        watch_files(&args.source, tx.clone())
    };
    eprintln!(
        "lucidctl run: reconciling project {} on {}; status on http://{}/status",
        args.engine.project,
        engine.host(),
        args.listen
    );
    let mut this = Loop {
        args,
        status,
        engine,
        git,
        revision: None,
        restarts: BTreeMap::new(),
        held: BTreeMap::new(),
        known_volumes: BTreeSet::new(),
        first_pass_done: false,
    };
    let _ = tx.send(Trigger::Start).await;
    let mut backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(60))
        .with_jitter()
        .without_max_times()
        .build();
    while let Some(first) = rx.recv().await {
        // Coalesce a burst of triggers into one pass: `docker rm -f` sends kill,
        // die and destroy within about 100 ms, and acting between them races the removal.
        let mut reasons = vec![first];
        tokio::time::sleep(Duration::from_millis(200)).await;
        while let Ok(t) = rx.try_recv() {
            reasons.push(t);
        }
        if reasons.iter().any(|t| matches!(t, Trigger::Shutdown)) {
            break;
        }
        let why: Vec<String> = reasons.iter().map(|t| format!("{t:?}")).collect();
        match this.pass(&why.join(", ")).await {
            Ok(()) => {
                backoff = ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(500))
                    .with_max_delay(Duration::from_secs(60))
                    .with_jitter()
                    .without_max_times()
                    .build()
            }
            Err(e) => {
                let delay = backoff.next().unwrap_or(Duration::from_secs(60));
                eprintln!(
                    "reconcile failed: {e}; retrying in {:.1}s",
                    delay.as_secs_f64()
                );
                let tx = tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = tx.send(Trigger::Retry).await;
                });
            }
        }
        // A pass finished; a shutdown that arrived during it ends the loop now.
        if let Ok(Trigger::Shutdown) = rx.try_recv() {
            break;
        }
    }
    eprintln!("lucidctl run: stopped");
    ExitCode::SUCCESS
}

impl Loop {
    fn source(&mut self) -> Result<SourceArgs, String> {
        let Some(g) = &self.git else {
            return Ok(self.args.source.clone());
        };
        let commit = g.sync()?;
        if self.revision.as_deref() != Some(&commit) {
            eprintln!("git: {} {} is at {commit}", g.url, g.branch);
        }
        self.revision = Some(commit);
        let paths = self
            .args
            .git_paths
            .iter()
            .map(|p| g.checkout.join(p))
            .collect();
        Ok(SourceArgs {
            paths,
            recursive: self.args.source.recursive,
            state_root: Some(g.checkout.clone()),
        })
    }

    async fn pass(&mut self, why: &str) -> Result<(), String> {
        let started = Instant::now();
        let result = self.reconcile(why).await;
        let mut s = self.status.lock().map_err(|e| e.to_string())?;
        s.metrics.reconciles += 1;
        s.metrics.observe_duration(started.elapsed().as_secs_f64());
        s.last_reconcile = Some(now_rfc3339());
        match &result {
            Ok(()) => s.last_error = None,
            Err(e) => {
                s.metrics.errors += 1;
                s.last_error = Some(e.clone());
            }
        }
        result
    }

    async fn reconcile(&mut self, why: &str) -> Result<(), String> {
        let source = self.source()?;
        let mut loaded = context::load(&source, &self.args.engine)?;
        if loaded.state.resources.is_empty() {
            return Err("the desired set is empty; refusing to act on it (the last good state keeps running)".into());
        }
        loaded.inputs.revision = self.revision.clone();
        if let Ok(mut s) = self.status.lock() {
            s.applied_revision = self.revision.clone();
        }
        self.release_expired_holds();
        let mut options = ApplyOptions {
            plan: self.args.plan.options(),
            timeout: self.args.timeout,
            ..ApplyOptions::default()
        };
        options.plan.hold = self.held.keys().cloned().collect();
        let lines = progress::Lines::new();
        let on_event = progress::build_event;
        let project = self.args.engine.project.clone();
        let builder = ImageBuilder {
            builds: &loaded.builds,
            project: &project,
            on_event: &on_event,
        };
        let host_files = reconcilers::remote::host_files(&self.engine);
        let ctx = ApplyContext {
            engine: &self.engine,
            desired: &loaded.state,
            inputs: &loaded.inputs,
            host_files: &loaded.host_files,
            files: &*host_files,
            builder: &builder,
            progress: &lines,
            options,
        };
        let lock = EngineLock::acquire(
            &self.engine,
            &self.args.engine.project,
            self.args.timeout * 2 + Duration::from_secs(60),
            false,
            |h| eprintln!("waiting for the engine lock held by {h}..."),
        )
        .await
        .map_err(|e| e.to_string())?;
        let result = converge(&ctx).await;
        let _ = lock.release(&self.engine).await;
        let report = result.map_err(|e| e.to_string())?;
        if !report.outcomes.is_empty() {
            eprintln!("pass ({why}): {} change(s)", report.outcomes.len());
        }
        self.refresh_status(&ctx, &report).await;
        self.account(&loaded.state, &report.outcomes);
        self.first_pass_done = true;
        let failure = report
            .failures()
            .next()
            .map(|(kind, name, o)| format!("{kind}/{name}: {}", reconcilers::apply::describe(o)));
        failure.map_or(Ok(()), Err)
    }

    /// Drift repairs, policy violations, lost volumes and crash loops.
    fn account(
        &mut self,
        state: &desired_state::DesiredState,
        outcomes: &[(Kind, String, Outcome)],
    ) {
        let isolated: BTreeSet<String> = state
            .of_kind(Kind::IsolationPolicy)
            .filter_map(|r| match &r.spec {
                Spec::IsolationPolicy(p) => {
                    Some(format!("{}{}", self.args.engine.name_prefix, p.network))
                }
                _ => None,
            })
            .collect();
        let mut s = match self.status.lock() {
            Ok(s) => s,
            Err(_) => return,
        };
        for (kind, name, o) in outcomes {
            if self.first_pass_done && !o.is_failure() {
                *s.metrics.drift_repairs.entry(kind.to_string()).or_default() += 1;
            }
            match o {
                Outcome::Disconnected(n) if isolated.contains(n) => {
                    s.metrics.policy_violations += 1;
                    eprintln!("POLICY VIOLATION: {kind}/{name} was attached to isolated network {n}; disconnected");
                }
                Outcome::Created if *kind == Kind::Volume && self.known_volumes.contains(name) => {
                    eprintln!("DATA LOSS: Volume/{name} was removed outside lucidctl and has been recreated EMPTY; its data is gone");
                }
                Outcome::Started | Outcome::Recreated if matches!(kind, Kind::Service) => {
                    let q = self.restarts.entry(name.clone()).or_default();
                    q.push_back(Instant::now());
                    while q.front().is_some_and(|t| t.elapsed() > CRASH_WINDOW) {
                        q.pop_front();
                    }
                    if q.len() >= CRASH_LIMIT {
                        let strikes = self.held.get(name).map(|(_, n)| n + 1).unwrap_or(1);
                        let wait = Duration::from_secs(30u64.saturating_mul(1 << strikes.min(6)));
                        eprintln!("Service/{name} is crash-looping ({} restarts in {}s); holding it for {}s", q.len(), CRASH_WINDOW.as_secs(), wait.as_secs());
                        self.held
                            .insert(name.clone(), (Instant::now() + wait, strikes));
                        q.clear();
                    }
                }
                _ => {}
            }
        }
        for r in state.of_kind(Kind::Volume) {
            self.known_volumes.insert(r.name().to_string());
        }
    }

    fn release_expired_holds(&mut self) {
        self.held.retain(|_, (until, _)| Instant::now() < *until);
    }

    async fn refresh_status(&self, ctx: &ApplyContext<'_>, report: &reconcilers::apply::Report) {
        let outcomes = &report.outcomes;
        // A converged pass already observed the engine; only a failed one needs a fresh look.
        let observed = match &report.converged {
            Some(o) => Some(o.clone()),
            None => ctx.engine.observe(&Default::default()).await.ok(),
        };
        let now = now_rfc3339();
        let failed: BTreeMap<&str, String> = outcomes
            .iter()
            .filter(|(_, _, o)| o.is_failure())
            .map(|(_, n, o)| (n.as_str(), reconcilers::apply::describe(o)))
            .collect();
        let resources = ctx
            .desired
            .resources
            .iter()
            .filter(|r| {
                matches!(
                    r.kind(),
                    Kind::Service | Kind::Job | Kind::Network | Kind::Volume
                )
            })
            .map(|r| {
                let object = ctx.inputs.object_name(r.name());
                let container = observed.as_ref().and_then(|o| o.container(&object));
                let present = match r.kind() {
                    Kind::Network => observed
                        .as_ref()
                        .is_some_and(|o| o.network(&object).is_some()),
                    Kind::Volume => observed
                        .as_ref()
                        .is_some_and(|o| o.volume(&object).is_some()),
                    Kind::Job => container.is_some_and(|c| {
                        c.exit_code == Some(0)
                            && c.state == Some(reconcilers::observed::RunState::Exited)
                    }),
                    _ => container.is_some_and(|c| {
                        c.state == Some(reconcilers::observed::RunState::Running)
                            && c.health != Some(reconcilers::observed::Health::Unhealthy)
                    }),
                };
                let state = if self.held.contains_key(r.name()) {
                    Readiness::CrashLooping
                } else if failed.contains_key(r.name()) {
                    Readiness::Degraded
                } else if present {
                    Readiness::Ready
                } else {
                    Readiness::Progressing
                };
                ResourceStatus {
                    kind: r.kind().to_string(),
                    name: r.name().to_string(),
                    state,
                    last_reconcile: Some(now.clone()),
                    last_error: failed.get(r.name()).cloned(),
                }
            })
            .collect();
        if let Ok(mut s) = self.status.lock() {
            s.resources = resources;
        }
    }
}

fn spawn_resync(tx: mpsc::Sender<Trigger>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            if tx.send(Trigger::Resync).await.is_err() {
                return;
            }
        }
    });
}

fn spawn_git_poll(tx: mpsc::Sender<Trigger>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            if tx.send(Trigger::Git).await.is_err() {
                return;
            }
        }
    });
}

/// Engine events on lucidctl's objects wake the loop. When the stream breaks
/// (engine restart, dropped connection) it is reopened with backoff, and a
/// pass runs once it is back, since events may have been missed.
fn spawn_events(engine: Engine, tx: mpsc::Sender<Trigger>, status: Arc<Mutex<Status>>) {
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(250);
        loop {
            let mut stream = Box::pin(engine.events());
            let mut healthy = false;
            while let Some(item) = stream.next().await {
                let Ok(ev) = item else { break };
                if !healthy {
                    healthy = true;
                    delay = Duration::from_millis(250);
                }
                let relevant = match ev.object {
                    EventObject::Container => {
                        ev.attributes.get(reconcilers::labels::MANAGED_BY).is_some()
                    }
                    // The loop's own lock volume comes and goes with every pass.
                    EventObject::Volume => !ev.name.starts_with("lucidctl-lock-"),
                    EventObject::Network => true,
                    _ => false,
                };
                let interesting = [
                    "die",
                    "stop",
                    "kill",
                    "destroy",
                    "oom",
                    "health_status",
                    "connect",
                    "disconnect",
                    "rename",
                    "update",
                    "pause",
                ]
                .iter()
                .any(|a| ev.action.starts_with(a));
                if relevant
                    && interesting
                    && tx
                        .send(Trigger::Engine(format!("{} {}", ev.action, ev.name)))
                        .await
                        .is_err()
                {
                    return;
                }
            }
            if let Ok(mut s) = status.lock() {
                s.disconnected_since.get_or_insert_with(now_rfc3339);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
            if engine.ping().await.is_ok() {
                if let Ok(mut s) = status.lock() {
                    s.disconnected_since = None;
                }
                let _ = tx.send(Trigger::Resync).await;
            }
        }
    });
}

fn spawn_signals(tx: mpsc::Sender<Trigger>) {
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
        eprintln!("lucidctl run: finishing the change in progress, then stopping");
        let _ = tx.send(Trigger::Shutdown).await;
    });
}

/// Watches the directories (editors save by rename, so files alone miss saves).
fn watch_files(
    source: &SourceArgs,
    tx: mpsc::Sender<Trigger>,
) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            if !ev.kind.is_access() {
                let _ = tx.try_send(Trigger::Files);
            }
        }
    })
    .map_err(|e| eprintln!("warning: file watching is off: {e}"))
    .ok()?;
    for p in &source.paths {
        let dir = if p.is_dir() {
            p.clone()
        } else {
            p.parent().map(|d| d.to_path_buf()).unwrap_or_default()
        };
        let mode = if source.recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        if let Err(e) = watcher.watch(&dir, mode) {
            eprintln!("warning: cannot watch {}: {e}", dir.display());
        }
    }
    Some(watcher)
}

pub fn status_command(args: &StatusArgs) -> ExitCode {
    let url = format!("http://{}/status", args.listen);
    let body: serde_json::Value = match ureq::get(&url)
        .call()
        .map_err(|e| e.to_string())
        .and_then(|mut r| r.body_mut().read_json().map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: no lucidctl run answers at {url}: {e}");
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
