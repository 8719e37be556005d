//! The escape for a literal `${` in desired-state values.
//!
//! Unresolved `${VAR}` text is refused by validation (it would be deployed
//! literally by mistake). A value that really means `${VAR}` for the
//! container, such as compose's `$${VAR}`, writes `$${VAR}`: validation lets it
//! through and the container receives `${VAR}`. Only `$${` is an escape, so
//! existing values with `$` or `$$` elsewhere keep their meaning.

use std::borrow::Cow;

/// The written form of a literal `${`.
pub const ESCAPED_OPEN: &str = "$${";

/// The value as the container receives it: each `$${` becomes `${`.
pub fn unescape(s: &str) -> Cow<'_, str> {
    if s.contains(ESCAPED_OPEN) {
        Cow::Owned(s.replace(ESCAPED_OPEN, "${"))
    } else {
        Cow::Borrowed(s)
    }
}

/// The written form of a value whose `${` is literal.
pub fn escape(s: &str) -> Cow<'_, str> {
    if s.contains("${") {
        Cow::Owned(s.replace("${", ESCAPED_OPEN))
    } else {
        Cow::Borrowed(s)
    }
}

/// Byte offset of the first `${` that is not escaped as `$${`.
pub fn find_unescaped_open(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'$' {
            if bytes[i + 1] == b'$' && bytes.get(i + 2) == Some(&b'{') {
                i += 3;
                continue;
            }
            if bytes[i + 1] == b'{' {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dollar_dollar_brace_is_an_escape() {
        assert_eq!(unescape("a $${HOME}/x $$ $5"), "a ${HOME}/x $$ $5");
        assert_eq!(escape("${HOME}"), "$${HOME}");
        assert_eq!(unescape(&escape("x${A}y${B}")), "x${A}y${B}");
        assert_eq!(find_unescaped_open("$${A}"), None);
        assert_eq!(find_unescaped_open("$${A} ${B}"), Some(6));
        assert_eq!(
            find_unescaped_open("$$${A}"),
            None,
            "$$ then {{ is read as $ + $${{"
        );
        assert_eq!(find_unescaped_open("${"), Some(0));
    }
}
