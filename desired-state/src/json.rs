//! `.json` files: strict JSON (RFC 8259) by serde_json, with the position of
//! every node recorded like the YAML path does, for later error messages.
//!
//! Two passes. serde_json decides what is valid and builds the value, so a
//! trailing comma, a comment, a single-quoted string or `NaN` is refused with
//! its line and column. Then a small scanner walks the text, now known to be
//! valid JSON, and records where each node (by JSON pointer) and each key was
//! written; it also refuses duplicate keys, which serde_json would silently
//! resolve to the last one. Handing valid JSON to the YAML parser instead
//! would mostly work, but not always: a key longer than 1024 characters, a key
//! and its `:` on different lines, or a `\ud83d\ude00` surrogate pair are valid
//! JSON that YAML rejects or reads differently.

use crate::diagnostics::{Diagnostic, Location};
use crate::positions::{NodeId, Positions};
use crate::yaml::ParsedDocument;
use serde_json::Value;
use std::path::Path;

/// The same bound as the YAML path: deeper than any real resource.
const MAX_DEPTH: usize = 64;

const STRICT_HINT: &str = "a .json file must be strict JSON: keys and strings in double quotes, \
no trailing commas, no comments (use a .yaml file for YAML syntax)";

/// Parses one `.json` file. Like YAML's `null` document, a top-level `null` yields no document.
pub fn parse_document(file: &Path, text: &str) -> Result<Vec<ParsedDocument>, Diagnostic> {
    // RFC 8259 lets a parser ignore a byte order mark; editors do not count it as a column.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(Diagnostic::error("empty file: a .json file must hold one JSON object")
            .at(Some(at(file, 1, 1)))
            .hint("write the resource as {\"apiVersion\": \"lucid/v1alpha1\", \"kind\": ..., \"metadata\": {\"name\": ...}, \"spec\": {...}}, or remove the file"));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| syntax_error(file, text, &e))?;
    let mut scanner = Scanner {
        file,
        text,
        pos: 0,
        line: 1,
        col: 1,
        positions: Positions::default(),
    };
    scanner.skip_ws();
    scanner.value(Positions::ROOT, 0)?;
    if value.is_null() {
        return Ok(Vec::new());
    }
    Ok(vec![ParsedDocument {
        value,
        positions: scanner.positions,
    }])
}

fn at(file: &Path, line: usize, column: usize) -> Location {
    Location {
        file: file.to_path_buf(),
        line,
        column,
    }
}

fn syntax_error(file: &Path, text: &str, e: &serde_json::Error) -> Diagnostic {
    let line = e.line().max(1);
    // serde_json counts columns in bytes; the YAML path and editors count characters.
    let line_text = text.split('\n').nth(line - 1).unwrap_or("");
    let mut end = e.column().min(line_text.len());
    while !line_text.is_char_boundary(end) {
        end += 1;
    }
    let column = line_text[..end].chars().count().max(1);
    let full = e.to_string();
    let message = full
        .strip_suffix(&format!(" at line {} column {}", e.line(), e.column()))
        .unwrap_or(&full);
    // Where serde_json stopped: the offending character is the last one it read.
    let rest = line_text
        .char_indices()
        .nth(column - 1)
        .map(|(i, _)| &line_text[i..])
        .unwrap_or("");
    let hint = if message.contains("recursion limit") {
        "nesting is too deep; real resources need a few levels".to_string()
    } else if rest.starts_with("//") || rest.starts_with("/*") || rest.starts_with('#') {
        "JSON has no comments: remove it (or use a .yaml file, where `#` starts a comment)"
            .to_string()
    } else if message.starts_with("trailing comma") {
        "remove the comma after the last item".to_string()
    } else {
        STRICT_HINT.to_string()
    };
    Diagnostic::error(format!("JSON syntax error: {message}"))
        .at(Some(at(file, line, column)))
        .hint(hint)
}

