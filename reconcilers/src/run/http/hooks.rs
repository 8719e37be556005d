//! POST /hooks/git: a forge says a branch moved. GitHub and Gitea sign the
//! body with HMAC-SHA256 (`X-Hub-Signature-256: sha256=<hex>`,
//! `X-Gitea-Signature: <hex>`); GitLab sends the shared token itself
//! (`X-Gitlab-Token`). Comparisons are constant-time. Only a verified push
//! to the watched branch triggers a fetch; the payload is otherwise not
//! trusted (the fetch reads the branch from the remote, not from the body).

use crate::run::secret_ref::SharedSecret;
use hmac::{Hmac, Mac};
use hyper::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone)]
pub struct GitHook {
    /// The shared secret (`--webhook-secret`); SecretValue never prints.
    pub secret: SharedSecret,
    /// The watched branch; pushes elsewhere are ignored.
    pub branch: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookVerdict {
    /// Verified push to the watched branch.
    Fetch,
    /// Verified, but nothing to do (another branch, a ping, a tag).
    Ignored(String),
    /// Missing or wrong signature or token: 401.
    Unauthorized(&'static str),
}

impl HookVerdict {
    /// The `result` label of lucidctl_webhook_requests_total.
    pub fn metric(&self) -> &'static str {
        match self {
            HookVerdict::Fetch => "accepted",
            HookVerdict::Ignored(_) => "ignored",
            HookVerdict::Unauthorized(_) => "unauthorized",
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

impl GitHook {
    pub fn judge(&self, headers: &HeaderMap, body: &[u8]) -> HookVerdict {
        if let Err(why) = self.verify(headers, body) {
            return HookVerdict::Unauthorized(why);
        }
        let event = ["x-github-event", "x-gitea-event", "x-gitlab-event"]
            .iter()
            .find_map(|h| header(headers, h))
            .unwrap_or("push");
        if !matches!(event, "push" | "Push Hook") {
            return HookVerdict::Ignored(format!("event {:?} is not a push", short(event)));
        }
        let pushed = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("ref").and_then(|r| r.as_str()).map(str::to_string));
        match pushed {
            Some(r) if r == format!("refs/heads/{}", self.branch) => HookVerdict::Fetch,
            Some(r) => HookVerdict::Ignored(format!(
                "push to {:?}, not to branch {}",
                short(&r),
                self.branch
            )),
            None => HookVerdict::Ignored("no \"ref\" in the payload".into()),
        }
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
        let secret = self
            .secret
            .read()
            .ok()
            .and_then(|s| s.as_ref().map(|v| v.expose().as_bytes().to_vec()))
            .filter(|s| !s.is_empty())
            .ok_or("the webhook secret is not available (yet)")?;
        if let Some(token) = header(headers, "x-gitlab-token") {
            return if bool::from(token.as_bytes().ct_eq(&secret)) {
                Ok(())
            } else {
                Err("X-Gitlab-Token does not match the webhook secret")
            };
        }
        let signature = match (
            header(headers, "x-hub-signature-256"),
            header(headers, "x-gitea-signature"),
        ) {
            (Some(s), _) => s
                .strip_prefix("sha256=")
                .ok_or("X-Hub-Signature-256 is not sha256=<hex>")?,
            (None, Some(s)) => s,
            (None, None) => return Err(
                "no signature: expected X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token",
            ),
        };
        let given = hex::decode(signature).map_err(|_| "the signature is not hex")?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret)
            .map_err(|_| "the webhook secret cannot key HMAC-SHA256")?;
        mac.update(body);
        mac.verify_slice(&given)
            .map_err(|_| "the signature does not match the body and the webhook secret")
    }
}

/// Payload text in a log line: bounded and free of control characters.
fn short(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(80).collect()
}

/// HMAC-SHA256 of `body` under `secret`, as GitHub sends it (`sha256=<hex>`); for tests and `notify`.
pub fn github_signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook() -> GitHook {
        GitHook {
            secret: std::sync::Arc::new(std::sync::RwLock::new(Some(
                crate::render::SecretValue::new("s3cret"),
            ))),
            branch: "main".into(),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    const PUSH_MAIN: &[u8] = br#"{"ref":"refs/heads/main","after":"abc"}"#;

    #[test]
    fn a_github_push_signed_with_the_secret_to_the_branch_fetches() {
        let sig = github_signature(b"s3cret", PUSH_MAIN);
        let h = headers(&[("x-hub-signature-256", &sig), ("x-github-event", "push")]);
        assert_eq!(hook().judge(&h, PUSH_MAIN), HookVerdict::Fetch);
    }

    #[test]
    fn a_gitea_signature_is_bare_hex() {
        let sig = github_signature(b"s3cret", PUSH_MAIN);
        let h = headers(&[
            ("x-gitea-signature", &sig["sha256=".len()..]),
            ("x-gitea-event", "push"),
        ]);
        assert_eq!(hook().judge(&h, PUSH_MAIN), HookVerdict::Fetch);
    }

    #[test]
    fn gitlab_sends_the_token_itself() {
        let ok = headers(&[
            ("x-gitlab-token", "s3cret"),
            ("x-gitlab-event", "Push Hook"),
        ]);
        assert_eq!(hook().judge(&ok, PUSH_MAIN), HookVerdict::Fetch);
        let bad = headers(&[("x-gitlab-token", "s3cre"), ("x-gitlab-event", "Push Hook")]);
        assert!(matches!(
            hook().judge(&bad, PUSH_MAIN),
            HookVerdict::Unauthorized(_)
        ));
    }

    #[test]
    fn a_wrong_missing_or_malformed_signature_is_unauthorized() {
        let wrong = github_signature(b"other", PUSH_MAIN);
        let tampered = github_signature(b"s3cret", br#"{"ref":"refs/heads/dev"}"#);
        for h in [
            headers(&[("x-hub-signature-256", &wrong)]),
            headers(&[("x-hub-signature-256", &tampered)]),
            headers(&[("x-hub-signature-256", "sha1=abcd")]),
            headers(&[("x-gitea-signature", "zz")]),
            headers(&[]),
        ] {
            let v = hook().judge(&h, PUSH_MAIN);
            assert!(matches!(v, HookVerdict::Unauthorized(_)), "{h:?}: {v:?}");
            assert_eq!(v.metric(), "unauthorized");
        }
    }

    #[test]
    fn pushes_to_other_branches_pings_and_tags_are_ignored() {
        for (event, body) in [
            ("push", &br#"{"ref":"refs/heads/dev"}"#[..]),
            ("push", br#"{"ref":"refs/tags/v1"}"#),
            ("ping", br#"{"zen":"hi"}"#),
            ("push", b"not json"),
        ] {
            let sig = github_signature(b"s3cret", body);
            let h = headers(&[("x-hub-signature-256", &sig), ("x-github-event", event)]);
            assert!(
                matches!(hook().judge(&h, body), HookVerdict::Ignored(_)),
                "{event}"
            );
        }
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let text = format!("{:?}", hook());
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn without_a_secret_nothing_verifies() {
        let h = GitHook {
            secret: std::sync::Arc::new(std::sync::RwLock::new(None)),
            branch: "main".into(),
        };
        let sig = github_signature(b"", PUSH_MAIN);
        let v = h.judge(&headers(&[("x-hub-signature-256", &sig)]), PUSH_MAIN);
        assert!(matches!(v, HookVerdict::Unauthorized(_)), "{v:?}");
    }
}
