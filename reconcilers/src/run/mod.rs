//! `lucidctl run`: a level-triggered controller, shaped like kube-runtime's.
//! Trigger streams (engine events, file changes, git polls, a resync timer)
//! feed one queue; each batch runs one `reconcile` pass, which loads the
//! desired state, observes everything, plans and acts; an error policy turns
//! a failed pass into a requeue with backoff.
//!
//! Guarantees: passes run one at a time; no trigger is dropped (one that
//! arrives during a pass causes exactly one more pass); invalid or empty
//! input changes nothing; a Shutdown ends the loop after the pass in progress.
//! Errors: a failed pass is logged, put in the status and retried.

mod accounting;
mod alerts;
mod events;
mod git;
mod http;
mod notify;
mod policy;
mod registry_watch;
mod secret_ref;
mod source;
mod status;
mod triggers;

pub use events::{Event, EventLog};
pub use git::GitSource;
pub use http::{github_signature, serve, Endpoints, GitHook, HookVerdict};
pub use notify::{
    deliver_once, format, redact, target, BadUrl, Notification, Notifier, Severity, Target,
};
pub use policy::{CrashLoops, ErrorPolicy, CRASH_LIMIT, CRASH_WINDOW};
pub use secret_ref::{SecretRefError, SecretSource, SecretWatch, SharedSecret};
pub use source::{DesiredSource, FilesSource, GitRepoSource};
pub use status::{now_rfc3339, LastGoodStatus, Metrics, Readiness, ResourceStatus, Status};
pub use triggers::{
    channel, spawn_engine_events, spawn_interval, wakes, watch_files, Trigger, TriggerQueue,
    TriggerSender,
};

use crate::apply::lock::EngineLock;
use crate::apply::{converge, describe, ApplyOptions, Progress, Report};
use crate::build::ImageBuilder;
use crate::context::Loaded;
use crate::engine::{BuildEvent, EngineApi};
use crate::hostfiles::HostFiles;
use crate::observed::{Health, Observed, RunState};
use crate::plan::{PlanOptions, Reason};
use desired_state::model::Kind;
use desired_state::DesiredState;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Where a pass is, for tests that deliver triggers at every point of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Started,
    Loaded,
    Locked,
    Converged,
    Finished,
}

pub type PhaseHook = Arc<dyn Fn(Phase) + Send + Sync>;

#[derive(Clone)]
pub struct RunConfig {
    pub project: String,
    pub name_prefix: String,
    pub plan: PlanOptions,
    /// Longest wait for one health check, job or dependency.
    pub timeout: Duration,
    /// How long a burst of triggers may take to arrive before a pass.
    pub debounce: Duration,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub on_phase: Option<PhaseHook>,
    /// Webhook URLs (or secret:, file:, env: references to them) that hear
    /// about rollbacks, crash loops, violations and more.
    pub notify: Vec<String>,
    /// SecretSet keys other parts wait for (notify URLs, the webhook
    /// secret), filled from every desired state that loads.
    pub secrets: SecretWatch,
    /// How long the engine may stay unreachable, or git fetches keep
    /// failing, before a notification says so.
    pub outage_threshold: Duration,
    /// Ask registries whether watched tags moved (off with --no-pull).
    pub ask_registries: bool,
    /// Inspect every container in every pass (`--inspect-all`), not only
    /// at the start and on resync, reconnection and retry.
    pub inspect_all: bool,
}

impl RunConfig {
    pub fn new(project: &str) -> RunConfig {
        RunConfig {
            project: project.to_string(),
            name_prefix: String::new(),
            plan: PlanOptions::default(),
            timeout: Duration::from_secs(300),
            debounce: Duration::from_millis(200),
            retry_min: Duration::from_millis(500),
            retry_max: Duration::from_secs(60),
            on_phase: None,
            notify: Vec::new(),
            secrets: SecretWatch::default(),
            outage_threshold: Duration::from_secs(120),
            ask_registries: true,
            inspect_all: false,
        }
    }
}

