//! Small text helpers shared by export and import: lexical paths, shell-word
//! splitting as compose does it (Python's `shlex.split`), `${VAR}`
//! interpolation with compose's rules, and DNS-label names.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

/// An absolute path with `.` and `..` resolved lexically (no filesystem access,
/// so the path need not exist).
pub fn absolute(p: &Path) -> PathBuf {
    let joined = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `to` relative to the directory `from`, both made absolute first, with '/'
/// separators. Starts with `./` or `../` so compose reads it as a path.
pub fn relative(from: &Path, to: &Path) -> String {
    let from = absolute(from);
    let to = absolute(to);
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
    parts.extend(
        b[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        return ".".into();
    }
    let joined = parts.join("/");
    if joined.starts_with("..") {
        joined
    } else {
        format!("./{joined}")
    }
}

/// Splits a command line the way compose (through Python's `shlex.split`) does:
/// whitespace separates words, single quotes are literal, double quotes allow
/// `\"`, `\\`, `\$` and `` \` `` escapes, a backslash outside quotes escapes the
/// next character.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err("no closing quotation".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => cur.push(e),
                            Some('\n') => {}
                            Some(other) => {
                                cur.push('\\');
                                cur.push(other);
                            }
                            None => return Err("no closing quotation".into()),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err("no closing quotation".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(ch) => cur.push(ch),
                    None => return Err("no escaped character".into()),
                }
            }
            other => {
                in_word = true;
                cur.push(other);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Why a `${...}` could not be substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// Not set and no default: left in place as `${NAME}`.
    Unset(String),
    /// `${NAME:?message}` with NAME unset: left in place.
    Required(String, String),
    /// A `$` that starts nothing compose understands.
    Invalid(String),
}

/// Compose's interpolation: `$$` is a literal `$`; `$NAME`, `${NAME}`,
/// `${NAME:-default}`, `${NAME-default}`, `${NAME:?err}`, `${NAME?err}`.
/// Unresolvable references are kept as written (normalized to `${NAME}`) and returned.
/// The result is in the model's form: an escaped `$${` stays `$${`, a literal `${`.
pub fn interpolate(s: &str, env: &HashMap<String, String>) -> (String, Vec<Unresolved>) {
    let mut out = String::new();
    let mut problems = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            // A literal `${` is written `$${` in the model too (desired_state::literal).
            out.push_str(if r.starts_with('{') { "$$" } else { "$" });
            rest = r;
            continue;
        }
        if let Some(inner_start) = after.strip_prefix('{') {
            let Some(close) = inner_start.find('}') else {
                problems.push(Unresolved::Invalid(rest[i..].to_string()));
                out.push_str(&rest[i..]);
                rest = "";
                break;
            };
            let inner = &inner_start[..close];
            rest = &inner_start[close + 1..];
            let name_len = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            let (name, op) = inner.split_at(name_len);
            if !valid_name(name) {
                problems.push(Unresolved::Invalid(format!("${{{inner}}}")));
                out.push_str(&format!("${{{inner}}}"));
                continue;
            }
            let value = env.get(name);
            let set_nonempty = value.is_some_and(|v| !v.is_empty());
            match op {
                "" => match value {
                    Some(v) => out.push_str(v),
                    None => {
                        problems.push(Unresolved::Unset(name.to_string()));
                        out.push_str(&format!("${{{name}}}"));
                    }
                },
                _ if op.starts_with(":-") => out.push_str(if set_nonempty {
                    value.unwrap()
                } else {
                    &op[2..]
                }),
                _ if op.starts_with('-') => {
                    out.push_str(value.map(String::as_str).unwrap_or(&op[1..]))
                }
                _ if op.starts_with(":?") || op.starts_with('?') => {
                    let ok = if op.starts_with(':') {
                        set_nonempty
                    } else {
                        value.is_some()
                    };
                    if ok {
                        out.push_str(value.unwrap());
                    } else {
                        let msg = op.trim_start_matches(':').trim_start_matches('?');
                        problems.push(Unresolved::Required(name.to_string(), msg.to_string()));
                        out.push_str(&format!("${{{name}}}"));
                    }
                }
                _ => {
                    problems.push(Unresolved::Invalid(format!("${{{inner}}}")));
                    out.push_str(&format!("${{{inner}}}"));
                }
            }
            continue;
        }
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        if valid_name(name) {
            match env.get(name) {
                Some(v) => out.push_str(v),
                None => {
                    problems.push(Unresolved::Unset(name.to_string()));
                    out.push_str(&format!("${{{name}}}"));
                }
            }
            rest = &after[name_len..];
        } else {
            problems.push(Unresolved::Invalid(format!(
                "${}",
                after.chars().next().map(String::from).unwrap_or_default()
            )));
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    (out, problems)
}

fn valid_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
}

