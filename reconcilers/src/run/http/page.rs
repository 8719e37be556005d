//! GET /: the status page. Server-rendered HTML with inline CSS and the
//! inline SVG graph; a few lines of script follow /events/stream and swap in
//! a fresh copy of the page when the status changes (without script, a meta
//! refresh every 10 s). Everything shown comes from the `Status` alone, and
//! every name and message is escaped: they come from files and the engine.

use crate::graph::escape::xml as esc;
use crate::graph::{svg, NodeState, Topology, UNPHASED};
use crate::run::status::{Readiness, ResourceStatus, Status};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

const CSS: &str = include_str!("page.css");
/// Events shown on the page (GET /events has them all).
const EVENTS_SHOWN: usize = 50;

const SCRIPT: &str = r#"(function () {
  if (!window.EventSource || !window.fetch || !window.DOMParser) { setTimeout(function () { location.reload(); }, 10000); return; }
  var busy = false;
  function refresh() {
    if (busy) return; busy = true;
    fetch('/', { cache: 'no-store' }).then(function (r) { return r.text(); }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('page');
      var old = document.getElementById('page');
      if (fresh && old) old.replaceWith(fresh);
    }).catch(function () {}).then(function () { busy = false; });
  }
  var events = new EventSource('/events/stream');
  events.onmessage = function (m) {
    var page = document.getElementById('page');
    if (page && page.getAttribute('data-version') !== m.data) refresh();
  };
})();"#;

/// A resource's state as the page shows it: a held rollout beats the readiness.
pub fn shown_state(r: &ResourceStatus, held: &BTreeSet<&str>) -> NodeState {
    if held.contains(r.name.as_str()) {
        return NodeState::Held;
    }
    match r.state {
        Readiness::Ready => NodeState::Ready,
        Readiness::Progressing => NodeState::Progressing,
        Readiness::Degraded => NodeState::Degraded,
        Readiness::CrashLooping => NodeState::CrashLooping,
    }
}

/// The whole document; `version` is what /events/stream reports for this status.
pub fn render(s: &Status, version: &str) -> String {
    let empty = Topology::default();
    let topology = s.topology.as_deref().unwrap_or(&empty);
    let held: BTreeSet<&str> = s.held.iter().map(|h| h.name.as_str()).collect();
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>lucidctl status</title><noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript><style>{CSS}</style></head><body><main id=\"page\" data-version=\"{}\">",
        esc(version)
    );
    header(&mut out, s, &held);
    resources_section(&mut out, s, topology, &held);
    held_section(&mut out, s);
    graph_section(&mut out, s, topology, &held);
    events_section(&mut out, s);
    out.push_str("<footer>JSON: <a href=\"/status\">/status</a> · <a href=\"/events\">/events</a> · <a href=\"/metrics\">/metrics</a> · <a href=\"/healthz\">/healthz</a></footer></main>");
    let _ = writeln!(out, "<script>{SCRIPT}</script></body></html>");
    out
}

fn header(out: &mut String, s: &Status, held: &BTreeSet<&str>) {
    let revision = s
        .applied_revision
        .as_deref()
        .or(s.last_good.as_ref().map(|g| g.revision.as_str()))
        .unwrap_or("none yet");
    let duration = s
        .last_duration_seconds
        .map_or(String::new(), |d| format!(" (took {d:.1} s)"));
    let _ = write!(
        out,
        "<header><h1>lucidctl run</h1><p class=\"facts\"><span>revision <b id=\"revision\">{}</b></span><span>last reconcile <b id=\"last-reconcile\">{}</b>{}</span></p>",
        esc(revision),
        esc(s.last_reconcile.as_deref().unwrap_or("not yet")),
        esc(&duration)
    );
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &s.resources {
        *counts.entry(shown_state(r, held).as_str()).or_default() += 1;
    }
    out.push_str("<ul class=\"counts\">");
    for (state, n) in counts {
        let _ = write!(
            out,
            "<li><span class=\"state {state}\">{n} {state}</span></li>"
        );
    }
    out.push_str("</ul></header>");
    if !s.held.is_empty() {
        let _ = write!(
            out,
            "<p class=\"banner warn\" id=\"held-banner\"><a href=\"#held\">{} rollout(s) held</a> after failing: the previous containers run.</p>",
            s.held.len()
        );
    }
    for i in &s.intruders {
        let _ = write!(
            out,
            "<p class=\"banner bad intruder\">Policy violation: {}</p>",
            esc(&i.summary())
        );
    }
    if let Some(since) = &s.disconnected_since {
        let _ = write!(
            out,
            "<p class=\"banner bad\" id=\"disconnected\">The engine is unreachable since {}.</p>",
            esc(since)
        );
    }
    if let Some(broken) = &s.input_error {
        let good = s.last_good.as_ref();
        let _ = write!(
            out,
            "<p class=\"banner bad\" id=\"input-error\">The desired state is broken; running on the last good revision {} since {}: {}</p>",
            esc(good.map_or("-", |g| g.revision.as_str())),
            esc(good.map_or("-", |g| g.since.as_str())),
            esc(broken)
        );
    } else if let Some(e) = &s.last_error {
        let _ = write!(
            out,
            "<p class=\"banner warn\" id=\"last-error\">Last pass failed: {}</p>",
            esc(e)
        );
    }
}

