//! A tiny stand-in for every Lucid service in the local demo.
//!
//! It runs as PID 1 in a `FROM scratch` image, so it must be static, carry its
//! own healthcheck client (`probe`, as there is no curl) and exit on SIGTERM by
//! itself (the kernel ignores signals to PID 1 that have no handler).
//! Std only: the signal handler uses two raw libc declarations.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use std::{env, thread};

const USAGE: &str = "\
usage:
  standin [serve]        serve HTTP; env STANDIN_NAME (default standin),
                         STANDIN_PORTS (comma-separated, default 8080),
                         STANDIN_UNHEALTHY (non-empty and not 0: /healthz answers 503),
                         STANDIN_READY_AFTER_MS (/healthz answers 503 until then)
  standin probe PORT [PATH]
                         GET http://127.0.0.1:PORT/PATH (default /healthz);
                         exit 0 on status 200, 1 otherwise
  standin load HOST:PORT [--every-ms N] [--for-s N]
                         GET http://HOST:PORT/healthz every N ms (default 50) for N s
                         (default 10), resolving HOST each time; print the counts and
                         exit 0 when every request got 200, 1 otherwise
  standin job [--wait-tcp HOST:PORT]... [--message TEXT] [--sleep SECONDS] [--exit CODE]
                         wait for each HOST:PORT to accept TCP (up to 60 s, else exit 1),
                         print TEXT (default \"job done\"), sleep, exit CODE (default 0)
  standin cat FILE       print FILE (up to 64 KiB) to stdout, as the container's user;
                         exit 1 when it cannot be read (there is no shell to cat with)";

const MAX_REQUEST_HEAD: usize = 8 * 1024;
const WAIT_TCP_LIMIT: Duration = Duration::from_secs(60);
const WAIT_TCP_PAUSE: Duration = Duration::from_millis(500);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, PartialEq)]
enum Command {
    Serve,
    Probe {
        port: u16,
        path: String,
    },
    Job(Job),
    Load {
        target: (String, u16),
        every: Duration,
        total: Duration,
    },
    Cat(String),
    Help,
}

#[derive(Debug, PartialEq)]
struct Job {
    sleep: Option<Duration>,
    exit: u8,
    message: String,
    wait_tcp: Vec<(String, u16)>,
}