/// `$` doubled, so compose passes the text through its interpolation unchanged.
pub fn escape_dollars(s: &str) -> String {
    s.replace('$', "$$")
}

/// The nearest DNS label: lowercase letters, digits and '-', at most 63.
pub fn dns_label(s: &str) -> String {
    let mut out = String::new();
    for c in s.to_ascii_lowercase().chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    let mut out: String = out.trim_end_matches('-').chars().take(63).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "x".into()
    } else {
        out
    }
}

pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && dns_label(s) == s
}

/// A compose duration (`1m30s`, `1.5s`, `500ms`, or a number of seconds) as a `Duration`.
pub fn parse_compose_duration(s: &str) -> Option<std::time::Duration> {
    // Anything longer is a mistake, and `1e300` seconds would overflow a Duration.
    const MAX_SECS: f64 = 10.0 * 366.0 * 86400.0;
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return (secs >= 0.0 && secs <= MAX_SECS)
            .then(|| std::time::Duration::try_from_secs_f64(secs).ok())
            .flatten();
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..n_len].parse().ok()?;
        rest = &rest[n_len..];
        let u_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[u_len..];
    }
    if !(0.0..=MAX_SECS).contains(&total) {
        return None;
    }
    let nanos = (total * 1e9).round();
    (nanos.is_finite() && nanos >= 0.0).then(|| std::time::Duration::from_nanos(nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18, defect 6: `stop_grace_period: 1e300` panicked the importer (exit 101).
    #[test]
    fn huge_durations_are_refused_not_a_panic() {
        for text in [
            "1e300",
            "1e300s",
            "99999999999999999999h",
            "inf",
            "NaN",
            "-1",
        ] {
            assert_eq!(parse_compose_duration(text), None, "{text}");
        }
        assert_eq!(
            parse_compose_duration("1m30s"),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_compose_duration("2.5"),
            Some(std::time::Duration::from_millis(2500))
        );
    }

    #[test]
    fn relative_paths_between_directories() {
        assert_eq!(
            relative(
                Path::new("/a/b/docker"),
                Path::new("/a/b/environment/.env.x")
            ),
            "../environment/.env.x"
        );
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/b/c/d")), "./c/d");
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/b")), ".");
        assert_eq!(
            relative(Path::new("/a/b/c/../d"), Path::new("/a/x")),
            "../../x"
        );
    }

    #[test]
    fn words_split_like_shlex() {
        let w = |s: &str| split_words(s).unwrap();
        assert_eq!(w("nginx -g 'daemon off;'"), ["nginx", "-g", "daemon off;"]);
        assert_eq!(
            w(r#"sh -c "echo \"hi\" \$HOME""#),
            ["sh", "-c", r#"echo "hi" $HOME"#]
        );
        assert_eq!(w(r"a\ b  c"), ["a b", "c"]);
        assert_eq!(w("''"), [""]);
        assert!(w("").is_empty());
        assert!(split_words("'open").is_err());
    }

    #[test]
    fn interpolation_follows_compose() {
        let env: HashMap<String, String> = [("A", "1"), ("E", "")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let i = |s: &str| interpolate(s, &env);
        assert_eq!(i("x${A}y$A $$A").0, "x1y1 $A");
        assert_eq!(
            i("$${A}/$$5").0,
            "$${A}/$5",
            "a literal ${{ stays escaped for the model"
        );
        assert_eq!(i("${E:-d} ${E-d} ${U-d} ${U:-d}").0, "d  d d");
        let (s, p) = i("${U} $U ${U:?need U}");
        assert_eq!(s, "${U} ${U} ${U}");
        assert_eq!(p[0], Unresolved::Unset("U".into()));
        assert_eq!(p[2], Unresolved::Required("U".into(), "need U".into()));
        assert!(matches!(i("${").1[0], Unresolved::Invalid(_)));
        assert_eq!(escape_dollars("a$b$$"), "a$$b$$$$");
    }

    #[test]
    fn names_and_durations() {
        assert_eq!(dns_label("My_App.web"), "my-app-web");
        assert_eq!(dns_label("__"), "x");
        assert!(is_dns_label("lucid-redis") && !is_dns_label("Redis"));
        assert_eq!(
            parse_compose_duration("1m30s"),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_compose_duration("1.5s"),
            Some(std::time::Duration::from_millis(1500))
        );
        assert_eq!(
            parse_compose_duration("10"),
            Some(std::time::Duration::from_secs(10))
        );
        assert_eq!(parse_compose_duration("10x"), None);
    }
}
