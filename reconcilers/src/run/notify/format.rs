//! The shapes a notification is delivered in, chosen by a prefix on the URL
//! (`ntfy+https://`, `slack+https://`, `discord+https://`, `json+https://`)
//! or, without one, by the host (ntfy.sh, hooks.slack.com,
//! discord.com/api/webhooks); anything else gets the generic JSON document.

use super::{BadUrl, Notification, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"event", "severity", "resource", "message", "revision", "time"}`.
    Json,
    /// ntfy: the message as the body; title, priority and tags as headers.
    Ntfy,
    /// Slack-compatible incoming webhook: `{"text"}`.
    Slack,
    /// Discord webhook: `{"content"}` (at most 2000 characters).
    Discord,
}

/// Where and how to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub format: Format,
}

/// A request ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// `ntfy+https://ntfy.sh/lucid` and friends, or a plain http(s) URL.
pub fn endpoint(spec: &str) -> Result<Endpoint, BadUrl> {
    let prefixes = [
        ("ntfy+", Format::Ntfy),
        ("slack+", Format::Slack),
        ("discord+", Format::Discord),
        ("json+", Format::Json),
    ];
    let (forced, url) = prefixes
        .iter()
        .find_map(|(p, f)| spec.strip_prefix(p).map(|rest| (Some(*f), rest)))
        .unwrap_or((None, spec));
    if !(url.starts_with("http://") || url.starts_with("https://"))
        || url.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(BadUrl(super::redact(spec)));
    }
    let format = forced.unwrap_or_else(|| by_host(url));
    Ok(Endpoint {
        url: url.to_string(),
        format,
    })
}

fn by_host(url: &str) -> Format {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host).to_ascii_lowercase();
    let path = &rest[rest.find('/').unwrap_or(rest.len())..];
    match host.as_str() {
        "ntfy.sh" => Format::Ntfy,
        "hooks.slack.com" => Format::Slack,
        "discord.com" | "discordapp.com" if path.starts_with("/api/webhooks") => Format::Discord,
        _ => Format::Json,
    }
}

/// One line for chat: `[CRITICAL] rollout-failed Service/web: ... (revision abc)`.
fn line(n: &Notification) -> String {
    let severity = match n.severity {
        Severity::Info => "INFO",
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
    };
    let mut text = format!("[{severity}] {}", n.event);
    if let Some(r) = &n.resource {
        text.push_str(&format!(" {r}"));
    }
    text.push_str(&format!(": {}", n.message));
    if let Some(rev) = &n.revision {
        text.push_str(&format!(" (revision {rev})"));
    }
    text
}

/// A header value: printable ASCII only, bounded.
fn header_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(200)
        .collect()
}

pub fn render(format: Format, n: &Notification) -> Rendered {
    match format {
        Format::Json => Rendered {
            content_type: "application/json",
            headers: Vec::new(),
            body: serde_json::to_string(n).unwrap_or_default(),
        },
        Format::Ntfy => {
            let (priority, tag) = match n.severity {
                Severity::Info => ("3", "white_check_mark"),
                Severity::Warning => ("4", "warning"),
                Severity::Critical => ("5", "rotating_light"),
            };
            let title = match &n.resource {
                Some(r) => format!("lucidctl: {} {r}", n.event),
                None => format!("lucidctl: {}", n.event),
            };
            Rendered {
                content_type: "text/plain; charset=utf-8",
                headers: vec![
                    ("Title", header_text(&title)),
                    ("Priority", priority.into()),
                    ("Tags", format!("{tag},lucidctl")),
                ],
                body: line(n),
            }
        }
        Format::Slack => Rendered {
            content_type: "application/json",
            headers: Vec::new(),
            body: serde_json::json!({ "text": line(n) }).to_string(),
        },
        Format::Discord => Rendered {
            content_type: "application/json",
            headers: Vec::new(),
            body: serde_json::json!({ "content": line(n).chars().take(2000).collect::<String>() })
                .to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n() -> Notification {
        Notification {
            event: "rollout-failed".into(),
            severity: Severity::Critical,
            resource: Some("Service/web".into()),
            message: "unhealthy\r\nInjected: header".into(),
            revision: Some("abc123".into()),
            time: "2026-12-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn the_format_comes_from_a_prefix_or_the_host() {
        let f = |s: &str| endpoint(s).unwrap();
        assert_eq!(
            f("ntfy+https://ntfy.example.org/lucid").format,
            Format::Ntfy
        );
        assert_eq!(
            f("ntfy+https://ntfy.example.org/lucid").url,
            "https://ntfy.example.org/lucid"
        );
        assert_eq!(f("https://ntfy.sh/lucid").format, Format::Ntfy);
        assert_eq!(
            f("https://hooks.slack.com/services/T/B/X").format,
            Format::Slack
        );
        assert_eq!(
            f("https://discord.com/api/webhooks/1/x").format,
            Format::Discord
        );
        assert_eq!(f("https://discord.com/channels/1").format, Format::Json);
        assert_eq!(f("slack+http://127.0.0.1:9/x").format, Format::Slack);
        assert_eq!(f("http://127.0.0.1:9/x").format, Format::Json);
        for bad in [
            "ftp://x",
            "ntfy+ftp://x",
            "https://a b",
            "secret-ish",
            "https://x/\n",
        ] {
            assert!(endpoint(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ntfy_gets_text_and_header_values_that_cannot_inject_headers() {
        let r = render(Format::Ntfy, &n());
        assert!(r
            .body
            .starts_with("[CRITICAL] rollout-failed Service/web: unhealthy"));
        assert_eq!(r.headers[1], ("Priority", "5".to_string()));
        for (_, v) in &r.headers {
            assert!(v.chars().all(|c| c.is_ascii_graphic() || c == ' '), "{v:?}");
        }
    }

    #[test]
    fn slack_and_discord_get_their_json_shapes() {
        let slack: serde_json::Value =
            serde_json::from_str(&render(Format::Slack, &n()).body).unwrap();
        assert!(slack["text"]
            .as_str()
            .unwrap()
            .contains("(revision abc123)"));
        let mut long = n();
        long.message = "x".repeat(5000);
        let discord: serde_json::Value =
            serde_json::from_str(&render(Format::Discord, &long).body).unwrap();
        assert_eq!(discord["content"].as_str().unwrap().chars().count(), 2000);
    }

    #[test]
    fn the_generic_document_has_the_documented_fields() {
        let v: serde_json::Value = serde_json::from_str(&render(Format::Json, &n()).body).unwrap();
        for k in [
            "event", "severity", "resource", "message", "revision", "time",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert_eq!(v["severity"], "critical");
    }
}
