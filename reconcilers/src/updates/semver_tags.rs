//! `policy: semver`: the highest tag in a range. Tags are read as versions
//! with an optional leading `v` (`v1.4.2`); tags that are not versions
//! (`latest`, `main-arm64`) are never chosen, and neither are pre-releases
//! unless the range names one, as Cargo does.

use semver::{Version, VersionReq};

pub fn choose_tag(tags: &[String], range: &str) -> Option<String> {
    let req = VersionReq::parse(range).ok()?;
    tags.iter()
        .filter_map(|t| {
            let v = Version::parse(t.strip_prefix('v').unwrap_or(t)).ok()?;
            req.matches(&v).then_some((v, t))
        })
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, t)| t.clone())
}

#[cfg(test)]
mod tests {
    use super::choose_tag;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_highest_matching_version_wins_and_other_tags_are_ignored() {
        let t = tags(&[
            "latest",
            "1.3.9",
            "v1.4.0",
            "1.4.2",
            "1.10.0",
            "2.0.0",
            "1.5.0-rc.1",
            "main",
        ]);
        assert_eq!(choose_tag(&t, "^1.4").as_deref(), Some("1.10.0"));
        assert_eq!(choose_tag(&t, "~1.4").as_deref(), Some("1.4.2"));
        assert_eq!(choose_tag(&t, ">=1.4, <1.5").as_deref(), Some("1.4.2"));
        assert_eq!(choose_tag(&t, "^3"), None);
        assert_eq!(choose_tag(&t, "not a range"), None);
    }

    #[test]
    fn a_v_prefixed_tag_keeps_its_spelling() {
        assert_eq!(
            choose_tag(&tags(&["v2.1.0", "v2.0.0"]), "^2").as_deref(),
            Some("v2.1.0")
        );
    }
}
