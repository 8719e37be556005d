//! `secretFiles`: where a SecretSet's keys land as files, and who may read them.

use super::Report;
use crate::model::{numeric_user, Kind, Spec, WorkloadSpec};
use crate::pointer::pointer;
use crate::state::{DesiredState, Resource};

pub(super) fn check(state: &DesiredState, r: &Resource, w: &WorkloadSpec, out: &mut Report) {
    for (i, f) in w.secret_files.iter().enumerate() {
        let at = pointer(["spec", "secretFiles", &i.to_string()]);
        keys(state, r, f, &at, out);
        if !f.target.starts_with('/') || f.target.split('/').any(|p| p == "..") {
            out.error(
                r,
                &format!("{at}/target"),
                format!(
                    "secretFiles target {:?} must be an absolute path without `..`",
                    f.target
                ),
                Some("e.g. /run/secrets".into()),
            );
        }
        let clashes_with_mount = w.mounts.iter().any(|m| m.target == f.target);
        let clashes_with_files = w.secret_files[..i].iter().any(|o| o.target == f.target);
        if clashes_with_mount || clashes_with_files {
            out.error(
                r,
                &format!("{at}/target"),
                format!("target {:?} is already mounted", f.target),
                Some("give each SecretSet its own directory, e.g. /run/secrets/<set>".into()),
            );
        }
        if w.secret_files[..i]
            .iter()
            .any(|o| o.secret_set == f.secret_set)
        {
            out.error(
                r,
                &at,
                format!("secretSet {:?} is listed twice", f.secret_set),
                None,
            );
        }
    }
    // The files are 0400: only their owner can read them, and only a number
    // says who that is on the host (a name lives in the image's /etc/passwd).
    if !w.secret_files.is_empty() {
        if let Some(user) = &w.user {
            if numeric_user(user).is_none() {
                out.error(
                    r,
                    "/spec/user",
                    format!(
                        "secretFiles are owned by the service's user, but {user:?} is not numeric"
                    ),
                    Some("give the user as uid or uid:gid, e.g. \"1000:1000\"".into()),
                );
            }
        }
    }
}

/// `keys` picks files out of the set: each must be one of its keys, once.
/// A missing set is reported by the reference check.
fn keys(
    state: &DesiredState,
    r: &Resource,
    f: &crate::model::SecretFiles,
    at: &str,
    out: &mut Report,
) {
    let set = match state.get(Kind::SecretSet, &f.secret_set).map(|s| &s.spec) {
        Some(Spec::SecretSet(set)) => Some(set),
        _ => None,
    };
    for (j, key) in f.keys.iter().enumerate() {
        let kat = format!("{at}/keys/{j}");
        if f.keys[..j].contains(key) {
            out.error(r, &kat, format!("key {key:?} is listed twice"), None);
        }
        if let Some(set) = set {
            if !set.keys().any(|k| k == key) {
                let known: Vec<&str> = set.keys().collect();
                out.error(
                    r,
                    &kat,
                    format!(
                        "SecretSet {:?} has no key {key:?} (it has {})",
                        f.secret_set,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                    Some(format!(
                        "add {key} to the SecretSet's generate or values, or drop it from keys"
                    )),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, service, state, HEADER};
    use crate::model::numeric_user;

    fn run(yaml: &str) -> Vec<String> {
        messages(&crate::validate::validate(&state(yaml)))
    }

    fn with_set(body: &str) -> String {
        format!(
            "{}---\n{HEADER}kind: SecretSet\nmetadata: {{name: s}}\nspec: {{file: .env.s, values: {{K: v}}}}\n",
            service("a", body)
        )
    }

    #[test]
    fn a_valid_secret_files_entry_passes() {
        let m = run(&with_set(
            "  user: \"1000:1000\"\n  secretFiles: [{secretSet: s, target: /run/secrets}]\n",
        ));
        assert!(m.is_empty(), "{m:?}");
    }

    #[test]
    fn bad_targets_names_and_users_are_reported() {
        let m = run(&with_set(
            "  user: app\n  mounts: [{bind: /x, target: /run/secrets}]\n  secretFiles: [{secretSet: s, target: /run/secrets}, {secretSet: s, target: rel}, {secretSet: nope, target: /n}]\n",
        ));
        for want in [
            "spec.secretFiles[0].target: target \"/run/secrets\" is already mounted",
            "spec.secretFiles[1].target: secretFiles target \"rel\" must be an absolute path",
            "spec.secretFiles[1]: secretSet \"s\" is listed twice",
            "spec.secretFiles[2].secretSet",
            "spec.user: secretFiles are owned by the service's user, but \"app\" is not numeric",
        ] {
            assert!(m.iter().any(|m| m.contains(want)), "{want}: {m:?}");
        }
    }

    #[test]
    fn keys_must_be_keys_of_the_set_once_each() {
        let ok = run(&with_set(
            "  secretFiles: [{secretSet: s, target: /run/secrets, keys: [K]}]\n",
        ));
        assert!(ok.is_empty(), "{ok:?}");
        let m = run(&with_set(
            "  secretFiles: [{secretSet: s, target: /run/secrets, keys: [K, NOPE, K]}]\n",
        ));
        for want in [
            "spec.secretFiles[0].keys[1]: SecretSet \"s\" has no key \"NOPE\" (it has K)",
            "spec.secretFiles[0].keys[2]: key \"K\" is listed twice",
        ] {
            assert!(m.iter().any(|m| m.contains(want)), "{want}: {m:?}");
        }
    }

    #[test]
    fn numeric_users() {
        assert_eq!(numeric_user("1000"), Some((1000, 0)));
        assert_eq!(numeric_user("1000:50"), Some((1000, 50)));
        assert_eq!(numeric_user("app"), None);
        assert_eq!(numeric_user("1000:staff"), None);
    }
}
