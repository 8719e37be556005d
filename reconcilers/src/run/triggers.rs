//! What wakes the loop. Triggers only wake it: every pass observes
//! everything again, so a lost event costs latency, never correctness. No
//! trigger is ever discarded: one that arrives while a pass runs is still in
//! the queue when the pass ends, and schedules exactly one more pass.

use crate::engine::{EngineApi, EngineEvent, EventObject};
use crate::labels;
use futures_util::StreamExt;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Start,
    Resync,
    Files,
    /// An engine event worth a look: "die lucid-redis".
    Engine(String),
    /// The engine answers again after a disconnection.
    Reconnected,
    Git,
    /// The error policy's requeue after a failed pass.
    Retry,
    Shutdown,
}

/// Cloned into every producer.
#[derive(Clone)]
pub struct TriggerSender(mpsc::Sender<Trigger>);

impl TriggerSender {
    /// Waits for room; false once the loop has stopped.
    pub async fn send(&self, t: Trigger) -> bool {
        self.0.send(t).await.is_ok()
    }

    /// For callbacks that cannot wait (file watchers). A full queue already
    /// holds a pass to come, so nothing is lost by not adding to it.
    pub fn try_send(&self, t: Trigger) {
        let _ = self.0.try_send(t);
    }
}

pub struct TriggerQueue(mpsc::Receiver<Trigger>);

pub fn channel() -> (TriggerSender, TriggerQueue) {
    let (tx, rx) = mpsc::channel(1024);
    (TriggerSender(tx), TriggerQueue(rx))
}

impl TriggerQueue {
    /// The next batch: waits for one trigger, lets a burst arrive (`docker
    /// rm -f` sends kill, die and destroy within about 100 ms, and acting
    /// between them races the removal), then takes everything queued.
    /// The burst is over at its last event (`destroy` after a removal,
    /// `stop` after a stop), after QUIET without a trigger, or after
    /// `debounce` at most. None when every sender is gone.
    pub async fn next_batch(&mut self, debounce: Duration) -> Option<Vec<Trigger>> {
        let first = self.0.recv().await?;
        let deadline = tokio::time::Instant::now() + debounce;
        let mut batch = vec![first];
        while !batch.iter().any(ends_burst) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            match tokio::time::timeout(left.min(QUIET), self.0.recv()).await {
                Ok(Some(t)) => batch.push(t),
                Ok(None) | Err(_) => break,
            }
        }
        while let Ok(t) = self.0.try_recv() {
            batch.push(t);
        }
        Some(batch)
    }
}

/// A burst still arriving is quiet for less than this between its events
/// (kill to die to destroy of a `docker rm -f` are a few ms to tens of ms apart).
const QUIET: Duration = Duration::from_millis(60);

/// The last event of a burst on a container: nothing more will follow it.
fn ends_burst(t: &Trigger) -> bool {
    matches!(t, Trigger::Engine(what) if what.starts_with("destroy ") || what.starts_with("stop "))
}

/// The engine objects one loop answers for: its project's containers (by
/// label) and the networks and volumes its desired state names. Events on
/// anything else (another project on the same engine, a test beside it) must
/// not wake it, or a busy neighbour keeps it in back-to-back passes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub project: String,
    pub networks: BTreeSet<String>,
    pub volumes: BTreeSet<String>,
}

/// Whether an engine event can mean drift on lucidctl's objects. Before the
/// first state has loaded there is no scope, and every managed object counts.
pub fn wakes(ev: &EngineEvent, scope: Option<&Scope>) -> bool {
    let relevant = match ev.object {
        EventObject::Container => {
            ev.attributes.contains_key(labels::MANAGED_BY)
                && scope.is_none_or(|s| ev.attributes.get(labels::PROJECT) == Some(&s.project))
        }
        // The loop's own lock volume comes and goes with every pass.
        EventObject::Volume => {
            !ev.name.starts_with("lucidctl-lock-")
                && scope.is_none_or(|s| s.volumes.contains(&ev.name))
        }
        // A hand `network connect` of an unmanaged container names our network.
        EventObject::Network => scope.is_none_or(|s| s.networks.contains(&ev.name)),
        _ => false,
    };
    // The engine filters by these too; a fake engine or an older one may not.
    relevant
        && crate::engine::DRIFT_ACTIONS
            .iter()
            .any(|a| ev.action.starts_with(a))
}

