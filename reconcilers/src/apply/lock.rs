//! An engine-side lock, so two lucidctl processes against one engine do not
//! fight. Volume creation by name is atomic in the engine: creating an
//! existing volume returns it unchanged, so whoever's holder label sticks owns
//! the lock. A lease lets a crashed holder's lock be broken.

use crate::engine::{EngineApi, EngineError};
use crate::labels;
use crate::render::VolumePlanSpec;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const HOLDER: &str = "io.lucidctl.lock-holder";
const EXPIRES: &str = "io.lucidctl.lock-expires";
pub const LOCK_KIND: &str = "Lock";
/// How long a broken lock's dead holder gets for its last engine calls to land.
const SETTLE_AFTER_BREAK: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another lucidctl ({holder}) is applying to project {project}; retry later, or drop --no-wait to wait for it")]
    Held { project: String, holder: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

pub struct EngineLock {
    volume: String,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// A holder (`host:pid:nonce`) on this host whose process no longer exists was
/// killed or crashed: it cannot be applying, so its lock need not wait out the
/// lease. Without /proc the answer is unknown, and the lease decides.
fn holder_is_gone(holder: &str, host: Option<&str>) -> bool {
    let mut parts = holder.split(':');
    let (Some(h), Some(pid)) = (
        parts.next(),
        parts.next().and_then(|p| p.parse::<u32>().ok()),
    ) else {
        return false;
    };
    Some(h) == host
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// A lock of this very process is left over from an earlier pass whose
/// release failed (the link dropped mid-pass); passes never overlap.
fn holder_is_this_process(holder: &str, host: Option<&str>) -> bool {
    let mut parts = holder.split(':');
    parts.next() == Some(host.unwrap_or("host"))
        && parts.next() == Some(std::process::id().to_string().as_str())
}

pub fn lock_name(project: &str) -> String {
    format!("lucidctl-lock-{project}")
}

impl EngineLock {
    /// Takes the lock, waiting (with one message) unless `no_wait`.
    pub async fn acquire(
        engine: &dyn EngineApi,
        project: &str,
        lease: Duration,
        no_wait: bool,
        on_wait: impl Fn(&str),
    ) -> Result<EngineLock, LockError> {
        let volume = lock_name(project);
        let host = hostname();
        let me = format!(
            "{}:{}:{:x}",
            host.as_deref().unwrap_or("host"),
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let mut told = false;
        loop {
            let mut l = labels::ownership(project, LOCK_KIND, None);
            l.insert(HOLDER.to_string(), me.clone());
            l.insert(EXPIRES.to_string(), (now() + lease.as_secs()).to_string());
            engine
                .create_volume(&VolumePlanSpec {
                    name: volume.clone(),
                    labels: l,
                    ..VolumePlanSpec::default()
                })
                .await?;
            let have = engine.volume_labels(&volume).await?.unwrap_or_default();
            let holder = have.get(HOLDER).cloned().unwrap_or_default();
            if holder == me {
                return Ok(EngineLock { volume });
            }
            let expires: u64 = have.get(EXPIRES).and_then(|e| e.parse().ok()).unwrap_or(0);
            if expires < now()
                || holder_is_gone(&holder, host.as_deref())
                || holder_is_this_process(&holder, host.as_deref())
            {
                // Re-read just before breaking it, so a lock another waiter has
                // just taken is not the one removed. A lock volume without a
                // holder label (its labels were lost: the engine went down while
                // creating it) compares as "" and is broken too.
                let again = engine.volume_labels(&volume).await?.unwrap_or_default();
                if again.get(HOLDER).cloned().unwrap_or_default() == holder {
                    engine.remove_volume(&volume).await?;
                    // A holder killed a moment ago can still have a create running
                    // in the daemon; acting before it lands would make a second
                    // object of the same name (Docker 20.10 allows two networks).
                    tokio::time::sleep(SETTLE_AFTER_BREAK).await;
                    continue;
                }
                // Someone else took it meanwhile: look again, without spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            if no_wait {
                return Err(LockError::Held {
                    project: project.to_string(),
                    holder,
                });
            }
            if !told {
                on_wait(&holder);
                told = true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn release(self, engine: &dyn EngineApi) -> Result<(), EngineError> {
        engine.remove_volume(&self.volume).await
    }
}

#[cfg(test)]
mod tests {
    use super::{holder_is_gone, holder_is_this_process, lock_name, EngineLock};
    use crate::engine::EngineApi;
    use crate::render::VolumePlanSpec;
    use crate::testing::FakeEngine;
    use std::time::Duration;

    #[test]
    fn a_lock_volume_whose_labels_were_lost_is_broken_not_spun_on() {
        // The engine went down while creating the lock: the volume exists, its labels do not.
        let probe = FakeEngine::new();
        let (done, finished) = std::sync::mpsc::channel();
        // A thread of its own: the old loop spun without ever yielding, so no
        // timer inside its runtime could have stopped it.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            let taken = rt.block_on(async {
                probe
                    .create_volume(&VolumePlanSpec {
                        name: lock_name("p"),
                        ..VolumePlanSpec::default()
                    })
                    .await
                    .unwrap();
                EngineLock::acquire(&probe, "p", Duration::from_secs(60), true, |_| {})
                    .await
                    .map_err(|e| e.to_string())?;
                probe
                    .volume_labels(&lock_name("p"))
                    .await
                    .map_err(|e| e.to_string())
            });
            let _ = done.send(taken);
        });
        let labels = finished
            .recv_timeout(Duration::from_secs(10))
            .expect("acquire returns instead of spinning on the unlabelled volume")
            .expect("acquire takes the lock")
            .unwrap_or_default();
        assert!(
            labels.contains_key(super::HOLDER),
            "the lock is ours now: {labels:?}"
        );
    }

    #[test]
    fn a_lock_left_by_an_earlier_pass_of_this_process_is_stale() {
        let me = std::process::id();
        assert!(holder_is_this_process(&format!("pi:{me}:1f"), Some("pi")));
        assert!(!holder_is_this_process(
            &format!("pi:{}:1f", me + 1),
            Some("pi")
        ));
        assert!(!holder_is_this_process(
            &format!("other:{me}:1f"),
            Some("pi")
        ));
    }

    #[test]
    fn only_a_dead_process_on_this_host_gives_up_its_lock() {
        let me = std::process::id();
        assert!(
            !holder_is_gone(&format!("pi:{me}:1f"), Some("pi")),
            "a live holder keeps the lock"
        );
        // Above the kernel's largest pid_max (2^22), so no such process exists.
        assert!(
            holder_is_gone("pi:4194305:1f", Some("pi")),
            "a dead holder on this host does not"
        );
        assert!(
            !holder_is_gone("other:4194305:1f", Some("pi")),
            "another host's holder waits for its lease"
        );
        assert!(
            !holder_is_gone("pi:4194305:1f", None),
            "an unknown hostname proves nothing"
        );
        assert!(
            !holder_is_gone("", Some("pi")),
            "a missing holder label is left to the lease"
        );
    }
}