struct ServeConfig {
    name: String,
    unhealthy: bool,
    /// /healthz answers 503 until this instant (STANDIN_READY_AFTER_MS).
    ready_at: Instant,
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(command) => command,
        Err(e) => return usage_error(&e),
    };
    match command {
        Command::Help => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Serve => {
            signals::exit_on_term();
            run_serve()
        }
        Command::Probe { port, path } => match http_get(port, &path, PROBE_TIMEOUT) {
            Ok((200, _)) => ExitCode::SUCCESS,
            Ok((status, _)) => {
                eprintln!("probe: GET 127.0.0.1:{port}{path} returned status {status}");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("probe: GET 127.0.0.1:{port}{path}: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Job(job) => {
            signals::exit_on_term();
            run_job(&job)
        }
        Command::Cat(file) => {
            let mut bytes = Vec::new();
            let read =
                std::fs::File::open(&file).and_then(|f| f.take(64 * 1024).read_to_end(&mut bytes));
            match read {
                Ok(_) => {
                    let _ = std::io::stdout().write_all(&bytes);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cat: {file}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Load {
            target,
            every,
            total,
        } => {
            signals::exit_on_term();
            run_load(&target, every, total)
        }
    }
}

/// A client beside a service: counts the requests that did not get a 200.
fn run_load(target: &(String, u16), every: Duration, total: Duration) -> ExitCode {
    let (host, port) = target;
    let started = Instant::now();
    let (mut requests, mut failures) = (0u64, 0u64);
    while started.elapsed() < total {
        requests += 1;
        match http_get_from(host, *port, "/healthz", PROBE_TIMEOUT) {
            Ok((200, _)) => {}
            Ok((status, _)) => {
                failures += 1;
                eprintln!("load: {host}:{port} answered {status}");
            }
            Err(e) => {
                failures += 1;
                eprintln!("load: {host}:{port}: {e}");
            }
        }
        thread::sleep(every);
    }
    println!("load: {requests} requests, {failures} failed");
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("standin: {message}\n{USAGE}");
    ExitCode::from(2)
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let Some((first, rest)) = args.split_first() else {
        return Ok(Command::Serve);
    };
    match first.as_str() {
        "serve" if rest.is_empty() => Ok(Command::Serve),
        "serve" => Err(format!("serve takes no arguments, got {:?}", rest[0])),
        "probe" => {
            let (port, path) = match rest {
                [port] => (port, "/healthz"),
                [port, path] => (port, path.as_str()),
                _ => return Err("probe takes PORT [PATH]".into()),
            };
            let port = parse_port(port)?;
            if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!(
                    "invalid probe path {path:?}: must start with / and have no spaces"
                ));
            }
            Ok(Command::Probe {
                port,
                path: path.to_string(),
            })
        }
        "job" => parse_job(rest).map(Command::Job),
        "cat" => match rest {
            [file] => Ok(Command::Cat(file.clone())),
            _ => Err("cat takes exactly one FILE".into()),
        },
        "load" => {
            let Some((target, flags)) = rest.split_first() else {
                return Err("load takes HOST:PORT".into());
            };
            let target = parse_host_port(target)?;
            let (mut every, mut total) = (Duration::from_millis(50), Duration::from_secs(10));
            let mut flags = flags.iter();
            while let Some(flag) = flags.next() {
                let v = flags
                    .next()
                    .ok_or_else(|| format!("{flag} needs a value"))?;
                let n: u64 = v.parse().map_err(|_| format!("invalid {flag} {v:?}"))?;
                match flag.as_str() {
                    "--every-ms" => every = Duration::from_millis(n),
                    "--for-s" => total = Duration::from_secs(n.min(3600)),
                    other => return Err(format!("unknown load option {other:?}")),
                }
            }
            Ok(Command::Load {
                target,
                every,
                total,
            })
        }
        "help" | "-h" | "--help" => Ok(Command::Help),
        other => Err(format!("unknown command {other:?}")),
    }
}

fn parse_job(args: &[String]) -> Result<Job, String> {
    let mut job = Job {
        sleep: None,
        exit: 0,
        message: "job done".into(),
        wait_tcp: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--sleep" => {
                let v = value()?;
                let secs: f64 = v.parse().map_err(|_| format!("invalid --sleep {v:?}"))?;
                // try_from_secs_f64 rejects negative, NaN and absurdly large values.
                let d = Duration::try_from_secs_f64(secs)
                    .map_err(|_| format!("invalid --sleep {v:?}"))?;
                job.sleep = Some(d);
            }
            "--exit" => {
                let v = value()?;
                job.exit = v
                    .parse()
                    .map_err(|_| format!("invalid --exit {v:?}: expected 0-255"))?;
            }
            "--message" => job.message = value()?.clone(),
            "--wait-tcp" => job.wait_tcp.push(parse_host_port(value()?)?),
            other => return Err(format!("unknown job option {other:?}")),
        }
    }
    Ok(job)
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("invalid port {s:?}: expected 1-65535")),
        Ok(port) => Ok(port),
    }
}

/// Empty items are skipped so that a trailing comma in a compose file is harmless.
fn parse_ports(s: &str) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    for item in s.split(',').filter(|item| !item.trim().is_empty()) {
        let port = parse_port(item)?;
        if ports.contains(&port) {
            return Err(format!("port {port} listed twice"));
        }
        ports.push(port);
    }
    if ports.is_empty() {
        return Err(format!("no ports in {s:?}"));
    }
    Ok(ports)
}

fn parse_host_port(s: &str) -> Result<(String, u16), String> {
    let bad = || format!("invalid HOST:PORT {s:?}");
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    // Accept [::1]:80; the brackets are not part of the address.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), parse_port(port).map_err(|_| bad())?))
}

/// Returns (method, target) of a request line such as `GET /x HTTP/1.1`.
fn parse_request_line(line: &str) -> Option<(&str, &str)> {
    let mut parts = line.trim_end_matches(['\r', '\n']).split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    let target_ok = target.starts_with('/') && !target.bytes().any(|b| b.is_ascii_control());
    let version_ok = version.starts_with("HTTP/");
    (parts.next().is_none() && method_ok && target_ok && version_ok).then_some((method, target))
}