pub struct Controller<'a> {
    engine: Arc<dyn EngineApi>,
    files: &'a dyn HostFiles,
    source: Box<dyn DesiredSource + 'a>,
    progress: &'a dyn Progress,
    build_events: &'a (dyn Fn(&str, BuildEvent) + Sync),
    config: RunConfig,
    status: Arc<Mutex<Status>>,
    crash_loops: CrashLoops,
    /// Declared resources that were there after a pass: one missing later
    /// was removed outside lucidctl (drift, or a volume's data lost).
    known: BTreeSet<(Kind, String)>,
    /// Resources this pass found missing, and those whose every change
    /// undoes a change made outside lucidctl (announced as drift repairs
    /// whatever the pass also rolls out).
    pass_missing: BTreeSet<(Kind, String)>,
    pass_outside: BTreeSet<(Kind, String)>,
    first_pass_done: bool,
    /// The last desired state that loaded and validated: what the loop
    /// heals against while the input is broken.
    last_good: Option<LastGood>,
    /// Asked by the last plan: look again after this long.
    requeue_after: Option<Duration>,
    notifier: Option<Notifier>,
    outages: alerts::Outages,
    /// The revision the last pass converged on: a pass on the same one
    /// repairs drift, a pass on a new one rolls it out.
    converged_revision: Option<String>,
    repairing_drift: bool,
    registry: registry_watch::RegistryWatch,
    /// Image digests that moved, rolled out by the pass in progress.
    moved_images: Vec<registry_watch::Moved>,
    /// What the batch in progress asks of its pass.
    pass_kind: PassKind,
}

/// What a batch of triggers asks of its pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassKind {
    /// Load the input again. Engine events alone say the engine drifted, not
    /// the files: that pass repairs against the state already loaded.
    pub reload: bool,
    /// Inspect every container (`observe::Depth::Full`). Other passes read
    /// the list first and inspect what it does not prove converged; the
    /// start, the resync timer, a reconnection and a retry look at everything.
    pub full_observe: bool,
}

impl PassKind {
    /// Everything, as a pass made outside the loop does.
    pub const FULL: PassKind = PassKind {
        reload: true,
        full_observe: true,
    };

    pub fn of(batch: &[Trigger]) -> PassKind {
        PassKind {
            reload: !batch.iter().all(|t| matches!(t, Trigger::Engine(_))),
            full_observe: batch.iter().any(|t| {
                matches!(
                    t,
                    Trigger::Start | Trigger::Resync | Trigger::Reconnected | Trigger::Retry
                )
            }),
        }
    }
}

struct LastGood {
    loaded: Loaded,
    /// The git commit, or for files a hash of the loaded state.
    revision: String,
    since: String,
    since_wall: std::time::SystemTime,
}

impl LastGood {
    fn new(mut loaded: Loaded, revision: Option<String>) -> LastGood {
        let revision = revision.unwrap_or_else(|| {
            // What the files say, not where they say it: source positions
            // live in a hash map whose order changes from load to load.
            let content: Vec<_> = loaded
                .state
                .resources
                .iter()
                .map(|r| (&r.metadata, &r.spec))
                .collect();
            format!(
                "content:{}",
                crate::hash::short_hash(format!("{content:?}").as_bytes())
            )
        });
        loaded.inputs.revision = Some(revision.clone()).filter(|r| !r.starts_with("content:"));
        LastGood {
            loaded,
            revision,
            since: now_rfc3339(),
            since_wall: std::time::SystemTime::now(),
        }
    }

    fn status(&self) -> LastGoodStatus {
        LastGoodStatus {
            revision: self.revision.clone(),
            since: self.since.clone(),
        }
    }
}