pub fn spawn_interval(tx: TriggerSender, every: Duration, trigger: Trigger) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            if !tx.send(trigger.clone()).await {
                return;
            }
        }
    });
}

/// Engine events on lucidctl's objects wake the loop. When the stream breaks
/// (engine restart, dropped connection) it is reopened with backoff, and a
/// pass runs once it is back, since events may have been missed.
pub fn spawn_engine_events(
    engine: Arc<dyn EngineApi>,
    tx: TriggerSender,
    status: Arc<Mutex<super::Status>>,
) {
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(250);
        loop {
            let mut stream = engine.events();
            let mut healthy = false;
            while let Some(item) = stream.next().await {
                let Ok(ev) = item else { break };
                if !healthy {
                    healthy = true;
                    delay = Duration::from_millis(250);
                }
                let scope = status.lock().ok().and_then(|s| s.scope.clone());
                if wakes(&ev, scope.as_deref())
                    && !tx
                        .send(Trigger::Engine(format!("{} {}", ev.action, ev.name)))
                        .await
                {
                    return;
                }
            }
            if let Ok(mut s) = status.lock() {
                s.disconnected_since
                    .get_or_insert_with(super::status::now_rfc3339);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
            if engine.ping().await.is_ok() {
                if let Ok(mut s) = status.lock() {
                    s.disconnected_since = None;
                }
                if !tx.send(Trigger::Reconnected).await {
                    return;
                }
            }
        }
    });
}

