//! Keeps an SSH engine link alive. `Session::check` stays Ok through a
//! silent drop, so the health check is an engine ping through the tunnel.
//! A failed ping rebuilds the link onto the same local socket, with
//! exponential backoff; engine clients just see calls fail, then work again.

use crate::remote::SshLink;
use backon::{BackoffBuilder, ExponentialBuilder};
use bollard::Docker;
use std::sync::Weak;
use std::time::{Duration, Instant};

const PING_EVERY: Duration = Duration::from_secs(2);
const PING_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) fn spawn(docker: Docker, link: Weak<SshLink>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PING_EVERY).await;
            if link.strong_count() == 0 {
                return;
            }
            if alive(&docker).await {
                continue;
            }
            let down_at = Instant::now();
            let Some(target) = link.upgrade().map(|l| l.target().to_string()) else {
                return;
            };
            tracing::warn!("ssh: the engine at {target} stopped answering; reconnecting");
            let mut backoff = ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(250))
                .with_max_delay(Duration::from_secs(10))
                .with_jitter()
                .without_max_times()
                .build();
            loop {
                let Some(l) = link.upgrade() else { return };
                match l.rebuild().await {
                    Ok(()) if alive(&docker).await => {
                        tracing::info!(
                            "ssh: reconnected to {target} after {:.1}s",
                            down_at.elapsed().as_secs_f64()
                        );
                        break;
                    }
                    Ok(()) => {}
                    Err(e) => tracing::warn!("ssh: reconnect failed: {e}"),
                }
                drop(l);
                tokio::time::sleep(backoff.next().unwrap_or(Duration::from_secs(10))).await;
            }
        }
    });
}

async fn alive(docker: &Docker) -> bool {
    matches!(
        tokio::time::timeout(PING_TIMEOUT, docker.ping()).await,
        Ok(Ok(_))
    )
}