impl<'a> Controller<'a> {
    pub fn new(
        engine: Arc<dyn EngineApi>,
        files: &'a dyn HostFiles,
        source: Box<dyn DesiredSource + 'a>,
        progress: &'a dyn Progress,
        build_events: &'a (dyn Fn(&str, BuildEvent) + Sync),
        config: RunConfig,
    ) -> Controller<'a> {
        Controller {
            engine,
            files,
            source,
            progress,
            build_events,
            status: Arc::new(Mutex::new(Status::default())),
            crash_loops: CrashLoops::default(),
            known: BTreeSet::new(),
            pass_missing: BTreeSet::new(),
            pass_outside: BTreeSet::new(),
            first_pass_done: false,
            last_good: None,
            requeue_after: None,
            notifier: None,
            outages: alerts::Outages::new(config.outage_threshold),
            converged_revision: None,
            repairing_drift: false,
            registry: Default::default(),
            moved_images: Vec::new(),
            pass_kind: PassKind::FULL,
            config,
        }
    }

    /// Starts delivering notifications to `config.notify` (needs a tokio runtime).
    pub fn with_notifications(mut self) -> Result<Self, BadUrl> {
        if !self.config.notify.is_empty() {
            self.notifier = Some(Notifier::spawn(&self.config.notify, &self.config.secrets)?);
        }
        Ok(self)
    }

    /// Records the event for the status page and GET /events; nothing is sent anywhere.
    fn record(&self, event: &str, severity: Severity, resource: Option<String>, message: &str) {
        if let Ok(mut s) = self.status.lock() {
            let (time, now) = (now_rfc3339(), Instant::now());
            s.events
                .record(event, severity, resource, message.to_string(), time, now);
        }
    }

    fn notify(&self, event: &str, severity: Severity, resource: Option<String>, message: String) {
        self.record(event, severity, resource.clone(), &message);
        let Some(n) = &self.notifier else { return };
        n.send(Notification {
            event: event.to_string(),
            severity,
            resource,
            message,
            revision: self.good_revision(),
            time: now_rfc3339(),
        });
    }

    /// What the HTTP endpoint and the engine-event watcher share with the loop.
    pub fn status(&self) -> Arc<Mutex<Status>> {
        self.status.clone()
    }

    fn phase(&self, p: Phase) {
        if let Some(hook) = &self.config.on_phase {
            hook(p);
        }
    }

    /// Runs passes until a Shutdown trigger or until every sender is gone.
    /// `requeue` is where the error policy sends its retries.
    pub async fn run(mut self, mut queue: TriggerQueue, requeue: TriggerSender) {
        let mut policy = ErrorPolicy::new(self.config.retry_min, self.config.retry_max);
        while let Some(batch) = queue.next_batch(self.config.debounce).await {
            if batch.contains(&Trigger::Shutdown) {
                break;
            }
            let why: Vec<String> = batch.iter().map(|t| format!("{t:?}")).collect();
            let span = tracing::info_span!("reconcile", triggers = %why.join(", "));
            self.pass_kind = PassKind::of(&batch);
            let result = self.pass().instrument(span).await;
            self.pass_kind = PassKind::FULL;
            if let Some(after) = self.requeue_after.take() {
                let tx = requeue.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    tx.send(Trigger::Retry).await;
                });
            }
            match result {
                Ok(()) => policy.succeeded(),
                Err(e) => {
                    let delay = policy.failed(jitter());
                    tracing::warn!(
                        "reconcile failed: {e}; retrying in {:.1}s",
                        delay.as_secs_f64()
                    );
                    let tx = requeue.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        tx.send(Trigger::Retry).await;
                    });
                }
            }
        }
        tracing::info!("lucidctl run: stopped");
    }

    /// One pass, with its bookkeeping in the status.
    pub async fn pass(&mut self) -> Result<(), String> {
        let started = Instant::now();
        self.phase(Phase::Started);
        let result = self.reconcile().await;
        self.phase(Phase::Finished);
        self.report_outages();
        let mut s = self.status.lock().map_err(|e| e.to_string())?;
        s.metrics.reconciles += 1;
        let took = started.elapsed().as_secs_f64();
        s.metrics.observe_duration(took);
        s.last_duration_seconds = Some(took);
        s.last_reconcile = Some(now_rfc3339());
        let new_error = match &result {
            Ok(()) => {
                s.last_error = None;
                None
            }
            Err(e) => {
                s.metrics.errors += 1;
                let new = s.last_error.as_ref() != Some(e);
                s.last_error = Some(e.clone());
                Some(e.clone()).filter(|_| new)
            }
        };
        drop(s);
        if let Some(e) = new_error {
            self.record("reconcile-failed", Severity::Warning, None, &e);
        }
        result
    }

    /// Loads the current input; a broken or empty one is an error.
    fn load_current(&mut self) -> Result<LastGood, String> {
        // Loading walks and hashes build contexts and reads files: blocking
        // work. On a multi-threaded runtime the worker hands its other tasks
        // (the status page, the event stream) to another thread meanwhile.
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let source = &mut self.source;
        let (loaded, revision) = if multi {
            tokio::task::block_in_place(|| source.load())?
        } else {
            source.load()?
        };
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        if loaded.state.resources.is_empty() {
            return Err("the desired set is empty; refusing to act on it".into());
        }
        Ok(LastGood::new(loaded, revision))
    }

    /// Converges on the current input; while it is broken or empty, keeps
    /// repairing drift against the last state that loaded and validated,
    /// without pruning and without anything new from the broken input.
    async fn reconcile(&mut self) -> Result<(), String> {
        let input_fine = self.status.lock().is_ok_and(|s| s.input_error.is_none());
        if !self.pass_kind.reload && input_fine && self.last_good.is_some() {
            // Drift on the engine: the files are as the last pass loaded them.
            return self.converge_on_last_good(self.config.plan.prune).await;
        }
        match self.load_current() {
            Ok(good) => {
                let was_broken = self.status.lock().is_ok_and(|s| s.input_error.is_some());
                self.record_last_good(good, None);
                if was_broken {
                    if let Some(n) = &self.notifier {
                        n.forget("input-broken", None);
                    }
                    let revision = self.good_revision().unwrap_or_default();
                    self.notify(
                        "input-recovered",
                        Severity::Info,
                        None,
                        format!("the desired state loads again ({revision})"),
                    );
                }
                self.converge_on_last_good(self.config.plan.prune).await
            }
            Err(broken) => {
                if self.last_good.is_none() {
                    if let Some(good) = self.recover_last_good().await {
                        self.record_last_good(good, Some(broken.clone()));
                    }
                }
                if let Ok(mut s) = self.status.lock() {
                    s.input_error = Some(broken.clone());
                }
                let Some(good) = &self.last_good else {
                    return Err(broken);
                };
                let message = format!(
                    "running on last good revision {} since {}; current input broken: {broken}",
                    good.revision, good.since
                );
                self.notify("input-broken", Severity::Warning, None, message.clone());
                self.converge_on_last_good(false).await?;
                Err(message)
            }
        }
    }

    /// Keeps `good` as the state to converge on, and says so in the status.
    fn record_last_good(&mut self, good: LastGood, input_error: Option<String>) {
        self.config.secrets.update(&good.loaded.inputs.secrets);
        if let Ok(mut s) = self.status.lock() {
            s.applied_revision = good.loaded.inputs.revision.clone();
            s.input_error = input_error;
            s.last_good = Some(good.status());
            s.metrics.last_good_since = Some(good.since_wall);
            let topology = crate::graph::Topology::from_state(&good.loaded.state);
            s.topology = Some(Arc::new(topology));
            s.scope = Some(Arc::new(scope_of(&self.config.project, &good.loaded)));
        }
        self.last_good = Some(good);
    }

    fn good_revision(&self) -> Option<String> {
        self.last_good.as_ref().map(|g| g.revision.clone())
    }

    /// Converges on the last good state (just loaded, or kept while the input is broken).
    async fn converge_on_last_good(&mut self, prune: bool) -> Result<(), String> {
        let Some(mut good) = self.last_good.take() else {
            return Ok(());
        };
        self.repairing_drift = self.converged_revision.as_deref() == Some(good.revision.as_str());
        let mut registry_next = None;
        if self.config.ask_registries {
            let r = self
                .registry
                .refresh(
                    &*self.engine,
                    &good.loaded.state,
                    &mut good.loaded.inputs,
                    Instant::now(),
                )
                .await;
            self.moved_images = r.moved;
            registry_next = r.next;
        }
        let result = self.converge_on(&good.loaded, prune).await;
        // Wake for the next registry ask, unless the plan wants a look sooner.
        self.requeue_after = match (self.requeue_after, registry_next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.report_moved_images(result.is_ok());
        if result.is_ok() {
            self.converged_revision = Some(good.revision.clone());
            if let Ok(mut s) = self.status.lock() {
                s.metrics.converged += 1;
            }
        }
        self.last_good = Some(good);
        result
    }

    /// After a restart with broken input: the newest revision the engine's
    /// objects were made from, loaded again from the source (a git commit in
    /// the cache). Objects keep the revision they were made from and a commit
    /// remakes only what it changes, so most objects carry an old revision:
    /// going back to the most common one rolled recent changes back (issue 22).
    async fn recover_last_good(&mut self) -> Option<LastGood> {
        let observed = self.engine.observe(&Default::default()).await.ok()?;
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        let labels = observed
            .containers
            .iter()
            .map(|c| &c.labels)
            .chain(observed.networks.iter().map(|n| &n.labels))
            .chain(observed.volumes.iter().map(|v| &v.labels));
        for l in labels {
            let ours = crate::observed::is_managed(l)
                && l.get(crate::labels::PROJECT) == Some(&self.config.project);
            if let Some(rev) = l.get(crate::labels::REVISION).filter(|_| ours) {
                *counts.entry(rev.as_str()).or_default() += 1;
            }
        }
        let mut recorded: Vec<(&str, usize)> = counts.into_iter().collect();
        // Most objects first: the order when the source cannot date revisions.
        recorded.sort_by_key(|r| std::cmp::Reverse(r.1));
        let recorded: Vec<String> = recorded.into_iter().map(|(r, _)| r.to_string()).collect();
        let revision = self
            .source
            .newest_first(&recorded)
            .unwrap_or(recorded)
            .into_iter()
            .next()?;
        match self.source.load_at(&revision) {
            Ok((loaded, rev)) if !loaded.state.resources.is_empty() => {
                tracing::warn!(
                    "recovered the last good revision {revision} from the engine's objects"
                );
                Some(LastGood::new(loaded, rev))
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!("cannot go back to revision {revision} recorded on the engine: {e}");
                None
            }
        }
    }

    async fn converge_on(&mut self, loaded: &Loaded, prune: bool) -> Result<(), String> {
        self.phase(Phase::Loaded);
        let mut options = ApplyOptions {
            plan: self.config.plan.clone(),
            timeout: self.config.timeout,
            ..ApplyOptions::default()
        };
        options.plan.prune = prune;
        // The loop never retries a failed rollout; only a new spec or `apply --retry-failed` does.
        options.plan.retry_failed = false;
        options.plan.prune_volumes &= prune;
        options.plan.hold = self.crash_loops.held_at(Instant::now());
        options.observe =
            if self.config.inspect_all || self.pass_kind.full_observe || !self.first_pass_done {
                crate::observe::Depth::Full
            } else {
                crate::observe::Depth::ListFirst
            };
        let builder = ImageBuilder {
            builds: &loaded.builds,
            project: &self.config.project,
            on_event: self.build_events,
        };
        let engine = &*self.engine;
        let ctx = loaded.apply_context(engine, self.files, &builder, self.progress, options);
        // Nothing to do (the idle case, and most event bursts): no lock and
        // no writes, so an idle loop does not wake itself with the lock
        // volume's events or cost the engine more than one look.
        let looked = Instant::now();
        self.pass_missing.clear();
        self.pass_outside.clear();
        let (p, observed) = ctx.plan_observed().await.map_err(|e| e.to_string())?;
        if let Some(report) = ctx
            .nothing_to_do(&p, observed, looked.elapsed())
            .await
            .map_err(|e| e.to_string())?
        {
            self.phase(Phase::Converged);
            return self.after_converge(loaded, report).await;
        }
        self.pass_outside =
            crate::plan::outside_changes(&p, |k, n| self.known.contains(&(k, n.to_string())));
        self.pass_missing = p
            .changes
            .iter()
            .filter(|c| c.reasons.iter().any(Reason::is_missing))
            .map(|c| (c.kind, c.name.clone()))
            .collect();
        // Why each change is made, for whoever reads the log after the fact
        // (the chaos soak could not tell why a stopped store was recreated).
        for c in &p.changes {
            let reasons: Vec<String> = c.reasons.iter().map(ToString::to_string).collect();
            tracing::info!(
                "plan: {} {}/{} ({})",
                c.action.as_str(),
                c.kind,
                c.name,
                reasons.join("; ")
            );
        }
        let lock = EngineLock::acquire(
            engine,
            &self.config.project,
            self.config.timeout * 2 + Duration::from_secs(60),
            false,
            |h| tracing::info!("waiting for the engine lock held by {h}..."),
        )
        .await
        .map_err(|e| e.to_string())?;
        self.phase(Phase::Locked);
        let result = converge(&ctx).await;
        if let Err(e) = lock.release(engine).await {
            tracing::warn!("could not release the engine lock: {e}");
        }
        self.phase(Phase::Converged);
        let report = result.map_err(|e| e.to_string())?;
        self.after_converge(loaded, report).await
    }

    /// Bookkeeping after a pass converged (or found nothing to do).
    async fn after_converge(&mut self, loaded: &Loaded, report: Report) -> Result<(), String> {
        self.requeue_after = report.requeue_after;
        if !report.outcomes.is_empty() {
            tracing::info!("pass: {} change(s)", report.outcomes.len());
        }
        self.account(&loaded.state, &report.outcomes);
        for h in &report.held {
            let resource = Some(format!("{}/{}", h.kind, h.name));
            self.notify("rollout-held", Severity::Warning, resource, h.summary());
        }
        self.report_intruders(&report.intruders);
        self.refresh_status(&loaded.state, &loaded.inputs, &report)
            .await;
        self.first_pass_done = true;
        let failure = report
            .failures()
            .next()
            .map(|(kind, name, o)| format!("{kind}/{name}: {}", describe(o)));
        failure.map_or(Ok(()), Err)
    }

    /// An unmanaged container on a guarded network is not ours to
    /// disconnect: say so once when it appears, and keep it in the status
    /// until it is gone.
    fn report_intruders(&self, now: &[crate::plan::Intruder]) {
        let before = self
            .status
            .lock()
            .map(|mut s| std::mem::replace(&mut s.intruders, now.to_vec()))
            .unwrap_or_default();
        for i in now.iter().filter(|i| !before.contains(i)) {
            let message = i.summary();
            tracing::error!("POLICY VIOLATION: {message}");
            if let Ok(mut s) = self.status.lock() {
                s.metrics.policy_violations += 1;
            }
            let resource = Some(format!(
                "Container/{}",
                desired_state::diagnostics::escape_controls(&i.container)
            ));
            self.notify("policy-violation", Severity::Critical, resource, message);
        }
    }

    async fn refresh_status(
        &self,
        desired: &DesiredState,
        inputs: &crate::render::Inputs,
        report: &Report,
    ) {
        // A converged pass already observed the engine; only a failed one needs a fresh look.
        let observed = match &report.converged {
            Some(o) => Some(o.clone()),
            None => self.engine.observe(&Default::default()).await.ok(),
        };
        let held = self.crash_loops.held_at(Instant::now());
        let acting_on = desired_state::active(desired, &self.config.plan.selector);
        let resources = resource_statuses(
            desired,
            &acting_on,
            inputs,
            observed.as_ref(),
            report,
            &held,
        );
        if let Ok(mut s) = self.status.lock() {
            s.resources = resources;
            s.held = report.held.clone();
        }
    }
}

