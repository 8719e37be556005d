//! The build plan's rule: no placeholders. A value that still says `${VAR}` or
//! `<CHANGE_ME>` would be deployed literally.

use super::Report;
use crate::model::Spec;
use crate::state::DesiredState;
use serde_json::Value;

/// Why `s` looks like a placeholder, if it does.
pub fn placeholder_in(s: &str) -> Option<String> {
    // `$${` is the escape for a literal `${` (see `crate::literal`).
    if let Some(i) = crate::literal::find_unescaped_open(s) {
        let end = s[i..].find('}').map(|e| i + e + 1).unwrap_or(s.len());
        return Some(s[i..end].to_string());
    }
    let mut rest = s;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        if let Some(close) = after.find('>') {
            let inner = &after[..close];
            if inner.len() >= 2
                && inner
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-')
            {
                return Some(format!("<{inner}>"));
            }
        }
        rest = after;
    }
    let lower = s.to_ascii_lowercase();
    [
        "change_me",
        "changeme",
        "change-me",
        "replace_me",
        "replaceme",
    ]
    .into_iter()
    .find(|w| lower.contains(w))
    .map(str::to_string)
}

pub(super) fn check(state: &DesiredState, out: &mut Report) {
    for r in &state.resources {
        let mut hits = Vec::new();
        walk(&r.spec.to_json(), "/spec".to_string(), &mut hits);
        for (k, v) in &r.metadata.labels {
            if let Some(p) = placeholder_in(v) {
                hits.push((crate::pointer::pointer(["metadata", "labels", k]), p));
            }
        }
        for (pointer, found) in hits {
            out.error(
                r,
                &pointer,
                format!("unresolved placeholder {found}"),
                Some(
                    "write the real value; generated secrets belong in a SecretSet's `generate`"
                        .into(),
                ),
            );
        }
        if let Spec::SecretSet(s) = &r.spec {
            for (k, v) in &s.values {
                if v.trim().is_empty() {
                    out.error(
                        r,
                        &crate::pointer::pointer(["spec", "values", k]),
                        format!("value of {k} is empty"),
                        Some(format!("give {k} a value, or move it to `generate`")),
                    );
                }
            }
        }
    }
}

fn walk(v: &Value, at: String, hits: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => {
            if let Some(p) = placeholder_in(s) {
                hits.push((at, p));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, format!("{at}/{i}"), hits);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                walk(item, format!("{at}{}", crate::pointer::pointer([k])), hits);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn finds_each_placeholder_form() {
        assert_eq!(
            placeholder_in("mongodb://${MONGO_HOST}:27017").as_deref(),
            Some("${MONGO_HOST}")
        );
        assert_eq!(
            placeholder_in("<CHANGE_ME>").as_deref(),
            Some("<CHANGE_ME>")
        );
        assert_eq!(
            placeholder_in("please-changeme").as_deref(),
            Some("changeme")
        );
        assert_eq!(placeholder_in("a < b > c"), None);
        assert_eq!(placeholder_in("$HOME"), None);
        assert_eq!(
            placeholder_in("$${HOME}/bin"),
            None,
            "escaped: a literal ${{"
        );
        assert_eq!(placeholder_in("$${A} ${B}").as_deref(), Some("${B}"));
    }

    #[test]
    fn reports_the_field_holding_it() {
        let s = state(&service(
            "a",
            "  env:\n    MONGODB_URI: \"mongodb://${MONGO_HOST}\"\n",
        ));
        let mut out = Report::default();
        check(&s, &mut out);
        let m = messages(&out.0);
        assert_eq!(m.len(), 1);
        assert!(m[0].starts_with("test.yaml:8:18: Service/a: spec.env.MONGODB_URI: unresolved placeholder ${MONGO_HOST}"), "{}", m[0]);
    }
}
