//! `lucidctl logs`: a container's output through the same engine
//! connection as everything else, so it works over ssh:// too.

use super::{Engine, EngineError};
use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub follow: bool,
    /// Only output newer than this many seconds ago.
    pub since_seconds: Option<u64>,
    /// Only the last N lines (before following).
    pub tail: Option<u64>,
    pub timestamps: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// A piece of output as the engine sent it (a line, or part of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    pub stream: LogStream,
    pub bytes: Bytes,
}

impl Engine {
    pub fn container_logs(
        &self,
        name: &str,
        options: &LogOptions,
    ) -> BoxStream<'static, Result<LogChunk, EngineError>> {
        let since = options.since_seconds.map_or(0, |s| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            i32::try_from(now.saturating_sub(s)).unwrap_or(i32::MAX)
        });
        let query = bollard::query_parameters::LogsOptions {
            follow: options.follow,
            stdout: true,
            stderr: true,
            since,
            until: 0,
            timestamps: options.timestamps,
            tail: options
                .tail
                .map_or_else(|| "all".to_string(), |n| n.to_string()),
        };
        let what = format!("logs of {name}");
        self.docker
            .logs(name, Some(query))
            .map(move |item| {
                use bollard::container::LogOutput;
                match item {
                    Ok(LogOutput::StdErr { message }) => Ok(LogChunk {
                        stream: LogStream::Stderr,
                        bytes: message,
                    }),
                    Ok(
                        LogOutput::StdOut { message }
                        | LogOutput::Console { message }
                        | LogOutput::StdIn { message },
                    ) => Ok(LogChunk {
                        stream: LogStream::Stdout,
                        bytes: message,
                    }),
                    Err(e) => Err(EngineError::from_bollard(what.clone(), e)),
                }
            })
            .boxed()
    }
}
