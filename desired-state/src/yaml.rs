//! YAML into `serde_json::Value`, remembering where every
//! node came from so that later errors can name a line and column.
//!
//! Scalars resolve by the YAML 1.2 core schema, so `no` stays a string.

use crate::diagnostics::{Diagnostic, Location};
use crate::positions::{NodeId, Positions};
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::path::Path;

/// Deeper than any real resource, shallow enough that recursive serde code is safe.
const MAX_DEPTH: usize = 64;
/// Guards against alias expansion bombs.
const MAX_NODES: usize = 1_000_000;
/// Bounds the re-parses for flow collections closed left of their key.
const MAX_SHIFTS: usize = 200;

/// One document with the source position of each node (and of each mapping
/// key, for errors about the key itself), looked up by JSON pointer.
#[derive(Debug, Clone)]
pub struct ParsedDocument {
    pub value: Value,
    pub positions: Positions,
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
    },
    Map {
        map: Map<String, Value>,
        key: Option<String>,
        anchor: usize,
    },
}

struct Builder<'f> {
    file: &'f Path,
    stack: Vec<Frame>,
    /// The position-tree node of each open collection, and of the node being placed.
    path: Vec<NodeId>,
    anchors: HashMap<usize, Value>,
    positions: Positions,
    nodes: usize,
    stack_root: Option<Value>,
    /// Lines given an extra leading space by `parse_documents`, once per space.
    shifted: Vec<usize>,
}

pub fn parse_documents(file: &Path, text: &str) -> Result<Vec<ParsedDocument>, Diagnostic> {
    // libyaml (PyYAML, compose v1) and compose v2's parser accept a flow
    // collection closed by a `]` or `}` at the parent key's indentation, which
    // the YAML spec and saphyr refuse. Such a line gets one leading space and
    // the text is parsed again; positions on it are shifted back, so every
    // node keeps its own line and column. Each retry fixes one more line.
    let mut text = std::borrow::Cow::Borrowed(text);
    let mut shifted: Vec<usize> = Vec::new();
    loop {
        match parse_once(file, &text, &shifted) {
            Ok(docs) => return Ok(docs),
            Err(ParseFailure::Closer(line)) if shifted.len() < MAX_SHIFTS => {
                text = std::borrow::Cow::Owned(indent_line(&text, line));
                shifted.push(line);
            }
            Err(ParseFailure::Closer(line)) => {
                return Err(Diagnostic::error(
                    "YAML syntax error: too many flow collections end left of their key",
                )
                .at(Some(loc(file, line, 0)))
                .hint("indent each closing ']' or '}' further than its key"))
            }
            Err(ParseFailure::Other(d)) => return Err(d),
        }
    }
}

enum ParseFailure {
    /// "invalid indentation" at a line that starts with a flow closer (1-based line).
    Closer(usize),
    Other(Diagnostic),
}

/// `text` with one space before the first character of `line` (1-based).
fn indent_line(text: &str, line: usize) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            out.push(' ');
        }
        out.push_str(l);
    }
    out
}

/// Whether `line` (1-based) of `text` starts, after blanks, with `]` or `}`.
fn starts_with_closer(text: &str, line: usize) -> bool {
    text.lines()
        .nth(line.wrapping_sub(1))
        .map(|l| l.trim_start_matches([' ', '\t']))
        .is_some_and(|l| l.starts_with(']') || l.starts_with('}'))
}

