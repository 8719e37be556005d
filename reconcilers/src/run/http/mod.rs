//! The run loop's HTTP endpoint: the status page at / (page.rs, kept live by
//! /events/stream), /status, /events, /healthz and /metrics for people
//! and monitors, and POST /hooks/git for forges. hyper parses the requests
//! (a request is input like any other: header size, header time and body size
//! are bounded); the routes below are small functions of the shared state.

mod hooks;
mod page;
mod stream;

pub use hooks::{github_signature, GitHook, HookVerdict};

use super::status::Status;
use super::triggers::{Trigger, TriggerSender};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// Largest request body read (a forge's push payload is tens of KB).
const BODY_LIMIT: usize = 1 << 20;
/// Longest time to receive a request's headers, then its body.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

pub type Body = BoxBody<Bytes, Infallible>;

/// What the endpoint serves from.
#[derive(Clone)]
pub struct Endpoints {
    pub status: Arc<Mutex<Status>>,
    /// POST /hooks/git: verified pushes to the watched branch wake the loop.
    pub git_hook: Option<Arc<GitHook>>,
    pub triggers: Option<TriggerSender>,
    /// When set, every GET but /healthz needs `Authorization: Bearer <token>`.
    pub read_token: Option<crate::run::SharedSecret>,
}

impl Endpoints {
    pub fn new(status: Arc<Mutex<Status>>) -> Self {
        Endpoints {
            status,
            git_hook: None,
            triggers: None,
            read_token: None,
        }
    }
}

pub async fn serve(listener: TcpListener, endpoints: Endpoints) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        let endpoints = endpoints.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let endpoints = endpoints.clone();
                async move { Ok::<_, Infallible>(route(req, &endpoints).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(READ_TIMEOUT)
                .max_buf_size(64 * 1024)
                .serve_connection(hyper_util::rt::TokioIo::new(sock), service);
            let _ = connection.await;
        });
    }
}

pub fn text(code: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = code;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn route(req: Request<Incoming>, e: &Endpoints) -> Response<Body> {
    let path = req.uri().path().to_string();
    if req.method() != Method::POST && path != "/healthz" && !authorized(&req, e) {
        let mut r = text(
            StatusCode::UNAUTHORIZED,
            "text/plain",
            "send Authorization: Bearer <the --listen-token> (or HTTP Basic with it as the password)\n",
        );
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Basic realm=\"lucidctl\", Bearer"),
        );
        return r;
    }
    match (req.method(), path.as_str()) {
        (&Method::GET | &Method::HEAD, "/status" | "/healthz" | "/metrics") => {
            status_route(&path, &e.status)
        }
        (&Method::POST, "/hooks/git") => git_hook(req, e).await,
        (&Method::GET | &Method::HEAD, "/" | "/events" | "/events/stream") => {
            page_route(&path, &e.status)
        }
        (_, "/" | "/status" | "/events" | "/events/stream" | "/healthz" | "/metrics") => {
            text(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only\n")
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /, /status, /events, /healthz or /metrics\n",
        ),
    }
}

/// With a --listen-token, the request carries it (compared in constant time).
fn authorized(req: &Request<Incoming>, e: &Endpoints) -> bool {
    use subtle::ConstantTimeEq;
    let Some(token) = &e.read_token else {
        return true;
    };
    let Some(expected) = token
        .read()
        .ok()
        .and_then(|t| t.as_ref().map(|v| v.expose().as_bytes().to_vec()))
        .filter(|t| !t.is_empty())
    else {
        return false;
    };
    let given = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(presented_token);
    given.is_some_and(|given| bool::from(given.as_slice().ct_eq(&expected)))
}

/// The token in `Bearer <token>`, or the password of HTTP Basic (any user
/// name): a browser cannot send a bearer token for the page and its event
/// stream, but asks for a password once and sends it with every request.
fn presented_token(header: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    if let Some(token) = header.strip_prefix("Bearer ") {
        return Some(token.trim().as_bytes().to_vec());
    }
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    Some(decoded[colon + 1..].to_vec())
}

