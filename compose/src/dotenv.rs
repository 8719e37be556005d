//! The `.env` file beside a compose file, read as compose v2 reads it:
//! `KEY=value` lines with an optional `export `; a value in single quotes is
//! taken literally; one in double quotes may span lines and knows `\n`, `\t`,
//! `\\`, `\"`; an unquoted value ends at a `#` after whitespace (an inline
//! comment) and loses trailing blanks. `${VAR}` in unquoted and double-quoted
//! values refers to the variables above it and to the process environment.
//!
//! SecretSet env files keep desired-state's simpler reader (no inline
//! comments), so values written back by `lucidctl secrets` are unchanged.

use std::collections::HashMap;

/// The variables of a `.env` text; `outer` is the process environment, used
/// for `${VAR}` and winning over nothing (the caller decides precedence).
pub fn parse_dotenv(text: &str, outer: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (line, after) = rest.split_once('\n').unwrap_or((rest, ""));
        rest = after;
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().to_string();
        if key.is_empty() || key.contains(char::is_whitespace) {
            continue;
        }
        let value = value.trim_start();
        let lookup = |out: &[(String, String)]| -> HashMap<String, String> {
            let mut env = outer.clone();
            env.extend(out.iter().cloned());
            env
        };
        let value = if let Some(v) = value.strip_prefix('\'') {
            v.split_once('\'').map(|(v, _)| v).unwrap_or(v).to_string()
        } else if let Some(v) = value.strip_prefix('"') {
            let (raw, remaining) = double_quoted(v, rest);
            rest = remaining;
            expand(&raw, &lookup(&out))
        } else {
            expand(strip_inline_comment(value).trim_end(), &lookup(&out))
        };
        out.retain(|(k, _)| *k != key);
        out.push((key, value));
    }
    out
}

/// An unquoted value up to a `#` that follows whitespace.
fn strip_inline_comment(v: &str) -> &str {
    let bytes = v.as_bytes();
    for i in 1..bytes.len() {
        if bytes[i] == b'#' && (bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            return &v[..i];
        }
    }
    v
}

/// The text of a double-quoted value that starts at `first` and may go on
/// into `rest`; returns it unescaped and what follows its line.
fn double_quoted<'t>(first: &'t str, rest: &'t str) -> (String, &'t str) {
    let mut value = String::new();
    let lines = std::iter::once(first).chain(rest.split_inclusive('\n'));
    let mut consumed = 0usize;
    let mut first_line = true;
    for line in lines {
        if !first_line {
            consumed += line.len();
        }
        first_line = false;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return (value, &rest[consumed..]),
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some('r') => value.push('\r'),
                    Some(other) => value.push(other),
                    None => {}
                },
                c => value.push(c),
            }
        }
        if !line.ends_with('\n') {
            value.push('\n');
        }
    }
    // No closing quote: compose refuses the file; keep what was read.
    (value.trim_end_matches('\n').to_string(), "")
}

fn expand(v: &str, env: &HashMap<String, String>) -> String {
    if !v.contains('$') {
        return v.to_string();
    }
    let (s, _) = crate::text::interpolate(v, env);
    desired_state::literal::unescape(&s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> HashMap<String, String> {
        let outer: HashMap<String, String> = [("HOME".to_string(), "/home/u".to_string())].into();
        parse_dotenv(text, &outer).into_iter().collect()
    }

    #[test]
    fn comments_and_quotes_follow_compose() {
        let env = parse(concat!(
            "# top\n",
            "URL=example.com # note\n",
            "HASH=abc#def\n",
            "export SQ='a # b' # c\n",
            "DQ=\"x # y\\n\" # z\n",
            "EMPTY=\n",
            "TRAIL=v   \n",
            "REF=${URL}/x\n",
            "H=$HOME\n",
            "ML=\"one\n",
            "two\"\n",
            "AFTER=1\n",
        ));
        assert_eq!(env["URL"], "example.com");
        assert_eq!(env["HASH"], "abc#def");
        assert_eq!(env["SQ"], "a # b");
        assert_eq!(env["DQ"], "x # y\n");
        assert_eq!(env["EMPTY"], "");
        assert_eq!(env["TRAIL"], "v");
        assert_eq!(env["REF"], "example.com/x");
        assert_eq!(env["H"], "/home/u");
        assert_eq!(env["ML"], "one\ntwo");
        assert_eq!(env["AFTER"], "1");
    }
}