fn parse_once(
    file: &Path,
    text: &str,
    shifted: &[usize],
) -> Result<Vec<ParsedDocument>, ParseFailure> {
    let mut docs = Vec::new();
    let mut b = Builder::new(file);
    b.shifted = shifted.to_vec();
    for item in Parser::new_from_str(text) {
        let (event, mut span) = item.map_err(|e| {
            let m = e.marker();
            if e.info() == "invalid indentation" && starts_with_closer(text, m.line()) {
                return ParseFailure::Closer(m.line());
            }
            let n = shifted.iter().filter(|l| **l == m.line()).count();
            let col = m.col().saturating_sub(n);
            ParseFailure::Other(
                Diagnostic::error(format!("YAML syntax error: {}", e.info()))
                    .at(Some(loc(file, m.line(), col)))
                    .hint("check indentation, quoting and the ':' after each key"),
            )
        })?;
        span = b.unshift(span);
        let other = ParseFailure::Other;
        match event {
            Event::DocumentStart(_) => {
                b = Builder::new(file);
                b.shifted = shifted.to_vec();
            }
            Event::DocumentEnd => {}
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::Scalar(text, style, anchor, tag) => {
                let forced_string = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if forced_string || style != ScalarStyle::Plain {
                    Value::String(text.into_owned())
                } else {
                    resolve_plain(&text)
                };
                b.scalar(value, anchor, span).map_err(other)?;
                if let Some(v) = b.finished() {
                    docs.push(b.document(v));
                }
            }
            Event::Alias(id) => {
                let value = b
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| other(b.error(span, "alias refers to an unknown anchor")))?;
                b.nodes += count_nodes(&value);
                b.scalar(value, 0, span).map_err(other)?;
                if let Some(v) = b.finished() {
                    docs.push(b.document(v));
                }
            }
            Event::SequenceStart(anchor, _) => b
                .open(
                    Frame::Seq {
                        items: Vec::new(),
                        anchor,
                    },
                    span,
                )
                .map_err(other)?,
            Event::MappingStart(anchor, _) => b
                .open(
                    Frame::Map {
                        map: Map::new(),
                        key: None,
                        anchor,
                    },
                    span,
                )
                .map_err(other)?,
            Event::SequenceEnd | Event::MappingEnd => {
                b.close(span).map_err(other)?;
                if let Some(v) = b.finished() {
                    docs.push(b.document(v));
                }
            }
        }
    }
    Ok(docs)
}

fn loc(file: &Path, line: usize, col: usize) -> Location {
    Location {
        file: file.to_path_buf(),
        line,
        column: col + 1,
    }
}

fn count_nodes(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(count_nodes).sum::<usize>(),
        Value::Object(o) => 1 + o.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

impl<'f> Builder<'f> {
    fn new(file: &'f Path) -> Self {
        Builder {
            file,
            stack: Vec::new(),
            path: Vec::new(),
            anchors: HashMap::new(),
            positions: Positions::default(),
            nodes: 0,
            stack_root: None,
            shifted: Vec::new(),
        }
    }

    /// The span as the original text had it, before lines were shifted.
    fn unshift(&self, span: Span) -> Span {
        let fix = |m: saphyr_parser::Marker| {
            let n = self.shifted.iter().filter(|l| **l == m.line()).count();
            saphyr_parser::Marker::new(m.index(), m.line(), m.col().saturating_sub(n))
        };
        Span::new(fix(span.start), fix(span.end))
    }

    fn error(&self, span: Span, msg: &str) -> Diagnostic {
        Diagnostic::error(msg.to_string()).at(Some(loc(
            self.file,
            span.start.line(),
            span.start.col(),
        )))
    }

    fn current(&self) -> NodeId {
        self.path.last().copied().unwrap_or(Positions::ROOT)
    }

    /// Called before a node is placed, to learn (and push) its path segment.
    fn enter(&mut self, span: Span) -> Result<bool, Diagnostic> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.error(
                span,
                "document too large (more than a million nodes after alias expansion)",
            ));
        }
        let parent = self.current();
        let node = match self.stack.last() {
            None => Positions::ROOT,
            Some(Frame::Seq { items, .. }) => {
                let index = items.len().to_string();
                self.positions.child(parent, &index)
            }
            Some(Frame::Map { key: Some(k), .. }) => {
                let k = k.clone();
                self.positions.child(parent, &k)
            }
            Some(Frame::Map { key: None, .. }) => return Ok(false),
        };
        self.path.push(node);
        self.positions
            .set_value(node, (span.start.line(), span.start.col() + 1));
        Ok(true)
    }

    fn scalar(&mut self, value: Value, anchor: usize, span: Span) -> Result<(), Diagnostic> {
        if let Some(Frame::Map { key: None, map, .. }) = self.stack.last() {
            let k = match value {
                Value::String(s) => s,
                Value::Null => "null".to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                _ => return Err(self.error(span, "a mapping key must be a plain scalar")),
            };
            if map.contains_key(&k) {
                return Err(self.error(span, &format!("duplicate key {k:?} in the same mapping")));
            }
            let parent = self.current();
            let node = self.positions.child(parent, &k);
            self.positions
                .set_key(node, (span.start.line(), span.start.col() + 1));
            if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                *key = Some(k);
            }
            return Ok(());
        }
        self.enter(span)?;
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        self.place(value);
        Ok(())
    }

    fn open(&mut self, frame: Frame, span: Span) -> Result<(), Diagnostic> {
        if !self.enter(span)? {
            return Err(self.error(
                span,
                "a mapping key must be a plain scalar, not a collection",
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.error(span, "nesting is too deep (more than 64 levels)"));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self, span: Span) -> Result<(), Diagnostic> {
        let (value, anchor) = match self.stack.pop() {
            Some(Frame::Seq { items, anchor }) => (Value::Array(items), anchor),
            Some(Frame::Map {
                map,
                key: None,
                anchor,
            }) => (Value::Object(map), anchor),
            Some(Frame::Map { key: Some(_), .. }) | None => {
                return Err(self.error(span, "unbalanced collection end"));
            }
        };
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        self.place(value);
        Ok(())
    }

    /// Puts a finished node into its parent and pops its path segment.
    fn place(&mut self, value: Value) {
        match self.stack.last_mut() {
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { map, key, .. }) => {
                if let Some(k) = key.take() {
                    map.insert(k, value);
                }
            }
            None => self.stack_root = Some(value),
        }
        self.path.pop();
    }

    fn finished(&mut self) -> Option<Value> {
        if self.stack.is_empty() {
            self.stack_root.take()
        } else {
            None
        }
    }

    fn document(&mut self, value: Value) -> ParsedDocument {
        ParsedDocument {
            value,
            positions: std::mem::take(&mut self.positions),
        }
    }
}

fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let negative = s.starts_with('-');
    let int = if let Some(hex) = s.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = s.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Value::Number(i.into());
    }
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(u) = unsigned.parse::<u64>() {
            if !negative {
                return Value::Number(u.into());
            }
        }
    }
    let looks_float = unsigned
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || b"._eE+-".contains(&b))
        && unsigned.bytes().any(|b| b.is_ascii_digit());
    if looks_float {
        if let Some(n) = s.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<ParsedDocument> {
        parse_documents(Path::new("t.yaml"), text).unwrap()
    }

    #[test]
    fn resolves_scalars_by_the_core_schema() {
        let d = parse("a: 1\nb: no\nc: true\nd: '1'\ne: ~\nf: 1.5\ng: 0x10\n");
        let v = &d[0].value;
        assert_eq!(v["a"], 1);
        assert_eq!(v["b"], "no");
        assert_eq!(v["c"], true);
        assert_eq!(v["d"], "1");
        assert_eq!(v["e"], Value::Null);
        assert_eq!(v["f"], 1.5);
        assert_eq!(v["g"], 16);
    }

    #[test]
    fn flow_sequences_may_close_at_the_key_indentation() {
        // As libyaml and compose accept it; positions stay those of the original text.
        let d = parse("services:\n  web:\n    command: [\n      \"a\", \"b\"\n    ]\n    x: {\n      k: 1\n}\n    y: 2\n");
        let v = &d[0].value;
        assert_eq!(
            v["services"]["web"]["command"],
            serde_json::json!(["a", "b"])
        );
        assert_eq!(v["services"]["web"]["y"], 2);
        assert_eq!(d[0].positions["/services/web/command/1"], (4, 12));
        assert_eq!(d[0].positions["/services/web/y"], (9, 8));
        let err = parse_documents(Path::new("t.yaml"), "a:\n  b: [\n  ]\n c: 1\n").unwrap_err();
        assert!(err.to_string().contains("t.yaml:4:"), "{err}");
    }

    #[test]
    fn records_positions_by_pointer() {
        let d = parse("---\nkind: X\nspec:\n  ports:\n    - containerPort: 1\n---\nkind: Y\n");
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].positions["/spec/ports/0/containerPort"], (5, 22));
        assert_eq!(d[0].positions["/kind"], (2, 7));
        assert_eq!(d[1].value["kind"], "Y");
    }

    #[test]
    fn syntax_errors_carry_a_location() {
        let err = parse_documents(Path::new("t.yaml"), "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.location.is_some(), "{err}");
        assert!(err.message.starts_with("YAML syntax error"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse_documents(Path::new("t.yaml"), "a: 1\na: 2\n").unwrap_err();
        assert!(err.to_string().contains("t.yaml:2:1"), "{err}");
    }

    #[test]
    fn aliases_expand_and_bombs_are_refused() {
        let d = parse("a: &x [1, 2]\nb: *x\n");
        assert_eq!(d[0].value["b"], serde_json::json!([1, 2]));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            bomb.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        assert!(parse_documents(Path::new("t.yaml"), &bomb).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = "[".repeat(10_000);
        assert!(parse_documents(Path::new("t.yaml"), &deep).is_err());
    }
}
