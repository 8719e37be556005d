//! A minimal Engine API client over the unix socket, std only: the bench
//! measures the raw API floor (scenario 8) and polls for drift repair with it,
//! and neither may depend on the crates under test (reconcilers is lucidctl's
//! own engine layer, and it is often mid-change).

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// The engine socket: `DOCKER_HOST=unix://...` or the default path.
pub fn socket_path() -> String {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if h.starts_with("unix://") => h.trim_start_matches("unix://").to_string(),
        _ => "/var/run/docker.sock".to_string(),
    }
}

/// One keep-alive connection.
pub struct Conn {
    reader: BufReader<UnixStream>,
}

impl Conn {
    pub fn open() -> Result<Conn, String> {
        let path = socket_path();
        let stream = UnixStream::connect(&path).map_err(|e| format!("connect {path}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        Ok(Conn {
            reader: BufReader::new(stream),
        })
    }

    /// GET `path` (unversioned: the engine serves its own API version); status and body.
    pub fn get(&mut self, path: &str) -> Result<(u16, Vec<u8>), String> {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: lucid-bench\r\n\r\n");
        self.reader
            .get_mut()
            .write_all(request.as_bytes())
            .map_err(|e| format!("GET {path}: {e}"))?;
        self.read_response().map_err(|e| format!("GET {path}: {e}"))
    }

    pub fn get_json(&mut self, path: &str) -> Result<(u16, Value), String> {
        let (status, body) = self.get(path)?;
        let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok((status, value))
    }

    fn read_response(&mut self) -> Result<(u16, Vec<u8>), String> {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let (mut length, mut chunked) = (None, false);
        loop {
            line.clear();
            self.reader
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader
                    .read_line(&mut line)
                    .map_err(|e| e.to_string())?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| format!("bad chunk size {line:?}"))?;
                let mut chunk = vec![0; size + 2]; // the data and its CRLF
                self.reader
                    .read_exact(&mut chunk)
                    .map_err(|e| e.to_string())?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            self.reader
                .read_exact(&mut body)
                .map_err(|e| e.to_string())?;
        }
        Ok((status, body))
    }
}

/// Percent-encodes a query value (the label filter's JSON).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The floor lucidctl's observation is measured against, as the
/// reconcilers/examples/api_floor.rs example does it with bollard: list the
/// project's containers, then inspect each with 16 in flight (here 16 threads
/// with a keep-alive connection each, opened beforehand, as a client pool is).
pub struct Floor {
    conns: Vec<Conn>,
}

pub const FLOOR_IN_FLIGHT: usize = 16;

impl Floor {
    pub fn new() -> Result<Floor, String> {
        let conns = (0..FLOOR_IN_FLIGHT)
            .map(|_| Conn::open())
            .collect::<Result<_, _>>()?;
        Ok(Floor { conns })
    }

    /// One list plus inspect-all of the containers labelled `label=value`; the
    /// time taken and the number of containers.
    pub fn measure(&mut self, label: &str) -> Result<(Duration, usize), String> {
        let filter = encode(&format!("{{\"label\":[\"{label}\"]}}"));
        let started = Instant::now();
        let (status, list) =
            self.conns[0].get_json(&format!("/containers/json?all=1&filters={filter}"))?;
        if status != 200 {
            return Err(format!("list containers: HTTP {status}"));
        }
        let ids: Vec<String> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["Id"].as_str().map(str::to_string))
            .collect();
        let count = ids.len();
        let per = count.div_ceil(self.conns.len()).max(1);
        let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .conns
                .iter_mut()
                .zip(ids.chunks(per))
                .map(|(conn, chunk)| {
                    scope.spawn(move || {
                        for id in chunk {
                            let (status, _) = conn.get(&format!("/containers/{id}/json"))?;
                            if status != 200 && status != 404 {
                                return Err(format!("inspect {id}: HTTP {status}"));
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("inspect thread panicked".into()))
                })
                .collect()
        });
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok((started.elapsed(), count))
    }
}

/// Whether the container exists and runs.
pub fn running(conn: &mut Conn, name: &str) -> bool {
    matches!(conn.get_json(&format!("/containers/{name}/json")), Ok((200, c)) if c["State"]["Running"] == true)
}

/// The container's health status ("healthy", "starting", ...) or "" without a health check.
pub fn health(conn: &mut Conn, name: &str) -> String {
    match conn.get_json(&format!("/containers/{name}/json")) {
        Ok((200, c)) => c["State"]["Health"]["Status"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        _ => String::new(),
    }
}

/// The engine's times (ns) of the last `destroy` of `name` since `since`
/// (Unix seconds), and of the `create` and `start` that followed it.
pub fn repair_events(conn: &mut Conn, name: &str, since: u64) -> Option<(i64, i64, i64)> {
    // Fractional seconds: an `until` in the past ends the answer at once.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    let until = format!("{}.{:09}", now.as_secs(), now.subsec_nanos());
    let filter = encode(&format!(
        "{{\"type\":[\"container\"],\"container\":[\"{name}\"],\"event\":[\"destroy\",\"create\",\"start\"]}}"
    ));
    let (status, body) = conn
        .get(&format!(
            "/events?since={since}&until={until}&filters={filter}"
        ))
        .ok()?;
    if status != 200 {
        return None;
    }
    // One JSON document per event, in order.
    let mut destroyed = None;
    let (mut created, mut started) = (None, None);
    for doc in serde_json::Deserializer::from_slice(&body).into_iter::<Value>() {
        let ev = doc.ok()?;
        let t = ev["timeNano"].as_i64()?;
        match ev["Action"].as_str()? {
            "destroy" => (destroyed, created, started) = (Some(t), None, None),
            "create" if destroyed.is_some() => created = Some(t),
            "start" if created.is_some() => started = Some(t),
            _ => {}
        }
    }
    Some((destroyed?, created?, started?))
}

/// "20.10.24 (API 1.41)".
pub fn engine_version() -> String {
    match Conn::open().and_then(|mut c| c.get_json("/version")) {
        Ok((200, v)) => format!(
            "{} (API {})",
            v["Version"].as_str().unwrap_or("?"),
            v["ApiVersion"].as_str().unwrap_or("?")
        ),
        Ok((status, _)) => format!("unknown (HTTP {status})"),
        Err(e) => format!("unknown ({e})"),
    }
}