/// Per-resource readiness from what the engine shows and how the pass went.
/// The engine objects a loaded state makes this loop's concern.
fn scope_of(project: &str, loaded: &Loaded) -> triggers::Scope {
    let names = |kind: Kind, name: &dyn Fn(&str) -> String| {
        loaded
            .state
            .resources
            .iter()
            .filter(|r| r.kind() == kind)
            .map(|r| name(r.name()))
            .collect()
    };
    let inputs = &loaded.inputs;
    triggers::Scope {
        project: project.to_string(),
        networks: names(Kind::Network, &|n| inputs.network_name(n)),
        volumes: names(Kind::Volume, &|n| inputs.volume_name(n)),
    }
}

/// Only the resources the loop acts on (`acting_on`: a service in a profile
/// nobody selected is declared but not wanted) have a readiness.
pub fn resource_statuses(
    desired: &DesiredState,
    acting_on: &BTreeSet<usize>,
    inputs: &crate::render::Inputs,
    observed: Option<&Observed>,
    report: &Report,
    held: &BTreeSet<String>,
) -> Vec<ResourceStatus> {
    let now = now_rfc3339();
    let mut failed: BTreeMap<&str, String> = report
        .failures()
        .map(|(_, n, o)| (n.as_str(), describe(o)))
        .collect();
    for h in &report.held {
        failed.insert(h.name.as_str(), h.summary());
    }
    desired
        .resources
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            acting_on.contains(i)
                && matches!(
                    r.kind(),
                    Kind::Service | Kind::Job | Kind::Network | Kind::Volume
                )
        })
        .map(|(_, r)| {
            let object = inputs.object_name(r.name());
            let container = observed.and_then(|o| o.container(&object));
            let present = match r.kind() {
                Kind::Network => {
                    let name = inputs.network_name(r.name());
                    observed.is_some_and(|o| o.network(&name).is_some())
                }
                Kind::Volume => {
                    let name = inputs.volume_name(r.name());
                    observed.is_some_and(|o| o.volume(&name).is_some())
                }
                Kind::Job => container
                    .is_some_and(|c| c.exit_code == Some(0) && c.state == Some(RunState::Exited)),
                _ => container.is_some_and(|c| {
                    c.state == Some(RunState::Running) && c.health != Some(Health::Unhealthy)
                }),
            };
            let state = if held.contains(r.name()) {
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
        .collect()
}

fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

#[cfg(test)]
mod tests;
