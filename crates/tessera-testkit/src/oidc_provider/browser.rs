//! Just enough of a browser for the provider's own pages: it follows no redirect by itself (the
//! sign-in decides where to stop), keeps cookies, and reads the one form of a page. The cookies
//! are kept by name and sent on every request: they all come from one host, and oidc-provider's
//! cookies have distinct names, so their paths need no honouring.

use std::collections::BTreeMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{RequestBuilder, StatusCode, Url};

/// A cookie jar in front of a client that does not follow redirects.
pub(super) struct Browser {
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

/// One response, read.
pub(super) struct Page {
    pub url: Url,
    pub status: StatusCode,
    /// Where a redirect points, resolved against `url`.
    pub location: Option<Url>,
    pub body: String,
}

/// The form of a devInteractions page: where it posts, and which step it is (its hidden
/// `prompt` field: `login` or `consent`).
pub(super) struct Form {
    pub action: Url,
    pub prompt: String,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            client: super::plain_client(),
            cookies: BTreeMap::new(),
        }
    }

    pub async fn get(&mut self, url: &Url) -> Page {
        let request = self.client.get(url.clone());
        self.send(request, url).await
    }

    pub async fn post_form(&mut self, url: &Url, fields: &[(&str, &str)]) -> Page {
        let request = self.client.post(url.clone()).form(fields);
        self.send(request, url).await
    }

    async fn send(&mut self, mut request: RequestBuilder, url: &Url) -> Page {
        if !self.cookies.is_empty() {
            request = request.header(COOKIE, self.cookie_header());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|err| panic!("the provider answers {url}: {err}"));
        for value in response.headers().get_all(SET_COOKIE) {
            self.store(value.to_str().unwrap_or_default());
        }
        let status = response.status();
        let location = status.is_redirection().then(|| {
            let target = response
                .headers()
                .get(LOCATION)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_else(|| panic!("a {status} without a Location from {url}"));
            url.join(target)
                .unwrap_or_else(|err| panic!("the Location {target:?} from {url}: {err}"))
        });
        let body = response.text().await.unwrap_or_default();
        Page {
            url: url.clone(),
            status,
            location,
            body,
        }
    }

    fn cookie_header(&self) -> String {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        pairs.join("; ")
    }

    /// Keeps the cookie of one `Set-Cookie` header, or forgets it when the header clears it (an
    /// empty value, as Koa's `cookies.set(name, null)` writes, with an expiry in 1970).
    fn store(&mut self, header: &str) {
        let pair = header.split(';').next().unwrap_or_default();
        let Some((name, value)) = pair.split_once('=') else {
            return;
        };
        let name = name.trim().to_owned();
        let value = value.trim();
        if value.is_empty() || header.contains("01 Jan 1970") {
            self.cookies.remove(&name);
        } else {
            self.cookies.insert(name, value.to_owned());
        }
    }
}

impl Page {
    /// The page's form; panics with the page when it has none, such as an error page.
    pub fn form(&self) -> Form {
        let fail = || -> ! {
            panic!(
                "a form on the provider's page {} ({}):\n{}",
                self.url, self.status, self.body
            )
        };
        if self.status != StatusCode::OK {
            fail();
        }
        let form_start = self.body.find("<form").unwrap_or_else(|| fail());
        let form = &self.body[form_start..];
        let action = attribute(form, "action=\"").unwrap_or_else(|| fail());
        let prompt = attribute(form, "name=\"prompt\" value=\"").unwrap_or_else(|| fail());
        let action = self
            .url
            .join(&action)
            .unwrap_or_else(|err| panic!("the form action {action:?} at {}: {err}", self.url));
        Form { action, prompt }
    }
}

/// The HTML-unescaped text between `opening` (ending with a quote) and the next quote.
fn attribute(html: &str, opening: &str) -> Option<String> {
    let start = html.find(opening)? + opening.len();
    let end = start + html[start..].find('"')?;
    Some(
        html[start..end]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}