fn run_serve() -> ExitCode {
    let name = env::var("STANDIN_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "standin".into());
    let ports = env::var("STANDIN_PORTS")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "8080".into());
    let ports = match parse_ports(&ports) {
        Ok(ports) => ports,
        Err(e) => return usage_error(&format!("STANDIN_PORTS: {e}")),
    };
    let unhealthy = env::var("STANDIN_UNHEALTHY").is_ok_and(|v| !v.is_empty() && v != "0");
    let ready_after = env::var("STANDIN_READY_AFTER_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let config = Arc::new(ServeConfig {
        name,
        unhealthy,
        ready_at: Instant::now() + Duration::from_millis(ready_after),
    });

    // Bind everything before announcing, so a taken port fails the container at once.
    let mut listeners = Vec::new();
    for &port in &ports {
        match TcpListener::bind(("0.0.0.0", port)) {
            Ok(listener) => listeners.push(listener),
            Err(e) => {
                eprintln!("standin: cannot listen on 0.0.0.0:{port}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    println!("standin {} listening on {}", config.name, list.join(","));

    let threads: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            let config = Arc::clone(&config);
            thread::spawn(move || serve_listener(listener, config))
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    ExitCode::SUCCESS
}

fn serve_listener(listener: TcpListener, config: Arc<ServeConfig>) {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let config = Arc::clone(&config);
                thread::spawn(move || handle_connection(stream, &config, port));
            }
            // Typically EMFILE; back off instead of spinning.
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn handle_connection(mut stream: TcpStream, config: &ServeConfig, port: u16) {
    // A silent client must not pin a thread forever.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let Some(head) = read_head(&mut stream) else {
        return;
    };
    let Some((method, target)) = head.lines().next().and_then(parse_request_line) else {
        return;
    };

    let path = target.split('?').next().unwrap_or(target);
    let (status, content_type, body) = if path == "/healthz" {
        if config.unhealthy || Instant::now() < config.ready_at {
            (
                "503 Service Unavailable",
                "text/plain",
                "unhealthy".to_string(),
            )
        } else {
            ("200 OK", "text/plain", "ok".to_string())
        }
    } else {
        let body = format!(
            r#"{{"service":"{}","port":{port},"path":"{}"}}"#,
            json_escape(&config.name),
            json_escape(target)
        );
        ("200 OK", "application/json", body)
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        response.push_str(&body);
    }
    if stream.write_all(response.as_bytes()).is_err() {
        return;
    }
    // Closing with unread request bytes (a body) would send RST and could
    // destroy the response in flight; drain a little first.
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = std::io::copy(&mut (&stream).take(64 * 1024), &mut std::io::sink());
}

/// Reads up to the blank line ending the headers; None for oversized, truncated or non-UTF-8 input.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return String::from_utf8(buf).ok();
        }
        if buf.len() > MAX_REQUEST_HEAD {
            return None;
        }
    }
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// GET http://127.0.0.1:port{path}; returns the status code and the raw response.
fn http_get(port: u16, path: &str, timeout: Duration) -> Result<(u16, String), String> {
    http_get_from("127.0.0.1", port, path, timeout)
}

fn http_get_from(
    host: &str,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("resolve {host}: no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut response = Vec::new();
    stream
        .take(64 * 1024)
        .read_to_end(&mut response)
        .map_err(|e| format!("read: {e}"))?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status_line = response.lines().next().unwrap_or("");
    let status = status_line
        .strip_prefix("HTTP/")
        .and_then(|rest| rest.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {status_line:?}"))?;
    Ok((status, response))
}

fn run_job(job: &Job) -> ExitCode {
    for (host, port) in &job.wait_tcp {
        if let Err(e) = wait_tcp(host, *port, WAIT_TCP_LIMIT) {
            eprintln!(
                "standin job: {host}:{port} not reachable after {}s: {e}",
                WAIT_TCP_LIMIT.as_secs()
            );
            return ExitCode::FAILURE;
        }
        println!("standin job: {host}:{port} reachable");
    }
    println!("{}", job.message);
    if let Some(d) = job.sleep {
        thread::sleep(d);
    }
    ExitCode::from(job.exit)
}

fn wait_tcp(host: &str, port: u16, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        // Resolve on every attempt: the peer's DNS name may appear only once it starts.
        let err = match (host, port).to_socket_addrs() {
            Ok(addrs) => {
                let mut last = "name resolved to no address".to_string();
                for addr in addrs {
                    match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                        Ok(_) => return Ok(()),
                        Err(e) => last = format!("connect {addr}: {e}"),
                    }
                }
                last
            }
            Err(e) => format!("resolve: {e}"),
        };
        if Instant::now() + WAIT_TCP_PAUSE > deadline {
            return Err(err);
        }
        thread::sleep(WAIT_TCP_PAUSE);
    }
}

mod signals {
    use std::os::raw::c_int;

    // Same numbers on every Linux architecture.
    const SIGINT: c_int = 2;
    const SIGTERM: c_int = 15;

    extern "C" {
        fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
        fn _exit(status: c_int) -> !;
    }

    // _exit is async-signal-safe, unlike std::process::exit. Nothing is lost:
    // stdout is line-buffered and every line we print ends in a newline.
    extern "C" fn on_signal(_: c_int) {
        unsafe { _exit(0) }
    }