fn status_route(path: &str, status: &Mutex<Status>) -> Response<Body> {
    let Ok(s) = status.lock() else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            "status unavailable\n",
        );
    };
    match path {
        "/status" => text(
            StatusCode::OK,
            "application/json",
            serde_json::to_string_pretty(&*s).unwrap_or_default(),
        ),
        "/healthz" => match &s.disconnected_since {
            None => text(StatusCode::OK, "text/plain", "ok\n"),
            Some(since) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                format!("engine disconnected since {since}\n"),
            ),
        },
        _ => text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            s.metrics.render(),
        ),
    }
}

/// The page, the events as JSON, and the page's change stream.
fn page_route(path: &str, status: &Arc<Mutex<Status>>) -> Response<Body> {
    if path == "/events/stream" {
        let Some(body) = stream::open(status.clone()) else {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "too many open streams\n",
            );
        };
        let mut r = Response::new(body);
        let headers = r.headers_mut();
        headers.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(
            hyper::header::CACHE_CONTROL,
            hyper::header::HeaderValue::from_static("no-store"),
        );
        return r;
    }
    let Ok(s) = status.lock() else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            "status unavailable\n",
        );
    };
    if path == "/events" {
        let body = serde_json::to_string_pretty(&s.events.to_json()).unwrap_or_default();
        return text(StatusCode::OK, "application/json", body);
    }
    let html = page::render(&s, &stream::version(&s));
    let mut r = text(StatusCode::OK, "text/html; charset=utf-8", html);
    r.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    r
}

/// Reads at most BODY_LIMIT bytes within READ_TIMEOUT.
async fn body(req: Request<Incoming>) -> Result<(hyper::http::request::Parts, Bytes), StatusCode> {
    let (parts, incoming) = req.into_parts();
    let limited = Limited::new(incoming, BODY_LIMIT);
    match tokio::time::timeout(READ_TIMEOUT, limited.collect()).await {
        Ok(Ok(collected)) => Ok((parts, collected.to_bytes())),
        Ok(Err(_)) => Err(StatusCode::PAYLOAD_TOO_LARGE),
        Err(_) => Err(StatusCode::REQUEST_TIMEOUT),
    }
}

async fn git_hook(req: Request<Incoming>, e: &Endpoints) -> Response<Body> {
    let Some(hook) = &e.git_hook else {
        return text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "no git webhook here: start run with --git and --webhook-secret\n",
        );
    };
    let (parts, payload) = match body(req).await {
        Ok(b) => b,
        Err(code) => return text(code, "text/plain", "body too large or too slow\n"),
    };
    let verdict = hook.judge(&parts.headers, &payload);
    if let Ok(mut s) = e.status.lock() {
        s.metrics.count_webhook(verdict.metric());
    }
    match verdict {
        HookVerdict::Unauthorized(why) => {
            tracing::warn!("POST /hooks/git refused: {why}");
            text(StatusCode::UNAUTHORIZED, "text/plain", format!("{why}\n"))
        }
        HookVerdict::Ignored(why) => text(
            StatusCode::ACCEPTED,
            "text/plain",
            format!("ignored: {why}\n"),
        ),
        HookVerdict::Fetch => {
            tracing::info!("POST /hooks/git: push to {}; fetching now", hook.branch);
            if let Some(tx) = &e.triggers {
                tx.send(Trigger::Git).await;
            }
            text(StatusCode::ACCEPTED, "text/plain", "fetching\n")
        }
    }
}

#[cfg(test)]
mod auth_tests {
    use super::presented_token;

    #[test]
    fn a_bearer_token_or_a_basic_password_is_the_presented_token() {
        assert_eq!(presented_token("Bearer abc "), Some(b"abc".to_vec()));
        // "anyone:s3cret:with:colons"
        assert_eq!(
            presented_token("Basic YW55b25lOnMzY3JldDp3aXRoOmNvbG9ucw=="),
            Some(b"s3cret:with:colons".to_vec())
        );
        assert_eq!(presented_token("Basic !!!"), None);
        assert_eq!(
            presented_token("Basic bm9jb2xvbg=="),
            None,
            "no colon, no password"
        );
        assert_eq!(presented_token("Digest x"), None);
    }
}
