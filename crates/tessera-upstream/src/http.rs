//! The one HTTP client every provider call goes through: oauth2/openidconnect's
//! `AsyncHttpClient` over our reqwest 0.13 client, plus the JSON GETs of userinfo. Answers are
//! size-capped, and 5xx/429 become failures here so the callers see them as `Unavailable`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth2::http::{HeaderValue, StatusCode, header};
use oauth2::url::Url;
use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use tessera_core::social::UpstreamError;

/// The longest answer read from a provider (discovery, JWKS, token, userinfo).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Sent on every request; GitHub's API refuses requests without a `User-Agent`.
pub(crate) const USER_AGENT: &str = "tessera";

/// Builds the client that `UpstreamProvider::new` expects: no redirects followed (a provider
/// that redirects a back-channel call is refused rather than followed somewhere else), a 10 s
/// overall timeout, rustls with the system's trust roots.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(USER_AGENT)
        .build()
}

/// Our reqwest client, as the OAuth crates want it.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
}

/// A request that got no usable answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpFailure {
    /// Connection, TLS, timeout, or a body that would not read.
    #[error("{0}")]
    Transport(reqwest::Error),
    /// The provider answered 5xx or 429.
    #[error("answered {0}")]
    Status(StatusCode),
    /// The answer was larger than we read.
    #[error("answered more than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// The request could not be built (a bug or a broken URL).
    #[error("request could not be built")]
    Build,
}

impl HttpFailure {
    /// As the port's error, naming what we were calling.
    pub(crate) fn into_upstream(self, what: &str) -> UpstreamError {
        match self {
            Self::Build => UpstreamError::Rejected(format!("{what}: {self}")),
            _ => UpstreamError::Unavailable(format!("{what}: {self}")),
        }
    }
}

impl Http {
    pub(crate) fn new(client: reqwest::Client) -> Self {
        Self { client }
    }

    /// Sends `request` and reads the answer. 5xx and 429 are failures; other statuses are
    /// for the caller to judge.
    pub(crate) async fn send(&self, mut request: HttpRequest) -> Result<HttpResponse, HttpFailure> {
        request
            .headers_mut()
            .entry(header::USER_AGENT)
            .or_insert(HeaderValue::from_static(USER_AGENT));
        let request = reqwest::Request::try_from(request).map_err(|_| HttpFailure::Build)?;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|err| HttpFailure::Transport(err.without_url()))?;
        let status = response.status();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(HttpFailure::Status(status));
        }
        let mut builder = oauth2::http::Response::builder().status(status);
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_BODY_BYTES as u64)
        {
            return Err(HttpFailure::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| HttpFailure::Transport(err.without_url()))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(HttpFailure::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        builder.body(body).map_err(|_| HttpFailure::Build)
    }

    /// GETs `url` as JSON with `access_token` as the bearer.
    pub(crate) async fn get_json(
        &self,
        url: &Url,
        access_token: &str,
        what: &str,
    ) -> Result<serde_json::Value, UpstreamError> {
        let bearer = HeaderValue::try_from(format!("Bearer {access_token}")).map_err(|_| {
            UpstreamError::Rejected("the access token is not a valid header value".to_owned())
        })?;
        let request = oauth2::http::Request::builder()
            .method(oauth2::http::Method::GET)
            .uri(url.as_str())
            .header(header::ACCEPT, "application/json")
            .header(header::AUTHORIZATION, bearer)
            .body(Vec::new())
            .map_err(|_| UpstreamError::Rejected(format!("{what}: bad URL")))?;
        let response = self
            .send(request)
            .await
            .map_err(|failure| failure.into_upstream(what))?;
        if !response.status().is_success() {
            return Err(UpstreamError::Rejected(format!(
                "{what} answered {}",
                response.status().as_u16()
            )));
        }
        serde_json::from_slice(response.body())
            .map_err(|_| UpstreamError::Rejected(format!("{what}: the answer is not JSON")))
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpFailure;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpFailure>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
