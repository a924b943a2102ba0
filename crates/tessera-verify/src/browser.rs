//! Browser (cookie) mode, the same rules on Tessera and on resource servers (API.md §3
//! "Browser (cookie) mode"): which cookie holds the access token, and when a request that a
//! cookie authenticates may change anything.
//!
//! Cookies ride along on requests a page of another site can trigger, so an unsafe request
//! authenticated by one must prove it comes from a page of ours: it echoes the script-readable
//! CSRF cookie in `X-CSRF-Token` (a foreign page cannot read it), carries an allowed `Origin`
//! when it carries one, and is not marked `Sec-Fetch-Site: cross-site` by the browser.
//! A bearer token is never sent by a browser on its own, so bearer requests need none of this.

use aws_lc_rs::constant_time::verify_slices_are_equal;

/// The names of Tessera's three browser cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieNames {
    /// The access token: HttpOnly, `Path=/`.
    pub access: &'static str,
    /// The refresh token: HttpOnly, `Path=/auth`, `SameSite=Strict`.
    pub refresh: &'static str,
    /// The CSRF token, readable by the page's script.
    pub csrf: &'static str,
}

impl CookieNames {
    /// Over https: the `__Host-` prefix pins the access cookie to this host and path `/`, so a
    /// sibling subdomain cannot plant one; `__Secure-` makes the refresh cookie https-only.
    pub const SECURE: Self = Self {
        access: "__Host-tessera_at",
        refresh: "__Secure-tessera_rt",
        csrf: "tessera_csrf",
    };

    /// Plain-http development (`cookies.dev_insecure`): the prefixes need `Secure`, so they go.
    pub const DEV_INSECURE: Self = Self {
        access: "tessera_at",
        refresh: "tessera_rt",
        csrf: "tessera_csrf",
    };
}

/// The header an unsafe cookie-authenticated request echoes the CSRF cookie in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Why a cookie-authenticated or cookie-setting request was refused: 403 `csrf_failed`.
/// The reason is for logs; clients see one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsrfFailure {
    /// No `X-CSRF-Token`, no CSRF cookie, or the two differ.
    #[error("the X-CSRF-Token header does not match the CSRF cookie")]
    TokenMismatch,
    /// `Origin` names a site that is neither the server's nor an allowed one.
    #[error("the request's Origin is not allowed")]
    ForeignOrigin,
    /// The browser marked the request `Sec-Fetch-Site: cross-site`.
    #[error("the browser marked the request cross-site")]
    CrossSite,
}

/// What a request says about where it comes from; header values as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestOrigin<'a> {
    /// `Origin`.
    pub origin: Option<&'a [u8]>,
    /// `Sec-Fetch-Site`.
    pub fetch_site: Option<&'a [u8]>,
}

/// The browser rules of one server: its cookie names and the origins whose pages may use them.
#[derive(Debug, Clone)]
pub struct CookiePolicy {
    names: CookieNames,
    allowed_origins: Vec<String>,
}

impl CookiePolicy {
    /// Cookies named `names`, usable from pages of `allowed_origins` (`scheme://host[:port]`; a
    /// trailing `/` or path is ignored).
    pub fn new<S: AsRef<str>>(names: CookieNames, allowed_origins: &[S]) -> Self {
        Self {
            names,
            allowed_origins: allowed_origins
                .iter()
                .filter_map(|origin| origin_of(origin.as_ref()))
                .collect(),
        }
    }

    /// The cookie names.
    pub fn names(&self) -> CookieNames {
        self.names
    }

    /// Whether `origin` (an `Origin` header value) is one whose pages may use the cookies.
    pub fn allows_origin(&self, origin: &[u8]) -> bool {
        self.allowed_origins
            .iter()
            .any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin))
    }

    /// The check for a request that sets cookies without being authenticated by one (login and
    /// signup in cookie mode): a foreign page must not log the browser into another account.
    pub fn check_origin(&self, from: RequestOrigin<'_>) -> Result<(), CsrfFailure> {
        if from
            .fetch_site
            .is_some_and(|site| site.eq_ignore_ascii_case(b"cross-site"))
        {
            return Err(CsrfFailure::CrossSite);
        }
        let same_origin = from
            .fetch_site
            .is_some_and(|site| site.eq_ignore_ascii_case(b"same-origin"));
        match from.origin {
            // A form of a page served with `Referrer-Policy: no-referrer` (the hosted pages, whose
            // links carry codes) is posted with `Origin: null`; the browser's own
            // `Sec-Fetch-Site`, which no page can set, says it came from this origin. Without
            // it, `null` is a sandboxed frame or an opaque redirect: never ours.
            Some(b"null") if same_origin => Ok(()),
            Some(origin) if !self.allows_origin(origin) => Err(CsrfFailure::ForeignOrigin),
            _ => Ok(()),
        }
    }

    /// The check for an unsafe request authenticated by a cookie: the origin rules of
    /// [`check_origin`](Self::check_origin), and `X-CSRF-Token` equal to the CSRF cookie.
    pub fn check_unsafe(
        &self,
        from: RequestOrigin<'_>,
        csrf_header: Option<&[u8]>,
        csrf_cookie: Option<&str>,
    ) -> Result<(), CsrfFailure> {
        self.check_origin(from)?;
        match (csrf_header, csrf_cookie) {
            (Some(header), Some(cookie))
                if !cookie.is_empty()
                    && verify_slices_are_equal(header, cookie.as_bytes()).is_ok() =>
            {
                Ok(())
            }
            _ => Err(CsrfFailure::TokenMismatch),
        }
    }
}

