//! Just enough Dockerfile reading to learn which images a build starts FROM.

use std::collections::BTreeMap;

/// Image references in `FROM` lines, with `${ARG}` from build args or ARG
/// defaults substituted; stage names and `scratch` are left out.
pub fn from_images(text: &str, args: &BTreeMap<String, String>) -> Vec<String> {
    let mut defaults: BTreeMap<String, String> = BTreeMap::new();
    let mut stages: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in logical_lines(text) {
        let mut words = line.split_whitespace();
        let Some(instr) = words.next() else { continue };
        let rest: Vec<&str> = words.collect();
        if instr.eq_ignore_ascii_case("ARG") {
            if let Some((k, v)) = rest.first().and_then(|a| a.split_once('=')) {
                defaults.insert(k.to_string(), v.trim_matches('"').to_string());
            }
        } else if instr.eq_ignore_ascii_case("FROM") {
            let words: Vec<&str> = rest.into_iter().filter(|w| !w.starts_with("--")).collect();
            let Some(image) = words.first() else { continue };
            let image = substitute(image, args, &defaults);
            let is_stage = stages.contains(&image.to_ascii_lowercase());
            if image != "scratch" && !is_stage && !out.contains(&with_tag(&image)) {
                out.push(with_tag(&image));
            }
            if let (Some(kw), Some(name)) = (words.get(1), words.get(2)) {
                if kw.eq_ignore_ascii_case("AS") {
                    stages.push(name.to_ascii_lowercase());
                }
            }
        }
    }
    out
}

fn with_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

fn substitute(
    word: &str,
    args: &BTreeMap<String, String>,
    defaults: &BTreeMap<String, String>,
) -> String {
    let mut values = defaults.clone();
    values.extend(args.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut out = word.to_string();
    for (k, v) in &values {
        out = out
            .replace(&format!("${{{k}}}"), v)
            .replace(&format!("${k}"), v);
    }
    out
}

fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let t = raw.trim();
        if t.starts_with('#') && current.is_empty() {
            continue;
        }
        if let Some(cont) = t.strip_suffix('\\') {
            current.push_str(cont);
            current.push(' ');
        } else {
            current.push_str(t);
            lines.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_bases_but_not_stages_or_scratch() {
        let df = "ARG BASE=pickme/lucid-base:python-distroless-arm64\nFROM --platform=linux/arm64 python:3.11-slim AS builder\nRUN x \\\n  y\nFROM ${BASE}\nCOPY --from=builder /a /b\nFROM builder\nFROM scratch\n";
        assert_eq!(
            from_images(df, &BTreeMap::new()),
            [
                "python:3.11-slim",
                "pickme/lucid-base:python-distroless-arm64"
            ]
        );
        let args = BTreeMap::from([("BASE".to_string(), "other:1".to_string())]);
        assert_eq!(from_images(df, &args)[1], "other:1");
    }
}
