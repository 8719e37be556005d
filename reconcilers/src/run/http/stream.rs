//! GET /events/stream: server-sent events for the status page. Each message's
//! data is the status version (see [`version`]); the page fetches itself
//! again when it differs from the one it was rendered with. The stream checks
//! once a second, sends a comment every 15 s to keep proxies from closing
//! it, and ends after 10 minutes (EventSource reconnects by itself). At most
//! [`MAX_STREAMS`] are open at once: a stream holds a task and a socket.

use super::Body;
use crate::run::status::Status;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub const MAX_STREAMS: usize = 32;
const CHECK_EVERY: Duration = Duration::from_secs(1);
const KEEP_ALIVE: Duration = Duration::from_secs(15);
const LIFETIME: Duration = Duration::from_secs(600);

static OPEN: AtomicUsize = AtomicUsize::new(0);

/// Changes whenever anything the page shows changes.
pub fn version(s: &Status) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(s).unwrap_or_default().hash(&mut h);
    s.events.last_seq().hash(&mut h);
    s.topology.as_ref().map(|t| format!("{t:?}")).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// A response body fed by a channel: ends when the sender is dropped.
struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// Gives the slot back when the stream's task ends, however it ends.
struct Slot;

impl Drop for Slot {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The stream's body, or None when MAX_STREAMS are already open.
pub fn open(status: Arc<Mutex<Status>>) -> Option<Body> {
    if OPEN.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
        OPEN.fetch_sub(1, Ordering::SeqCst);
        return None;
    }
    let slot = Slot;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        let _slot = slot;
        let started = Instant::now();
        let mut last: Option<String> = None;
        let mut said = Instant::now();
        if tx
            .send(Bytes::from_static(b"retry: 3000\n\n"))
            .await
            .is_err()
        {
            return;
        }
        while started.elapsed() < LIFETIME {
            let now = status.lock().ok().map(|s| version(&s));
            let message = match now {
                Some(v) if last.as_ref() != Some(&v) => {
                    last = Some(v.clone());
                    Some(format!("data: {v}\n\n"))
                }
                _ if said.elapsed() >= KEEP_ALIVE => Some(": keep-alive\n\n".to_string()),
                _ => None,
            };
            if let Some(m) = message {
                said = Instant::now();
                if tx.send(Bytes::from(m)).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = tx.closed() => return,
                _ = tokio::time::sleep(CHECK_EVERY) => {}
            }
        }
    });
    Some(ChannelBody(rx).boxed())
}
