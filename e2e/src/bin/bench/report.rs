//! Samples, the Markdown table and the JSON file.

use serde_json::{json, Value};
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Unit {
    Seconds,
    /// Percent of one core.
    Percent,
    Megabytes,
}

impl Unit {
    fn id(self) -> &'static str {
        match self {
            Unit::Seconds => "s",
            Unit::Percent => "% of one core",
            Unit::Megabytes => "MB",
        }
    }

    fn show(self, v: f64) -> String {
        match self {
            Unit::Seconds => format!("{v:.3} s"),
            Unit::Percent => format!("{v:.2} %"),
            Unit::Megabytes => format!("{v:.1} MB"),
        }
    }
}

/// One line of the table: one tool in one scenario on one system.
pub struct Row {
    pub scenario: u8,
    pub system: String,
    /// "lucidctl", "compose-v1", ..., or a measurement of its own ("api-floor", "docker-build").
    pub tool: String,
    /// The tool and its version, as shown.
    pub label: String,
    /// What the figure means when it is not the tool's plain command ("manual re-run").
    pub note: String,
    pub unit: Unit,
    pub samples: Vec<f64>,
    /// Why there are no (or not all) samples: not installed, unsupported, failed.
    pub error: Option<String>,
}

impl Row {
    pub fn new(scenario: u8, system: &str, tool: &str, label: &str, unit: Unit) -> Row {
        Row {
            scenario,
            system: system.to_string(),
            tool: tool.to_string(),
            label: label.to_string(),
            note: String::new(),
            unit,
            samples: Vec::new(),
            error: None,
        }
    }

    pub fn note(mut self, note: &str) -> Row {
        self.note = note.to_string();
        self
    }

    pub fn failed(mut self, why: String) -> Row {
        self.error = Some(why);
        self
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.samples.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    pub fn median(&self) -> Option<f64> {
        let v = self.sorted();
        match v.len() {
            0 => None,
            n if n % 2 == 1 => Some(v[n / 2]),
            n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        }
    }
}

pub fn title(scenario: u8) -> &'static str {
    match scenario {
        1 => "cold converge, health-gated",
        2 => "no-op converge",
        3 => "dry run",
        4 => "one env value changed",
        5 => "drift: container removed, until running again",
        6 => "up-to-date build, 200 MB context",
        7 => "idle run loop",
        8 => "API floor: list + inspect all",
        _ => "?",
    }
}

/// lucidctl's median over this row's, for anchors; lucidctl's multiple of the
/// API floor for its no-op and dry-run rows.
fn ratio(row: &Row, rows: &[Row]) -> String {
    let same = |scenario: u8, tool: &str| {
        rows.iter()
            .find(|r| r.scenario == scenario && r.system == row.system && r.tool == tool)
            .and_then(Row::median)
    };
    let Some(mine) = row.median() else {
        return String::new();
    };
    if row.tool.starts_with("lucidctl-") {
        // A part of lucidctl's own figure (the drift repair's breakdown).
        return String::new();
    }
    if row.tool == "lucidctl" {
        // Against the whole-process floor when it was measured: lucidctl's
        // figure is a whole process too. The in-process one is shown beside it.
        let process = same(8, "api-floor-process");
        let inside = same(8, "api-floor");
        return match (row.scenario, process, inside) {
            (2 | 3, Some(p), Some(i)) if p > 0.0 && i > 0.0 => format!(
                "{:.2}x process floor ({:.1}x in-process)",
                mine / p,
                mine / i
            ),
            (2 | 3, None, Some(i)) if i > 0.0 => format!("{:.1}x floor", mine / i),
            _ => String::new(),
        };
    }
    match same(row.scenario, "lucidctl") {
        Some(l) if mine > 0.0 && row.unit == Unit::Seconds && row.scenario != 8 => {
            let speed = if l <= mine {
                format!("lucidctl {:.1}x faster", mine / l)
            } else {
                format!("lucidctl {:.1}x slower", l / mine)
            };
            format!("{:.3} ({speed})", l / mine)
        }
        _ => String::new(),
    }
}

pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| # | scenario | system | tool | n | min | median | max | lucidctl/anchor |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let tool = if row.note.is_empty() {
            row.label.clone()
        } else {
            format!("{} ({})", row.label, row.note)
        };
        let v = row.sorted();
        let (n, min, median, max) = if v.is_empty() {
            (
                "0".to_string(),
                row.error
                    .clone()
                    .unwrap_or_default()
                    .replace('|', "/")
                    .replace('\n', " "),
                String::new(),
                String::new(),
            )
        } else {
            let mut n = v.len().to_string();
            if let Some(e) = &row.error {
                n = format!(
                    "{n} (then failed: {})",
                    e.replace('|', "/").replace('\n', " ")
                );
            }
            (
                n,
                row.unit.show(v[0]),
                row.unit.show(row.median().unwrap_or_default()),
                row.unit.show(v[v.len() - 1]),
            )
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.scenario,
            title(row.scenario),
            row.system,
            tool,
            n,
            min,
            median,
            max,
            ratio(row, rows)
        ));
    }
    out
}

pub fn write_json(path: &Path, header: Value, rows: &[Row], table: &str) -> Result<(), String> {
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let v = r.sorted();
            json!({
                "scenario": r.scenario,
                "title": title(r.scenario),
                "system": r.system,
                "tool": r.tool,
                "label": r.label,
                "note": r.note,
                "unit": r.unit.id(),
                "samples": r.samples,
                "min": v.first(),
                "median": r.median(),
                "max": v.last(),
                "error": r.error,
            })
        })
        .collect();
    let mut doc = header;
    doc["rows"] = json!(rows);
    doc["table"] = json!(table);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}
