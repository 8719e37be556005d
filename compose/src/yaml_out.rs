//! A small block-style YAML emitter for `serde_json::Value`, enough for compose
//! files and desired-state documents. Strings that a YAML 1.1 reader (PyYAML,
//! which docker-compose 1.x uses) or a YAML 1.2 reader could take for anything
//! but a string are double-quoted, JSON style, which is valid YAML; multi-line
//! strings become literal blocks when that is exact.

use serde_json::Value;

/// The value as a YAML document body (no `---`), ending with a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => emit_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => emit_seq(&mut out, items, 0),
        other => {
            out.push_str(&inline(other, 0));
            out.push('\n');
        }
    }
    out
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn emit_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    let mut first = true;
    for (k, v) in map {
        if !first || !out.ends_with("- ") {
            pad(out, indent);
        }
        first = false;
        out.push_str(&key(k));
        out.push(':');
        emit_child(out, v, indent);
    }
}

fn emit_seq(out: &mut String, items: &[Value], indent: usize) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 || !out.ends_with("- ") {
            pad(out, indent);
        }
        out.push_str("- ");
        match v {
            Value::Object(m) if !m.is_empty() => emit_map(out, m, indent + 2),
            Value::Array(a) if !a.is_empty() => emit_seq(out, a, indent + 2),
            Value::String(s) if literal_ok(s) => literal(out, s, indent + 2),
            other => {
                out.push_str(&inline(other, indent + 2));
                out.push('\n');
            }
        }
    }
}

/// After `key:` — either ` scalar\n` or a nested block.
fn emit_child(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit_map(out, m, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            emit_seq(out, a, indent + 2);
        }
        Value::String(s) if literal_ok(s) => {
            out.push(' ');
            literal(out, s, indent + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other, indent));
            out.push('\n');
        }
    }
}

fn inline(v: &Value, _indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn key(k: &str) -> String {
    scalar(k)
}

/// A string scalar: plain when no reader could mistake it, else double-quoted.
pub fn scalar(s: &str) -> String {
    if plain_ok(s) {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

fn plain_ok(s: &str) -> bool {
    const WORDS: [&str; 11] = [
        "y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == '/' || first == '_') {
        return false;
    }
    if s.ends_with(':') || s.contains(": ") || s.contains(" #") || s.len() > 120 {
        return false;
    }
    if WORDS.contains(&s.to_ascii_lowercase().as_str()) {
        return false;
    }
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_./@+=:-".contains(c))
}

/// Multi-line text that a literal block reproduces exactly.
fn literal_ok(s: &str) -> bool {
    if !s.contains('\n') {
        return false;
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') || s.contains('\u{feff}') {
        return false;
    }
    let body = s.trim_end_matches('\n');
    if body.is_empty() {
        return false;
    }
    let lines: Vec<&str> = body.split('\n').collect();
    // A leading space on the first line would need an indentation indicator;
    // a line of only blanks is ambiguous for some readers.
    let first_content = lines.iter().find(|l| !l.is_empty());
    if first_content.is_some_and(|l| l.starts_with(' ') || l.starts_with('\t')) {
        return false;
    }
    !lines.iter().any(|l| !l.is_empty() && l.trim().is_empty())
}

fn literal(out: &mut String, s: &str, indent: usize) {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    out.push_str(match trailing {
        0 => "|-",
        1 => "|",
        _ => "|+",
    });
    out.push('\n');
    let body = s.trim_end_matches('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    for _ in 1..trailing {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use desired_state::yaml::parse_documents;
    use serde_json::json;
    use std::path::Path;

    fn round_trip(v: &Value) {
        let text = to_yaml(v);
        let parsed =
            parse_documents(Path::new("t.yaml"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(&parsed[0].value, v, "\n{text}");
    }

    #[test]
    fn scalars_that_look_like_other_types_are_quoted() {
        for s in [
            "no",
            "Yes",
            "off",
            "8080:80",
            "1.5",
            "0644",
            "",
            " x",
            "a: b",
            "-x",
            "~",
            "null",
            "@x",
            "2001-12-14",
            "*a",
            "&a",
            "!x",
            "%x",
            "x #y",
            "[x]",
            "{x}",
        ] {
            assert!(scalar(s).starts_with('"'), "{s}");
        }
        for s in [
            "lucid-redis",
            "/etc/redis/redis.conf",
            "no-new-privileges:true",
            "http://x:9/a",
            "ES_JAVA_OPTS",
        ] {
            assert_eq!(scalar(s), s);
        }
    }

    #[test]
    fn values_survive_a_round_trip() {
        round_trip(&json!({
            "a": {"b": [1, 2.5, true, null, "x y", {"c": "d", "e": ["f", {"g": []}]}], "h": {}},
            "script": "import os\n\nprint(os.environ)\n",
            "chomped": "line one\nline two",
            "kept": "a\nb\n\n\n",
            "indented": "  starts with spaces\nx",
            "blank line": "a\n   \nb",
            "list": ["one\ntwo\n", "three\nfour", [["nested"]]],
            "unicode": "naïve — ok",
            "tabs": "a\tb\n\tc",
            "ctrl": "bell\u{7}",
        }));
    }
}
