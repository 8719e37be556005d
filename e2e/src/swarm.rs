//! A one-node swarm for one test, always left again (even on failure).
//! Swarm mode is engine-wide, so every swarm test takes a process-wide
//! mutex and a file lock (/tmp/lucid-e2e-swarm.lock) against other test
//! processes, and refuses an engine already in a swarm it did not make.

use crate::{docker_ok, try_run, DOCKER_TIMEOUT};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub struct Swarm {
    /// Task containers whose names start with this are removed on drop.
    prefix: String,
    _file: std::fs::File,
    _guard: MutexGuard<'static, ()>,
}

impl Swarm {
    /// Waits for the swarm lock, then `docker swarm init` on loopback.
    pub fn init(prefix: &str) -> Swarm {
        static LOCK: Mutex<()> = Mutex::new(());
        let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(std::env::temp_dir().join("lucid-e2e-swarm.lock"))
            .expect("open the swarm lock file");
        file.lock().expect("take the swarm lock");
        let state = docker_ok(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
        assert_eq!(
            state, "inactive",
            "the engine is already in a swarm this test did not make; refusing to touch it"
        );
        let swarm = Swarm {
            prefix: prefix.to_string(),
            _file: file,
            _guard: guard,
        };
        // From here on, Drop leaves the swarm whatever happens.
        docker_ok(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        swarm
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            let mut cmd = Command::new("docker");
            cmd.args(args);
            try_run(cmd, DOCKER_TIMEOUT)
        };
        let _ = quiet(&["swarm", "leave", "--force"]);
        // Task containers a job or a removed service left behind.
        if let Ok(out) = quiet(&[
            "ps",
            "-a",
            "--filter",
            "label=com.docker.swarm.service.name",
            "--format",
            "{{.Names}}",
        ]) {
            for name in out.stdout.lines().filter(|n| n.starts_with(&self.prefix)) {
                let _ = quiet(&["rm", "-f", name]);
            }
        }
        // `swarm leave` keeps the bridge it made; it can take a moment to free.
        // Engine 20.10 sometimes leaks an endpoint on it ("has active
        // endpoints" with no container attached, moby#43286): only a daemon
        // restart clears that, so it is reported, never a failure. A later
        // `swarm init` reuses the bridge.
        let mut removed = false;
        for _ in 0..60 {
            match quiet(&["network", "rm", "docker_gwbridge"]) {
                Ok(o) if o.success() || o.stderr.contains("not found") => {
                    removed = true;
                    break;
                }
                _ => std::thread::sleep(Duration::from_millis(500)),
            }
        }
        if !removed {
            eprintln!("warning: docker_gwbridge could not be removed (leaked endpoint, moby#43286); a daemon restart clears it");
        }
    }
}