/// Walks text that serde_json has accepted. It still checks as it goes and
/// returns an error instead of panicking if the text is not what it expects.
struct Scanner<'a> {
    file: &'a Path,
    text: &'a str,
    /// Byte offset into `text`.
    pos: usize,
    line: usize,
    /// Counted in characters, from 1.
    col: usize,
    positions: Positions,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.bump();
        }
    }

    fn here(&self) -> (usize, usize) {
        (self.line, self.col)
    }

    fn error(&self, (line, column): (usize, usize), msg: impl Into<String>) -> Diagnostic {
        Diagnostic::error(msg).at(Some(at(self.file, line, column)))
    }

    fn expect(&mut self, want: char) -> Result<(), Diagnostic> {
        self.skip_ws();
        match self.bump() {
            Some(c) if c == want => Ok(()),
            _ => Err(self
                .error(self.here(), format!("JSON syntax error: expected `{want}`"))
                .hint(STRICT_HINT)),
        }
    }

    /// One value at the current position (whitespace already skipped).
    fn value(&mut self, node: NodeId, depth: usize) -> Result<(), Diagnostic> {
        let start = self.here();
        self.positions.set_value(node, start);
        match self.peek() {
            Some('{') | Some('[') if depth >= MAX_DEPTH => {
                Err(self.error(start, "nesting is too deep (more than 64 levels)"))
            }
            Some('{') => {
                self.bump();
                self.object(node, depth + 1)
            }
            Some('[') => {
                self.bump();
                self.array(node, depth + 1)
            }
            Some('"') => self.string().map(|_| ()),
            Some(_) => {
                // A number, true, false or null: runs up to the next delimiter.
                while !matches!(
                    self.peek(),
                    None | Some(',' | '}' | ']' | ' ' | '\t' | '\n' | '\r')
                ) {
                    self.bump();
                }
                Ok(())
            }
            None => Err(self
                .error(start, "JSON syntax error: unexpected end of file")
                .hint(STRICT_HINT)),
        }
    }

    fn object(&mut self, node: NodeId, depth: usize) -> Result<(), Diagnostic> {
        self.skip_ws();
        if self.peek() == Some('}') {
            self.bump();
            return Ok(());
        }
        loop {
            self.skip_ws();
            let key_at = self.here();
            if self.peek() != Some('"') {
                return Err(self
                    .error(key_at, "JSON syntax error: expected a key in double quotes")
                    .hint(STRICT_HINT));
            }
            let key = self.string()?;
            let child = self.positions.child(node, &key);
            if let Some(first) = self.positions.key_of(child) {
                return Err(self
                    .error(key_at, format!("duplicate key {key:?} in the same mapping"))
                    .hint(format!(
                        "it is already given at line {}, column {}; keep one",
                        first.0, first.1
                    )));
            }
            self.positions.set_key(child, key_at);
            self.expect(':')?;
            self.skip_ws();
            self.value(child, depth)?;
            self.skip_ws();
            match self.bump() {
                Some(',') => continue,
                Some('}') => return Ok(()),
                _ => {
                    return Err(self
                        .error(self.here(), "JSON syntax error: expected `,` or `}`")
                        .hint(STRICT_HINT))
                }
            }
        }
    }

    fn array(&mut self, node: NodeId, depth: usize) -> Result<(), Diagnostic> {
        self.skip_ws();
        if self.peek() == Some(']') {
            self.bump();
            return Ok(());
        }
        for index in 0.. {
            self.skip_ws();
            let child = self.positions.child(node, &index.to_string());
            self.value(child, depth)?;
            self.skip_ws();
            match self.bump() {
                Some(',') => {}
                Some(']') => return Ok(()),
                _ => {
                    return Err(self
                        .error(self.here(), "JSON syntax error: expected `,` or `]`")
                        .hint(STRICT_HINT))
                }
            }
        }
        Ok(())
    }

    /// A string token, decoded by serde_json (escapes, surrogate pairs).
    fn string(&mut self) -> Result<String, Diagnostic> {
        let start = self.here();
        let from = self.pos;
        self.bump(); // the opening quote
        loop {
            match self.bump() {
                Some('\\') => {
                    self.bump();
                }
                Some('"') => break,
                Some(_) => {}
                None => {
                    return Err(self
                        .error(start, "JSON syntax error: unterminated string")
                        .hint(STRICT_HINT))
                }
            }
        }
        serde_json::from_str(&self.text[from..self.pos]).map_err(|e| {
            self.error(start, format!("JSON syntax error: {e}"))
                .hint(STRICT_HINT)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<ParsedDocument>, Diagnostic> {
        parse_document(Path::new("t.json"), text)
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn trailing_comma_is_refused_with_line_and_column() {
        let e = err("{\n  \"a\": 1,\n}\n");
        assert!(
            e.starts_with("t.json:3:1: JSON syntax error: trailing comma"),
            "{e}"
        );
        assert!(e.contains("fix: remove the comma"), "{e}");
        let e = err("{\"a\": [1, 2,]}");
        assert!(
            e.starts_with("t.json:1:13: JSON syntax error: trailing comma"),
            "{e}"
        );
    }

    #[test]
    fn comments_are_refused() {
        let e = err("{\n  // the name\n  \"a\": 1\n}\n");
        assert!(e.starts_with("t.json:2:3: JSON syntax error"), "{e}");
        assert!(e.contains("JSON has no comments"), "{e}");
        let e = err("{\"a\": 1 /* x */}");
        assert!(e.starts_with("t.json:1:9: JSON syntax error"), "{e}");
        assert!(e.contains("JSON has no comments"), "{e}");
    }

    #[test]
    fn yaml_only_syntax_is_refused() {
        for text in [
            "a: 1\n",
            "{a: 1}",
            "{'a': 1}",
            "{\"a\": NaN}",
            "{\"a\": 1}\n{\"b\": 2}",
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.message.starts_with("JSON syntax error"), "{text}: {e}");
            assert!(e.location.is_some(), "{text}: {e}");
            assert!(e.hint.is_some(), "{text}: {e}");
        }
    }

    #[test]
    fn empty_file_is_an_error_not_a_panic() {
        for text in ["", "  \n", "\u{feff}"] {
            let e = parse(text).unwrap_err();
            assert!(e.to_string().starts_with("t.json:1:1: empty file"), "{e}");
        }
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let e = err("{\"é\": \"ü\",}");
        assert!(e.starts_with("t.json:1:11:"), "{e}");
        let d = parse("{\"é\": \"ü\", \"b\": 1}").unwrap();
        assert_eq!(d[0].positions["/b"], (1, 17));
    }

    #[test]
    fn records_positions_by_pointer() {
        let text = "{\n  \"kind\": \"X\",\n  \"spec\": {\n    \"ports\": [\n      {\"containerPort\": 1},\n      {\"a/b~c\": [true, null]}\n    ]\n  }\n}\n";
        let d = parse(text).unwrap();
        assert_eq!(d.len(), 1);
        let p = &d[0].positions;
        assert_eq!(p[""], (1, 1));
        assert_eq!(p["/kind"], (2, 11));
        assert_eq!(p["/spec"], (3, 11));
        assert_eq!(p["/spec/ports/0"], (5, 7));
        assert_eq!(p["/spec/ports/0/containerPort"], (5, 25));
        assert_eq!(p["/spec/ports/1/a~1b~0c/1"], (6, 24));
        assert_eq!(
            d[0].positions
                .get_key("/spec/ports/0/containerPort")
                .copied(),
            Some((5, 8))
        );
        assert_eq!(d[0].value["spec"]["ports"][1]["a/b~c"][0], true);
    }

    #[test]
    fn every_node_has_a_position() {
        fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        pointers(
                            v,
                            format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                            out,
                        );
                    }
                }
                Value::Array(a) => {
                    for (i, v) in a.iter().enumerate() {
                        pointers(v, format!("{at}/{i}"), out);
                    }
                }
                _ => {}
            }
            out.push(at);
        }
        let text = r#"{"a": {"b": [1, -2.5e3, "x\"y\\", {"": false}], "c\u0041": {}},
            "\ud83d\ude00": [[], [[]]], "t": "tab\there"}"#;
        let d = parse(text).unwrap();
        let mut all = Vec::new();
        pointers(&d[0].value, String::new(), &mut all);
        for p in &all {
            assert!(d[0].positions.contains_key(p), "no position for {p:?}");
        }
        assert_eq!(d[0].positions.len(), all.len());
        assert!(d[0].positions.contains_key("/a/cA"));
        assert!(d[0].positions.contains_key("/\u{1f600}/1/0"));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = err("{\"a\": 1,\n \"a\": 2}");
        assert!(e.starts_with("t.json:2:2: duplicate key \"a\""), "{e}");
        assert!(e.contains("line 1, column 2"), "{e}");
        // The same key in different objects is fine; escapes are compared decoded.
        assert!(parse("{\"a\": {\"x\": 1}, \"b\": {\"x\": 1}}").is_ok());
        assert!(err("{\"x\": 1, \"\\u0078\": 2}").contains("duplicate key \"x\""));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let e = parse(&"[".repeat(10_000)).unwrap_err();
        assert!(e.location.is_some());
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert!(parse(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert!(err(&deep).contains("nesting is too deep"));
    }

    #[test]
    fn top_level_null_is_no_document() {
        assert!(parse("null").unwrap().is_empty());
        assert_eq!(parse("[1]").unwrap()[0].value, serde_json::json!([1]));
    }
}
