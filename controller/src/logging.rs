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
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::terminal::stderr_line)
        .with_target(false);
    let done = match (format, timestamps) {
        (LogFormat::Json, _) => builder.json().flatten_event(true).try_init(),
        (LogFormat::Text, true) => builder.try_init(),
        (LogFormat::Text, false) => builder.without_time().with_level(false).try_init(),
    };
    // A second init (tests calling in) keeps the first subscriber.
    let _ = done;
}
