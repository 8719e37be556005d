//! `lucidctl logs NAME`: the container of a Service or Job of the desired
//! state, its output streamed as the engine sends it.

use super::{context, fail};
use crate::cli::LogsArgs;
use desired_state::diagnostics::escape_controls;
use desired_state::model::Kind;
use futures_util::StreamExt;
use reconcilers::engine::{EngineApi, LogOptions, LogStream};
use std::io::Write;
use std::process::ExitCode;

pub async fn run(args: LogsArgs) -> ExitCode {
    let loaded = match context::load(&args.source, &args.engine) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let workloads: Vec<&str> = loaded
        .state
        .resources
        .iter()
        .filter(|r| matches!(r.kind(), Kind::Service | Kind::Job))
        .map(|r| r.name())
        .collect();
    if !workloads.contains(&args.name.as_str()) {
        return fail(&format!(
            "no Service or Job named {:?} in the desired state\n  fix: use one of: {}",
            args.name,
            workloads.join(", ")
        ));
    }
    let engine = match context::connect(&args.engine).await {
        Ok(e) => e,
        Err(e) => return fail(&e),
    };
    let container = loaded.inputs.object_name(&args.name);
    let options = LogOptions {
        follow: args.follow,
        since_seconds: args.since.map(|d| d.as_secs()),
        tail: args.tail,
        timestamps: args.timestamps,
    };
    let mut stream = engine.logs(&container, &options);
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => {
                // Container output is input too: no raw escapes to the terminal.
                let text = escape_controls(&String::from_utf8_lossy(&chunk.bytes));
                let written = match chunk.stream {
                    LogStream::Stdout => std::io::stdout().lock().write_all(text.as_bytes()),
                    LogStream::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
                };
                if written.is_err() {
                    // The reader went away (`| head`): done, not an error.
                    return ExitCode::SUCCESS;
                }
            }
            Err(e) => return fail(&context::engine_error(&e)),
        }
    }
    ExitCode::SUCCESS
}