/// Watches the directories holding `paths` (editors save by rename, so
/// watching files alone misses saves). Keep the watcher alive while it should watch.
pub fn watch_files(
    paths: &[std::path::PathBuf],
    recursive: bool,
    tx: TriggerSender,
) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            if !ev.kind.is_access() {
                tx.try_send(Trigger::Files);
            }
        }
    })
    .map_err(|e| tracing::warn!("file watching is off: {e}"))
    .ok()?;
    for p in paths {
        let dir = if p.is_dir() {
            p.clone()
        } else {
            p.parent().map(|d| d.to_path_buf()).unwrap_or_default()
        };
        let mode = if recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        if let Err(e) = watcher.watch(&dir, mode) {
            tracing::warn!("cannot watch {}: {e}", dir.display());
        }
    }
    Some(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn event(object: EventObject, action: &str, name: &str, managed: bool) -> EngineEvent {
        let mut attributes = BTreeMap::new();
        if managed {
            attributes.insert(labels::MANAGED_BY.to_string(), "lucidctl".to_string());
            attributes.insert(labels::PROJECT.to_string(), "lucid".to_string());
        }
        EngineEvent {
            object,
            action: action.into(),
            name: name.into(),
            attributes,
            time_nano: 0,
        }
    }

    fn wakes_unscoped(ev: &EngineEvent) -> bool {
        wakes(ev, None)
    }

    #[test]
    fn events_of_another_project_or_of_undeclared_objects_do_not_wake_the_loop() {
        let scope = Scope {
            project: "lucid".into(),
            networks: BTreeSet::from(["lucid-net".to_string()]),
            volumes: BTreeSet::from(["lucid-data".to_string()]),
        };
        let ours = event(EventObject::Container, "die", "web", true);
        assert!(wakes(&ours, Some(&scope)));
        let mut theirs = ours.clone();
        theirs
            .attributes
            .insert(labels::PROJECT.to_string(), "other".to_string());
        assert!(!wakes(&theirs, Some(&scope)), "another project's container");
        let connect = |net: &str| event(EventObject::Network, "connect", net, false);
        assert!(
            wakes(&connect("lucid-net"), Some(&scope)),
            "a hand connect to our network"
        );
        assert!(!wakes(&connect("other-net"), Some(&scope)));
        let destroy = |v: &str| event(EventObject::Volume, "destroy", v, false);
        assert!(wakes(&destroy("lucid-data"), Some(&scope)));
        assert!(!wakes(&destroy("other-data"), Some(&scope)));
        assert!(
            wakes_unscoped(&theirs),
            "before a state loads, any managed container counts"
        );
    }

    #[test]
    fn only_drift_on_our_objects_wakes_the_loop() {
        assert!(wakes_unscoped(&event(
            EventObject::Container,
            "die",
            "web",
            true
        )));
        assert!(wakes_unscoped(&event(
            EventObject::Container,
            "health_status: unhealthy",
            "web",
            true
        )));
        assert!(!wakes_unscoped(&event(
            EventObject::Container,
            "die",
            "theirs",
            false
        )));
        assert!(!wakes_unscoped(&event(
            EventObject::Container,
            "exec_start: probe",
            "web",
            true
        )));
        assert!(!wakes_unscoped(&event(
            EventObject::Container,
            "start",
            "web",
            true
        )));
        assert!(wakes_unscoped(&event(
            EventObject::Network,
            "disconnect",
            "net",
            false
        )));
        assert!(!wakes_unscoped(&event(
            EventObject::Volume,
            "destroy",
            "lucidctl-lock-lucid",
            false
        )));
        assert!(wakes_unscoped(&event(
            EventObject::Volume,
            "destroy",
            "lucid-mongodb-data",
            false
        )));
        assert!(!wakes_unscoped(&event(
            EventObject::Image,
            "delete",
            "x",
            false
        )));
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_ends_at_its_last_event_or_when_it_goes_quiet() {
        let (tx, mut q) = channel();
        let debounce = Duration::from_millis(500);
        // A removal: kill, die, destroy; the batch ends at destroy, long before the debounce.
        let started = tokio::time::Instant::now();
        let sender = tx.clone();
        tokio::spawn(async move {
            for (at, what) in [(0, "kill web"), (20, "die web"), (40, "destroy web")] {
                tokio::time::sleep(Duration::from_millis(at)).await;
                sender.send(Trigger::Engine(what.into())).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            sender.send(Trigger::Engine("die api".into())).await;
        });
        let batch = q.next_batch(debounce).await.expect("a batch");
        assert_eq!(batch.len(), 3, "{batch:?}");
        assert!(started.elapsed() < Duration::from_millis(100));
        // A lone die: the batch waits out QUIET, not the debounce.
        let batch = q.next_batch(debounce).await.expect("a batch");
        assert_eq!(batch, vec![Trigger::Engine("die api".into())]);
        assert!(started.elapsed() < Duration::from_millis(300));
        // A steady stream is cut at the debounce.
        let sender = tx.clone();
        tokio::spawn(async move {
            for _ in 0..100 {
                sender.send(Trigger::Engine("die web".into())).await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let before = tokio::time::Instant::now();
        let batch = q.next_batch(debounce).await.expect("a batch");
        assert!(batch.len() < 100);
        assert!(before.elapsed() <= debounce + Duration::from_millis(20));
    }

    #[tokio::test]
    async fn a_batch_takes_everything_queued_and_leaves_later_triggers_queued() {
        let (tx, mut q) = channel();
        tx.send(Trigger::Files).await;
        tx.send(Trigger::Engine("die web".into())).await;
        let batch = q
            .next_batch(Duration::from_millis(1))
            .await
            .expect("a batch");
        assert_eq!(
            batch,
            vec![Trigger::Files, Trigger::Engine("die web".into())]
        );
        // One that arrives "during the pass" is the next batch, never lost.
        tx.send(Trigger::Git).await;
        let next = q
            .next_batch(Duration::from_millis(1))
            .await
            .expect("a batch");
        assert_eq!(next, vec![Trigger::Git]);
    }
}
