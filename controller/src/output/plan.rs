//! A plan in the style of `terraform plan`: one line per change with a marker,
//! field-level lines under recreates, and a summary.

use crate::cli::OutputFormat;
use reconcilers::plan::{Action, Operation, Plan};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::io::IsTerminal;
use std::process::ExitCode;

/// How `diff` and `apply --dry-run` both show a plan, and their exit code:
/// 0 nothing to do, 2 changes, 1 conflicts or errors.
pub fn print(p: &Plan, format: OutputFormat) -> ExitCode {
    match format {
        OutputFormat::Json => println!("{}", json(p)),
        OutputFormat::Text => print!("{}", text(p, use_colour())),
    }
    ExitCode::from(controller::exit::plan(p))
}

fn ids(list: &[reconcilers::plan::OpId]) -> String {
    list.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Service/web: rollout of 1a2b3c4d5e6f failed 3m ago: unhealthy; running the previous container`.
pub fn held_text(h: &reconcilers::plan::Held) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let age = now.saturating_sub(h.failed_at);
    let age = if age < 120 {
        format!("{age}s")
    } else if age < 7200 {
        format!("{}m", age / 60)
    } else {
        format!("{}h", age / 3600)
    };
    format!(
        "{}/{}: rollout of {} failed {age} ago: {}; running the previous container (apply --retry-failed tries it again)",
        h.kind,
        h.name,
        h.short_hash(),
        h.reason
    )
}

/// `#3  start container web  (after #1, #2)`; rollback steps say what they watch.
fn operation_line(o: &Operation) -> String {
    let mut line = format!("{:<4} ", o.id.to_string());
    if let Some(watched) = &o.rollback_of {
        let _ = write!(line, "if {} fails: ", ids(watched).replace(", ", "/"));
    }
    let _ = write!(line, "{}", o.op);
    if !o.after.is_empty() {
        let _ = write!(line, "  (after {})", ids(&o.after));
    }
    line
}

pub fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn colour_of(action: Action) -> &'static str {
    match action {
        Action::Create | Action::Build | Action::Pull => "32",
        Action::Recreate => "35",
        Action::Remove => "31",
        Action::Restore => "36",
        _ => "33",
    }
}

fn counts(p: &Plan) -> BTreeMap<&'static str, usize> {
    let mut c = BTreeMap::new();
    for ch in &p.changes {
        *c.entry(ch.action.as_str()).or_default() += 1;
    }
    c
}

pub fn text(p: &Plan, colour: bool) -> String {
    let mut out = String::new();
    for (i, c) in p.changes.iter().enumerate() {
        let reasons: Vec<String> = c.reasons.iter().map(|r| r.to_string()).collect();
        let target = c
            .network
            .as_ref()
            .map(|n| format!(" {n}"))
            .unwrap_or_default();
        let head = format!("{} {}/{}", c.action.marker(), c.kind, c.name);
        let _ = writeln!(
            out,
            "{}  {}{}  ({})",
            paint(colour, colour_of(c.action), &head),
            c.action.as_str(),
            target,
            reasons.join("; ")
        );
        for f in &c.fields {
            let _ = writeln!(out, "      {}: {} -> {}", f.path, f.from, f.to);
        }
        for o in p.operations_of(i) {
            let _ = writeln!(out, "      {}", operation_line(o));
        }
    }
    for h in &p.held {
        let _ = writeln!(out, "{}  {}", paint(colour, "33;1", "‖ held"), held_text(h));
    }
    for i in &p.intruders {
        let _ = writeln!(
            out,
            "{}  {}",
            paint(colour, "31;1", "! policy violation"),
            i.summary()
        );
    }
    for c in &p.conflicts {
        let _ = writeln!(
            out,
            "{}  {}",
            paint(colour, "31;1", &format!("! {}/{}", c.kind, c.name)),
            c.message
        );
    }
    for e in &p.errors {
        let _ = writeln!(out, "{}  {e}", paint(colour, "31;1", "! error"));
    }
    let n = counts(p);
    if p.changes.is_empty()
        && p.conflicts.is_empty()
        && p.errors.is_empty()
        && p.held.is_empty()
        && p.intruders.is_empty()
    {
        out.push_str("No changes. The engine matches the desired state.\n");
    } else {
        let parts: Vec<String> = [
            "build",
            "pull",
            "create",
            "recreate",
            "start",
            "connect",
            "disconnect",
            "remove",
            "restore",
        ]
        .iter()
        .filter_map(|a| n.get(a).map(|k| format!("{k} to {a}")))
        .collect();
        let mut line = format!(
            "Plan: {}",
            if parts.is_empty() {
                "no changes".to_string()
            } else {
                parts.join(", ")
            }
        );
        if !p.conflicts.is_empty() {
            let _ = write!(line, "; {} conflict(s)", p.conflicts.len());
        }
        if !p.errors.is_empty() {
            let _ = write!(line, "; {} error(s)", p.errors.len());
        }
        if !p.held.is_empty() {
            let _ = write!(line, "; {} held", p.held.len());
        }
        if !p.intruders.is_empty() {
            let _ = write!(
                line,
                "; {} policy violation(s) lucidctl will not touch",
                p.intruders.len()
            );
        }
        out.push_str(&line);
        out.push_str(".\n");
    }
    out
}

pub fn json(p: &Plan) -> String {
    let changes: Vec<_> = p
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "kind": c.kind.as_str(),
                "name": c.name,
                "action": c.action.as_str(),
                "network": c.network,
                "reasons": c.reasons.iter().map(|r| {
                    let mut v = serde_json::to_value(r).unwrap_or_default();
                    if let Some(o) = v.as_object_mut() { o.insert("message".into(), json!(r.to_string())); }
                    v
                }).collect::<Vec<_>>(),
                "fields": c.fields,
                "operations": p.operations_of(i).map(|o| json!({
                    "id": o.id.0 + 1,
                    "op": o.op.verb(),
                    "description": o.op.to_string(),
                    "after": o.after.iter().map(|a| a.0 + 1).collect::<Vec<_>>(),
                    "rollbackOf": o.rollback_of.as_ref().map(|w| w.iter().map(|a| a.0 + 1).collect::<Vec<_>>()),
                    "stage": o.stage,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let body = json!({
        "changes": changes,
        "conflicts": p.conflicts.iter().map(|c| json!({"kind": c.kind.as_str(), "name": c.name, "message": c.message})).collect::<Vec<_>>(),
        "errors": p.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        "intruders": p.intruders.iter().map(|i| json!({"network": i.network, "container": i.container, "message": i.summary()})).collect::<Vec<_>>(),
        "held": p.held.iter().map(|h| json!({"kind": h.kind.as_str(), "name": h.name, "hash": h.hash, "reason": h.reason, "failedAt": h.failed_at, "message": held_text(h)})).collect::<Vec<_>>(),
        "summary": counts(p),
    });
    serde_json::to_string_pretty(&body).unwrap_or_default()
}