    /// As PID 1 an unhandled SIGTERM is ignored and `docker stop` would wait out its grace period.
    pub fn exit_on_term() {
        unsafe {
            signal(SIGINT, on_signal);
            signal(SIGTERM, on_signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn request_line() {
        assert_eq!(
            parse_request_line("GET /healthz HTTP/1.1\r\n"),
            Some(("GET", "/healthz"))
        );
        assert_eq!(
            parse_request_line("HEAD /a?b=c HTTP/1.0"),
            Some(("HEAD", "/a?b=c"))
        );
        for bad in [
            "",
            "GET",
            "GET /",
            "GET / HTTP/1.1 x",
            "get / HTTP/1.1",
            "GET x HTTP/1.1",
            "GET / FTP",
            "\u{0}\u{1}junk",
        ] {
            assert_eq!(parse_request_line(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ports() {
        assert_eq!(parse_ports("8089,8500"), Ok(vec![8089, 8500]));
        assert_eq!(parse_ports(" 80 , 443, "), Ok(vec![80, 443]));
        for bad in ["", ",", "0", "65536", "80;443", "http", "80,80", "-1"] {
            assert!(parse_ports(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn arguments() {
        assert_eq!(parse_args(&[]), Ok(Command::Serve));
        assert_eq!(parse_args(&args("serve")), Ok(Command::Serve));
        assert_eq!(
            parse_args(&args("probe 8089")),
            Ok(Command::Probe {
                port: 8089,
                path: "/healthz".into()
            })
        );
        assert_eq!(
            parse_args(&args("probe 1 /x")),
            Ok(Command::Probe {
                port: 1,
                path: "/x".into()
            })
        );
        assert_eq!(
            parse_args(&args("job")),
            Ok(Command::Job(Job {
                sleep: None,
                exit: 0,
                message: "job done".into(),
                wait_tcp: vec![]
            }))
        );
        let mut full =
            args("job --sleep 0.5 --exit 3 --wait-tcp mongo:27017 --wait-tcp [::1]:9200 --message");
        full.push("replica set initiated".into());
        assert_eq!(
            parse_args(&full),
            Ok(Command::Job(Job {
                sleep: Some(Duration::from_millis(500)),
                exit: 3,
                message: "replica set initiated".into(),
                wait_tcp: vec![("mongo".into(), 27017), ("::1".into(), 9200)],
            }))
        );
        for bad in [
            "nope",
            "serve x",
            "probe",
            "probe x",
            "probe 0",
            "probe 80 healthz",
            "job --exit",
            "job --exit 256",
            "job --exit -1",
            "job --sleep -1",
            "job --sleep nan",
            "job --wait-tcp mongo",
            "job --wait-tcp :80",
            "job --wait-tcp h:0",
            "job --bogus",
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
        let spaced = vec!["probe".to_string(), "80".into(), "/a b".into()];
        assert!(parse_args(&spaced).is_err());
    }

    #[test]
    fn json_is_escaped() {
        assert_eq!(json_escape("a\"b\\c\n"), "a\\\"b\\\\c\\u000a");
    }

    fn start(unhealthy: bool) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = Arc::new(ServeConfig {
            name: "svc".into(),
            unhealthy,
            ready_at: Instant::now(),
        });
        thread::spawn(move || serve_listener(listener, config));
        port
    }

    #[test]
    fn serve_and_probe() {
        let port = start(false);
        let timeout = Duration::from_secs(2);

        // Junk first: the listener must survive it.
        let mut junk = TcpStream::connect(("127.0.0.1", port)).unwrap();
        junk.write_all(b"\x00\x01\xffnot http\r\n\r\n").unwrap();
        let mut rest = Vec::new();
        junk.set_read_timeout(Some(timeout)).unwrap();
        assert_eq!(junk.read_to_end(&mut rest).unwrap(), 0);

        let (status, response) = http_get(port, "/healthz", timeout).unwrap();
        assert_eq!(status, 200);
        assert!(response.ends_with("\r\n\r\nok"), "{response}");

        let (status, response) = http_get(port, "/v1/things?x=1", timeout).unwrap();
        assert_eq!(status, 200);
        let body = format!(r#"{{"service":"svc","port":{port},"path":"/v1/things?x=1"}}"#);
        assert!(
            response.contains(&format!("Content-Length: {}\r\n", body.len())),
            "{response}"
        );
        assert!(response.ends_with(&body), "{response}");

        let sick = start(true);
        assert_eq!(http_get(sick, "/healthz", timeout).unwrap().0, 503);
        assert_eq!(http_get(sick, "/", timeout).unwrap().0, 200);
    }
}
