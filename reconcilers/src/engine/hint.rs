//! What a person can do about an engine error: the next step to take, and
//! the whole chain of causes for `--verbose`. The engine's own words are
//! often the outermost layer ("client error (Connect)"); the cause that says
//! what is wrong ("Connection refused") is at the bottom of the chain.

use super::EngineError;

/// Every message of an error's chain, outermost first, repeats removed
/// (wrappers often repeat their source's text).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !text.is_empty() && out.last() != Some(&text) {
            out.push(text);
        }
        next = err.source();
    }
    out
}

impl EngineError {
    /// The next step to take, when there is one worth saying.
    pub fn hint(&self) -> Option<String> {
        match self {
            EngineError::Unreachable { host, cause, .. } => Some(unreachable_hint(host, cause)),
            EngineError::ConnectionLost { .. } => Some(
                "the engine stopped answering: check that the daemon is still running (`docker info` on the engine host), then run the command again; nothing is lost, the next run finishes what this one left".into(),
            ),
            EngineError::BadHost { .. } => Some(
                "use unix:///path/to/docker.sock, tcp://host:port or ssh://user@host[:port] in -H or DOCKER_HOST".into(),
            ),
            EngineError::Api { message, .. } if message.contains("no space left") => Some(
                "the engine host's disk is full: free space (`docker system df`, `docker builder prune`) and run again".into(),
            ),
            _ => None,
        }
    }

    /// The causes under the message, outermost first, for `--verbose`.
    pub fn causes(&self) -> Vec<String> {
        match self {
            EngineError::Unreachable { chain, .. } => chain.clone(),
            _ => Vec::new(),
        }
    }
}

fn unreachable_hint(host: &str, cause: &str) -> String {
    let lower = cause.to_lowercase();
    let socket = host.strip_prefix("unix://");
    if lower.contains("permission denied") {
        return match socket {
            Some(path) => format!(
                "this user may not use {path}: add it to the docker group (`sudo usermod -aG docker $USER`, then log in again) or run as root"
            ),
            None => "the engine refused this user: check the credentials for it".into(),
        };
    }
    if let Some(path) = socket {
        return format!(
            "is the Docker daemon running? Check with `systemctl status docker` or `docker -H unix://{path} info`; if it listens elsewhere, pass -H or set DOCKER_HOST"
        );
    }
    if lower.contains("refused") {
        return format!(
            "nothing accepts connections at {host}: check the address and that dockerd listens there (`ss -ltnp` on the engine host)"
        );
    }
    if lower.contains("timed out") || lower.contains("timeout") {
        return format!("{host} did not answer in time: check the network path and any firewall");
    }
    "check the address in -H or DOCKER_HOST and that the daemon runs there (`lucidctl doctor` checks the host)".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable(host: &str, cause: &str) -> EngineError {
        EngineError::Unreachable {
            host: host.into(),
            cause: cause.into(),
            chain: vec![cause.into()],
        }
    }

    #[test]
    fn permission_denied_on_the_socket_points_at_the_docker_group() {
        let hint = unreachable(
            "unix:///var/run/docker.sock",
            "Permission denied (os error 13)",
        )
        .hint()
        .unwrap();
        assert!(hint.contains("docker group"), "{hint}");
        assert!(hint.contains("/var/run/docker.sock"), "{hint}");
    }

    #[test]
    fn a_missing_socket_says_how_to_check_the_daemon() {
        let hint = unreachable(
            "unix:///run/docker.sock",
            "Socket not found: /run/docker.sock",
        )
        .hint()
        .unwrap();
        assert!(hint.contains("systemctl status docker"), "{hint}");
        assert!(hint.contains("DOCKER_HOST"), "{hint}");
    }

    #[test]
    fn a_refused_tcp_connection_names_the_address() {
        let hint = unreachable("tcp://10.0.0.5:2375", "Connection refused (os error 111)")
            .hint()
            .unwrap();
        assert!(hint.contains("tcp://10.0.0.5:2375"), "{hint}");
    }

    #[test]
    fn an_answer_the_engine_gave_has_no_made_up_hint() {
        let e = EngineError::Conflict {
            what: "create container web".into(),
            message: "name in use".into(),
        };
        assert_eq!(e.hint(), None);
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_chain_runs_outermost_first_down_to_the_root_cause() {
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused",
        ));
        assert_eq!(chain(&e), vec!["outer", "Connection refused"]);
    }
}