/// Whether `method` may change something (RFC 9110 §9.2.1: not GET, HEAD, OPTIONS or TRACE).
pub fn is_unsafe_method(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

/// The value of cookie `name` in `Cookie` header values; the first one when it is repeated.
pub fn find_cookie<'a>(
    cookie_headers: impl IntoIterator<Item = &'a [u8]>,
    name: &str,
) -> Option<&'a str> {
    cookie_headers
        .into_iter()
        .filter_map(|value| std::str::from_utf8(value).ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key.trim() == name).then(|| value.trim().trim_matches('"'))
        })
}

/// `scheme://host[:port]` of a URL, lower-case, without path or trailing slash.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if scheme.is_empty() || authority.is_empty() {
        return None;
    }
    Some(format!("{scheme}://{authority}").to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CookiePolicy {
        CookiePolicy::new(
            CookieNames::SECURE,
            &["https://app.example.com/", "http://127.0.0.1:3000"],
        )
    }

    fn from<'a>(origin: Option<&'a str>, site: Option<&'a str>) -> RequestOrigin<'a> {
        RequestOrigin {
            origin: origin.map(str::as_bytes),
            fetch_site: site.map(str::as_bytes),
        }
    }

    #[test]
    fn cookies_are_found_by_exact_name_across_headers() {
        let headers: [&[u8]; 2] = [b"a=1; tessera_csrf=abc", b"__Host-tessera_at=tok; x=2"];

        assert_eq!(find_cookie(headers, "__Host-tessera_at"), Some("tok"));
        assert_eq!(find_cookie(headers, "tessera_csrf"), Some("abc"));
        assert_eq!(find_cookie(headers, "tessera_at"), None);
        assert_eq!(find_cookie(headers, "csrf"), None);
    }

    #[test]
    fn a_matching_csrf_token_from_an_allowed_origin_passes() {
        let ok = policy().check_unsafe(
            from(Some("https://app.example.com"), Some("same-site")),
            Some(b"abc"),
            Some("abc"),
        );

        assert_eq!(ok, Ok(()));
    }

    #[test]
    fn a_missing_or_different_csrf_token_fails() {
        let p = policy();
        let here = from(None, Some("same-origin"));

        assert_eq!(
            p.check_unsafe(here, None, Some("abc")),
            Err(CsrfFailure::TokenMismatch)
        );
        assert_eq!(
            p.check_unsafe(here, Some(b"abd"), Some("abc")),
            Err(CsrfFailure::TokenMismatch)
        );
        assert_eq!(
            p.check_unsafe(here, Some(b"abc"), None),
            Err(CsrfFailure::TokenMismatch)
        );
        assert_eq!(
            p.check_unsafe(here, Some(b""), Some("")),
            Err(CsrfFailure::TokenMismatch)
        );
    }

    #[test]
    fn a_foreign_or_null_origin_and_a_cross_site_fetch_fail_even_with_the_token() {
        let p = policy();
        for (request, failure) in [
            (
                from(Some("https://evil.example.com"), None),
                CsrfFailure::ForeignOrigin,
            ),
            (from(Some("null"), None), CsrfFailure::ForeignOrigin),
            (
                from(Some("http://127.0.0.1:3001"), None),
                CsrfFailure::ForeignOrigin,
            ),
            (
                from(Some("https://app.example.com"), Some("cross-site")),
                CsrfFailure::CrossSite,
            ),
        ] {
            assert_eq!(
                p.check_unsafe(request, Some(b"abc"), Some("abc")),
                Err(failure)
            );
            assert_eq!(p.check_origin(request), Err(failure));
        }
    }

    #[test]
    fn a_null_origin_is_ours_only_when_the_browser_says_same_origin() {
        let p = policy();
        assert_eq!(
            p.check_origin(from(Some("null"), Some("same-origin"))),
            Ok(())
        );
        assert_eq!(
            p.check_unsafe(
                from(Some("null"), Some("same-origin")),
                Some(b"abc"),
                Some("abc")
            ),
            Ok(())
        );
        for site in [None, Some("same-site"), Some("none")] {
            assert_eq!(
                p.check_origin(from(Some("null"), site)),
                Err(CsrfFailure::ForeignOrigin),
                "{site:?}"
            );
        }
    }

    #[test]
    fn origins_compare_without_case_or_trailing_path() {
        let p = policy();

        assert!(p.allows_origin(b"HTTPS://APP.example.com"));
        assert!(!p.allows_origin(b"https://app.example.com.evil.net"));
        assert_eq!(
            origin_of("https://Auth.Example.com:8443/x?y"),
            Some("https://auth.example.com:8443".into())
        );
        assert_eq!(origin_of("not a url"), None);
    }

    #[test]
    fn only_get_head_options_and_trace_are_safe() {
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            assert!(is_unsafe_method(method));
        }
        for method in ["GET", "HEAD", "OPTIONS", "TRACE"] {
            assert!(!is_unsafe_method(method));
        }
    }
}
