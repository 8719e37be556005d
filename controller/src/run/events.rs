//! `lucidctl events [-f]`: the run loop's recent events, read from its
//! GET /events (and `status`'s /status), with the loop's token if it has one.

use crate::cli::{EventsArgs, OutputFormat};
use desired_state::diagnostics::escape_controls;
use reconcilers::run::SecretSource;
use std::process::ExitCode;
use std::time::Duration;

/// GET `path` from a running loop, as JSON.
pub fn get_json(
    listen: &str,
    path: &str,
    token: Option<&SecretSource>,
) -> Result<serde_json::Value, String> {
    let url = format!("http://{listen}{path}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut request = agent.get(&url);
    if let Some(source) = token {
        let value = source
            .read_now()
            .map_err(|e| format!("--token {e}"))?
            .ok_or_else(|| {
                "--token: secret: sources need the desired state; use file: or env: here"
                    .to_string()
            })?;
        request = request.header("Authorization", format!("Bearer {}", value.expose()));
    }
    request
        .call()
        .map_err(|e| format!("no lucidctl run answers at {url}: {e}"))
        .and_then(|mut r| {
            r.body_mut()
                .with_config()
                .limit(8 << 20)
                .read_json()
                .map_err(|e| format!("{url}: not the JSON a lucidctl run serves: {e}"))
        })
}

/// One line per event: `2026-12-01T05:00:00Z  critical  rollout-failed  Service/web  ...`.
pub fn line(e: &serde_json::Value) -> String {
    let field = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("-");
    escape_controls(&format!(
        "{}  {:<8}  {:<20}  {:<36}  {}",
        field("time"),
        field("severity"),
        field("event"),
        field("resource"),
        field("message")
    ))
    .replace('\n', " ")
}

fn events_of(doc: &serde_json::Value) -> Vec<serde_json::Value> {
    doc.get("events")
        .and_then(|e| e.as_array())
        .cloned()
        .unwrap_or_default()
}

pub fn command(args: &EventsArgs) -> ExitCode {
    let fetch = || get_json(&args.listen, "/events", args.token.as_ref());
    let doc = match fetch() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {}", escape_controls(&e));
            return ExitCode::FAILURE;
        }
    };
    if args.output == OutputFormat::Json && !args.follow {
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    let mut last = 0u64;
    let mut print_new = |doc: &serde_json::Value| {
        for e in events_of(doc) {
            let seq = e.get("seq").and_then(|s| s.as_u64()).unwrap_or(0);
            if seq > last {
                last = seq;
                if args.output == OutputFormat::Json {
                    println!("{e}");
                } else {
                    println!("{}", line(&e));
                }
            }
        }
    };
    print_new(&doc);
    if !args.follow {
        return ExitCode::SUCCESS;
    }
    loop {
        std::thread::sleep(Duration::from_secs(2));
        match fetch() {
            Ok(doc) => print_new(&doc),
            // A restarting loop comes back; -f waits for it.
            Err(e) => eprintln!("warning: {}", escape_controls(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn an_event_is_one_escaped_line() {
        let e = serde_json::json!({"seq": 1, "time": "t", "severity": "critical",
            "event": "rollout-failed", "resource": "Service/web", "message": "bad\nline \u{1b}[2J"});
        let l = line(&e);
        assert!(!l.contains('\n') && !l.contains('\u{1b}'), "{l:?}");
        assert!(l.contains("critical") && l.contains("Service/web"), "{l}");
    }
}