fn held_section(out: &mut String, s: &Status) {
    out.push_str("<section id=\"held\"><h2>Held rollouts</h2>");
    if s.held.is_empty() {
        out.push_str(
            "<p class=\"note\">None: every spec rolled out or is rolling out.</p></section>",
        );
        return;
    }
    out.push_str("<table><tr><th>Resource</th><th>Why it is held</th></tr>");
    for h in &s.held {
        let _ = write!(
            out,
            "<tr class=\"held-rollout\" data-name=\"{}\"><td class=\"name\">{}<div class=\"kind\">{} · spec {}</div></td><td class=\"error\">{}</td></tr>",
            esc(&h.name),
            esc(&h.name),
            h.kind,
            esc(h.short_hash()),
            esc(&h.summary())
        );
    }
    out.push_str("</table><p class=\"note\">Retried when the spec changes, or with <code>lucidctl apply --retry-failed</code>.</p></section>");
}

fn resources_section(out: &mut String, s: &Status, t: &Topology, held: &BTreeSet<&str>) {
    out.push_str("<section id=\"resources\"><h2>Resources by phase</h2>");
    if s.resources.is_empty() {
        out.push_str("<p class=\"note\">No pass has finished yet.</p>");
    }
    let phase = |r: &ResourceStatus| {
        t.resource_phases
            .get(&format!("{}/{}", r.kind, r.name))
            .cloned()
            .unwrap_or_else(|| UNPHASED.to_string())
    };
    let mut groups: BTreeMap<String, Vec<&ResourceStatus>> = BTreeMap::new();
    for r in &s.resources {
        groups.entry(phase(r)).or_default().push(r);
    }
    let mut order: Vec<String> = t
        .phases
        .iter()
        .filter(|p| groups.contains_key(*p))
        .cloned()
        .collect();
    order.extend(groups.keys().filter(|p| !t.phases.contains(p)).cloned());
    for p in order {
        let members = &groups[&p];
        let _ = write!(
            out,
            "<div class=\"phase\" data-phase=\"{}\"><h3>{} <span class=\"kind\">({})</span></h3><table>",
            esc(&p),
            esc(&p),
            members.len()
        );
        for r in members {
            let state = shown_state(r, held).as_str();
            let error = r.last_error.as_deref().map_or(String::new(), |e| {
                format!("<div class=\"error\">{}</div>", esc(e))
            });
            let _ = write!(
                out,
                "<tr class=\"resource\" data-kind=\"{k}\" data-name=\"{n}\" data-state=\"{state}\"><td><span class=\"state {state}\">{state}</span></td><td class=\"name\">{n} <span class=\"kind\">{k}</span>{error}</td><td class=\"when\">{}</td></tr>",
                esc(r.last_reconcile.as_deref().unwrap_or("")),
                k = esc(&r.kind),
                n = esc(&r.name),
            );
        }
        out.push_str("</table></div>");
    }
    out.push_str("</section>");
}

fn graph_section(out: &mut String, s: &Status, t: &Topology, held: &BTreeSet<&str>) {
    let states: BTreeMap<String, NodeState> = s
        .resources
        .iter()
        .map(|r| (r.name.clone(), shown_state(r, held)))
        .collect();
    out.push_str("<section id=\"graph\"><h2>Dependency graph</h2><p class=\"note\">Arrows point from a service to what it depends on, labelled with the condition; scroll sideways on a small screen.</p><div class=\"scroll\">");
    out.push_str(&svg::render(t, &states));
    out.push_str("</div><ul class=\"nets\">");
    for net in &t.networks {
        let attached = t.nodes.iter().filter(|n| n.networks.contains(net)).count();
        let state = states.get(net).map_or("unknown", |s| s.as_str());
        let _ = write!(out, "<li class=\"network\" data-name=\"{n}\"><b>{n}</b> · {attached} attached · <span class=\"state {state}\">{state}</span>", n = esc(net));
        for b in t.boundaries.iter().filter(|b| &b.network == net) {
            let _ = write!(
                out,
                " · <span class=\"isolated\">isolated</span>: members {}; bridged by {}",
                esc(&b.members.join(", ")),
                esc(&if b.bridges.is_empty() {
                    "nothing".to_string()
                } else {
                    b.bridges.join(", ")
                })
            );
        }
        out.push_str("</li>");
    }
    out.push_str("</ul></section>");
}

fn events_section(out: &mut String, s: &Status) {
    out.push_str("<section id=\"events\"><h2>Recent events</h2>");
    if s.events.iter().next().is_none() {
        out.push_str("<p class=\"note\">Nothing has happened yet.</p></section>");
        return;
    }
    out.push_str("<table><tr><th>Event</th><th>What</th></tr>");
    for e in s.events.iter().rev().take(EVENTS_SHOWN) {
        let severity = serde_json::to_value(e.severity).ok();
        let severity = severity.as_ref().and_then(|v| v.as_str()).unwrap_or("info");
        let _ = write!(
            out,
            "<tr class=\"event\" data-event=\"{ev}\"><td><span class=\"sev-{severity}\">{ev}</span><div class=\"kind\">{}</div></td><td class=\"name\">{}<div class=\"kind\">{}</div></td></tr>",
            esc(&e.time),
            esc(&e.message),
            esc(e.resource.as_deref().unwrap_or("")),
            ev = esc(&e.event),
        );
    }
    out.push_str("</table></section>");
}

#[cfg(test)]
mod tests;
