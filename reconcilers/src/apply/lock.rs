//! An engine-side lock, so two lucidctl processes against one engine do not
//! fight. Volume creation by name is atomic in the engine: creating an
//! existing volume returns it unchanged, so whoever's holder label sticks owns
//! the lock. A lease lets a crashed holder's lock be broken.

use crate::engine::{Engine, EngineError};
use crate::labels;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const HOLDER: &str = "io.lucidctl.lock-holder";
const EXPIRES: &str = "io.lucidctl.lock-expires";
pub const LOCK_KIND: &str = "Lock";

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
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub fn lock_name(project: &str) -> String {
    format!("lucidctl-lock-{project}")
}

impl EngineLock {
    /// Takes the lock, waiting (with one message) unless `no_wait`.
    pub async fn acquire(engine: &Engine, project: &str, lease: Duration, no_wait: bool, on_wait: impl Fn(&str)) -> Result<EngineLock, LockError> {
        let volume = lock_name(project);
        let me = format!(
            "{}:{}:{:x}",
            std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "host".into()),
            std::process::id(),
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
        );
        let mut told = false;
        loop {
            let mut l = BTreeMap::new();
            l.insert(labels::MANAGED_BY.to_string(), labels::MANAGED_BY_VALUE.to_string());
            l.insert(labels::PROJECT.to_string(), project.to_string());
            l.insert(labels::KIND.to_string(), LOCK_KIND.to_string());
            l.insert(HOLDER.to_string(), me.clone());
            l.insert(EXPIRES.to_string(), (now() + lease.as_secs()).to_string());
            engine.create_volume(&volume, &l, None).await?;
            let have = engine.volume_labels(&volume).await?.unwrap_or_default();
            let holder = have.get(HOLDER).cloned().unwrap_or_default();
            if holder == me {
                return Ok(EngineLock { volume });
            }
            let expires: u64 = have.get(EXPIRES).and_then(|e| e.parse().ok()).unwrap_or(0);
            if expires < now() {
                engine.remove_volume(&volume).await?;
                continue;
            }
            if no_wait {
                return Err(LockError::Held { project: project.to_string(), holder });
            }
            if !told {
                on_wait(&holder);
                told = true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn release(self, engine: &Engine) -> Result<(), EngineError> {
        engine.remove_volume(&self.volume).await
    }
}
