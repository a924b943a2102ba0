//! RFC 7009 token revocation, sent by hand: oauth2's own request refuses any URL but https,
//! and tests run providers on plain-http loopback. The client authenticates as at the token
//! endpoint (HTTP Basic per RFC 6749 §2.3.1, or the form body).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oauth2::HttpRequest;
use oauth2::http::{HeaderValue, Method, Request, header};
use oauth2::url::{Url, form_urlencoded};
use tessera_core::social::UpstreamError;

use crate::http::Http;
use crate::token::{code_error, error_code};

/// How the client proves itself to the provider's endpoints.
pub(crate) struct ClientAuth<'a> {
    pub client_id: &'a str,
    pub client_secret: Option<&'a str>,
    /// client_secret_post rather than client_secret_basic.
    pub secret_in_body: bool,
}

/// Asks `url` to revoke `token` (`hint`: `refresh_token` or `access_token`).
pub(crate) async fn revoke(
    http: &Http,
    url: &Url,
    auth: &ClientAuth<'_>,
    token: &str,
    hint: &str,
) -> Result<(), UpstreamError> {
    let response = http
        .send(request(url, auth, token, hint)?)
        .await
        .map_err(|failure| failure.into_upstream(WHAT))?;
    // RFC 7009 §2.2: 200 also when the token was already invalid.
    if response.status().is_success() {
        return Ok(());
    }
    Err(match error_code(response.body()) {
        Some(code) => code_error(&code, WHAT),
        None => UpstreamError::Rejected(format!("{WHAT} answered {}", response.status().as_u16())),
    })
}

const WHAT: &str = "revocation endpoint";

fn request(
    url: &Url,
    auth: &ClientAuth<'_>,
    token: &str,
    hint: &str,
) -> Result<HttpRequest, UpstreamError> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token)
        .append_pair("token_type_hint", hint);
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(url.as_str())
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    match auth.client_secret {
        Some(secret) if !auth.secret_in_body => {
            request = request.header(header::AUTHORIZATION, basic(auth.client_id, secret)?);
        }
        secret => {
            form.append_pair("client_id", auth.client_id);
            if let Some(secret) = secret {
                form.append_pair("client_secret", secret);
            }
        }
    }
    request
        .body(form.finish().into_bytes())
        .map_err(|_| UpstreamError::Rejected(format!("{WHAT}: bad URL")))
}

/// RFC 6749 §2.3.1: id and secret are form-encoded before they are joined and base64-encoded.
fn basic(client_id: &str, client_secret: &str) -> Result<HeaderValue, UpstreamError> {
    let encode =
        |value: &str| form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
    let credentials = STANDARD.encode(format!("{}:{}", encode(client_id), encode(client_secret)));
    HeaderValue::try_from(format!("Basic {credentials}")).map_err(|_| {
        UpstreamError::Rejected("client credentials are not a header value".to_owned())
    })
}
