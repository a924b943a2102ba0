//! Where a browser may be sent back to after a provider login: `redirect_to` must have the
//! origin of an allowed prefix and a path under the prefix's path (API.md §3), so
//! `https://app.example` admits neither `https://app.example.evil.test` nor
//! `https://evil.test\@app.example`.
//!
//! Anything a browser could read differently from a URL parser is refused outright rather
//! than normalised: backslashes, control characters and spaces, user information, encoded
//! slashes and dots. A target that passes is used exactly as parsed here.

use url::Url;

/// The allowed prefixes.
#[derive(Debug, Clone)]
pub struct RedirectPolicy {
    prefixes: Vec<Url>,
    default_target: Url,
}

/// An allow-list entry that is not an absolute http(s) URL without query or fragment.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an absolute http(s) URL prefix")]
pub struct BadPrefix(pub String);

impl RedirectPolicy {
    /// Admits targets under `public_url` and every entry of `allowlist`; without a target,
    /// `default_target` (the hosted account page).
    pub fn new(
        public_url: &str,
        allowlist: &[String],
        default_target: &str,
    ) -> Result<Self, BadPrefix> {
        let prefix = |text: &str| {
            parse_strict(text)
                .filter(|url| url.query().is_none() && url.fragment().is_none())
                .ok_or_else(|| BadPrefix(text.to_owned()))
        };
        let mut prefixes = vec![prefix(public_url)?];
        for entry in allowlist {
            prefixes.push(prefix(entry)?);
        }
        let default_target = prefix(default_target)?;
        Ok(Self {
            prefixes,
            default_target,
        })
    }

    /// The target for `requested`, or `None` when it is not allowed.
    pub fn check(&self, requested: Option<&str>) -> Option<Url> {
        let Some(requested) = requested else {
            return Some(self.default_target.clone());
        };
        let target = parse_strict(requested)?;
        self.prefixes
            .iter()
            .any(|prefix| is_under(&target, prefix))
            .then_some(target)
    }
}

/// `text` as an absolute http(s) URL with a host and no user information, if nothing in it
/// could be read two ways.
fn parse_strict(text: &str) -> Option<Url> {
    if text.len() > 2048
        || text
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
    {
        return None;
    }
    let url = Url::parse(text).ok()?;
    let path = url.path().to_ascii_lowercase();
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|host| !host.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && !path.contains("%2f")
        && !path.contains("%5c")
        && !path.contains("%2e");
    plain.then_some(url)
}

/// Whether `target` has `prefix`'s origin and a path at or under its path, segment-wise
/// (`/app` admits `/app` and `/app/x`, never `/application`).
fn is_under(target: &Url, prefix: &Url) -> bool {
    if target.origin() != prefix.origin() {
        return false;
    }
    let base = prefix.path().trim_end_matches('/');
    let path = target.path();
    base.is_empty()
        || path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RedirectPolicy {
        RedirectPolicy::new(
            "https://auth.example",
            &["https://app.example/app".to_owned()],
            "https://auth.example/ui/account",
        )
        .unwrap()
    }

    #[test]
    fn targets_under_an_allowed_prefix_pass_unchanged() {
        let policy = policy();
        for good in [
            "https://app.example/app",
            "https://app.example/app/",
            "https://app.example/app/callback?next=%2Fhome",
            "https://auth.example/ui/account",
            "https://auth.example/",
        ] {
            assert_eq!(
                policy.check(Some(good)).map(String::from),
                Some(Url::parse(good).unwrap().to_string()),
                "{good}"
            );
        }
        assert_eq!(
            policy.check(None).unwrap().as_str(),
            "https://auth.example/ui/account"
        );
    }

    #[test]
    fn tricks_that_leave_the_allowed_origin_or_path_are_refused() {
        let policy = policy();
        for bad in [
            "https://app.example.evil.test/app",
            "https://evil.test/app",
            "http://app.example/app",
            "https://app.example:8443/app",
            "https://app.example@evil.test/app",
            "https://evil.test@app.example/app",
            "https://user:pass@app.example/app",
            "https://app.example\\@evil.test/app",
            "https://app.example/app\\..\\admin",
            "//evil.test/app",
            "/app/callback",
            "https://app.example/application",
            "https://app.example/app/../admin",
            "https://app.example/app/%2e%2e/admin",
            "https://app.example/app/%2E%2E%2Fadmin",
            "https://app.example/app%2f..%2fadmin",
            "https://app.example/app/..%5cadmin",
            "https://app.example/ap",
            "javascript:alert(1)//https://app.example/app",
            "data:text/html,https://app.example/app",
            "https://app.example/app/\tx",
            "https://app.example/app/ x",
            "",
        ] {
            assert_eq!(policy.check(Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn a_prefix_with_a_query_or_another_scheme_is_refused_at_start() {
        assert!(
            RedirectPolicy::new(
                "https://a.example",
                &["https://b.example/?x=1".into()],
                "https://a.example/"
            )
            .is_err()
        );
        assert!(
            RedirectPolicy::new(
                "https://a.example",
                &["ftp://b.example/".into()],
                "https://a.example/"
            )
            .is_err()
        );
    }
}
