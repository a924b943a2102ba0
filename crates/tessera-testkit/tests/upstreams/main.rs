//! The upstream providers of the social-login tests, driven by hand the way Tessera will drive
//! them: they prove the harness (the OpenID provider's interactions, rotation and counters; the
//! fake GitHub's checks), not Tessera. One test binary, a module per upstream.

mod fake_github;
mod oidc_provider;

use reqwest::Url;

// Nothing listens there: the upstreams only redirect to it, and the tests never follow.
const REDIRECT_URI: &str = "http://127.0.0.1:9/auth/oauth/op/callback";

/// The value of the query parameter `name` of a callback URL.
fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
