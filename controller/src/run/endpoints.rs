//! What `run --listen` serves, from the flags: the read token, the git
//! webhook, and a warning when the address is reachable from elsewhere
//! without a token.

use crate::cli::RunArgs;
use reconcilers::run::{Endpoints, GitHook, SecretWatch, Status, TriggerSender};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub fn endpoints(
    args: &RunArgs,
    bound: SocketAddr,
    status: Arc<Mutex<Status>>,
    triggers: TriggerSender,
    secrets: &SecretWatch,
) -> Result<Endpoints, String> {
    let read_token = match &args.listen_token {
        Some(source) => Some(
            secrets
                .watch(source)
                .map_err(|e| format!("--listen-token {e}"))?,
        ),
        None => None,
    };
    let git_hook = match &args.webhook_secret {
        Some(source) => Some(Arc::new(GitHook {
            secret: secrets
                .watch(source)
                .map_err(|e| format!("--webhook-secret {e}"))?,
            branch: args.branch.clone(),
        })),
        None => None,
    };
    if let Some(warning) = exposure_warning(bound, read_token.is_some()) {
        tracing::warn!("{warning}");
    }
    Ok(Endpoints {
        git_hook,
        triggers: Some(triggers),
        read_token,
        ..Endpoints::new(status)
    })
}

/// Said when the status endpoints answer anyone who can reach the address.
pub fn exposure_warning(bound: SocketAddr, has_token: bool) -> Option<String> {
    (!bound.ip().is_loopback() && !has_token).then(|| {
        format!(
            "listening on {bound} without --listen-token: anyone who can reach it reads /status and /metrics (resource names, errors, revisions); set --listen-token or bind 127.0.0.1"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::exposure_warning;

    #[test]
    fn only_a_reachable_address_without_a_token_is_warned_about() {
        let at = |s: &str| s.parse().unwrap();
        assert!(exposure_warning(at("0.0.0.0:9797"), false).is_some());
        assert!(exposure_warning(at("192.168.1.5:9797"), false).is_some());
        assert!(exposure_warning(at("0.0.0.0:9797"), true).is_none());
        assert!(exposure_warning(at("127.0.0.1:9797"), false).is_none());
        assert!(exposure_warning(at("[::1]:9797"), false).is_none());
    }
}
