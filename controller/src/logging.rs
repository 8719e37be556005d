//! Where the libraries' `tracing` events go: stderr, as plain lines or as
//! JSON objects (`run --log-format json`, for a log shipper). `RUST_LOG`
//! overrides the default level (info).

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub fn init(format: LogFormat, timestamps: bool) {
    use tracing_subscriber::prelude::*;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(crate::terminal::stderr_line)
        .with_target(false);
    let layer = match (format, timestamps) {
        (LogFormat::Json, _) => layer.json().flatten_event(true).boxed(),
        (LogFormat::Text, true) => layer.boxed(),
        (LogFormat::Text, false) => layer.without_time().with_level(false).boxed(),
    };
    // A second init (tests calling in) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(
            layer
                .with_filter(filter)
                .with_filter(tracing_subscriber::filter::filter_fn(|m| {
                    !carries_bodies(m.target(), *m.level())
                })),
        )
        .try_init();
}

/// The engine client and its HTTP stack log whole request and response
/// bodies at debug and trace, and a container's create body and inspect
/// answer hold its env: secret values. Those targets stay at info, whatever
/// RUST_LOG says; lucidctl's own debug lines say what each operation does.
fn carries_bodies(target: &str, level: tracing::Level) -> bool {
    const CLIENTS: [&str; 4] = ["bollard", "hyper", "hyper_util", "h2"];
    let crate_name = target.split("::").next().unwrap_or(target);
    level > tracing::Level::INFO && CLIENTS.contains(&crate_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_client_bodies_are_never_logged() {
        use tracing::Level;
        assert!(carries_bodies("bollard::docker", Level::TRACE));
        assert!(carries_bodies("bollard", Level::DEBUG));
        assert!(carries_bodies("hyper_util::client", Level::DEBUG));
        assert!(!carries_bodies("bollard::docker", Level::WARN));
        assert!(!carries_bodies("reconcilers::exec", Level::TRACE));
        assert!(!carries_bodies("bollardish", Level::TRACE));
    }
}
