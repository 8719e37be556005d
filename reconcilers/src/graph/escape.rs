//! Names come from files: every renderer escapes them for its language.
//! Control characters are first made visible (`\u{1b}`), so nothing a file
//! holds can reach a terminal, a browser or a parser raw.

use desired_state::diagnostics::escape_controls;

/// For HTML and SVG text and attribute values.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in escape_controls(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The inside of a Graphviz double-quoted string.
pub fn dot(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in escape_controls(text).chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The inside of a Mermaid quoted label (`"..."`), which takes `#name;` entities.
pub fn mermaid(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in escape_controls(text).chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '#' => out.push_str("#35;"),
            '\n' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_inert_in_every_language() {
        let name = "a\"<b>&'\u{1b}[31m\\";
        let x = xml(name);
        assert!(
            !x.contains('<') && !x.contains('"') && !x.contains('\u{1b}'),
            "{x}"
        );
        assert_eq!(x, "a&quot;&lt;b&gt;&amp;&#39;\\u{1b}[31m\\");
        let d = dot(name);
        assert_eq!(d, "a\\\"<b>&'\\\\u{1b}[31m\\\\");
        let m = mermaid(name);
        assert!(!m.contains('"') && !m.contains('<'), "{m}");
    }
}
