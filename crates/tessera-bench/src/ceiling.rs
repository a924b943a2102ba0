//! The machine's limits for the verify scenario: a bare hyper endpoint (the HTTP ceiling with
//! this driver) and the same endpoint verifying an Ed25519 JWT (the ceiling for a token check
//! that no cache helps).
//!
//! Both speak just enough of Tessera's API for the driver's `seed` and `verify` scenarios to run
//! against them unchanged: `POST /auth/signup`, `POST /auth/login`, `POST /auth/refresh` mint
//! tokens, `GET /users/me` is the measured endpoint.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Options of the ceiling server.
#[derive(Debug, clap::Args)]
pub struct CeilingArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18090")]
    listen: std::net::SocketAddr,
    /// What `GET /users/me` does.
    #[arg(long, value_enum, default_value_t = Mode::Bare)]
    mode: Mode,
}

/// What the measured endpoint does.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Mode {
    /// Answers 200 with a fixed body, looking at nothing.
    Bare,
    /// Verifies the bearer token (Ed25519 signature, `iss`, `aud`, `exp`) and answers its claims.
    Ed25519,
}

const ISSUER: &str = "http://ceiling";

/// The claims minted here: the shape of Tessera's, so parsing costs the same.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    jti: String,
    sid: String,
    roles: Vec<String>,
    email: String,
}

struct Keys {
    mode: Mode,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    minted: AtomicU64,
}

impl Keys {
    fn generate(mode: Mode) -> anyhow::Result<Self> {
        let pair = Ed25519KeyPair::generate().map_err(|_| anyhow::anyhow!("key generation"))?;
        let pkcs8 = pair
            .to_pkcs8v1()
            .map_err(|_| anyhow::anyhow!("key export"))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[ISSUER]);
        Ok(Self {
            mode,
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            decoding: DecodingKey::from_ed_der(pair.public_key().as_ref()),
            validation,
            minted: AtomicU64::new(0),
        })
    }

    /// A token pair as Tessera's login and refresh answer it; every access token is distinct.
    #[expect(
        clippy::disallowed_methods,
        reason = "the ceiling mints real tokens for the wall clock; nothing drives its time"
    )]
    fn mint(&self) -> Bytes {
        let n = self.minted.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let claims = Claims {
            iss: ISSUER.into(),
            sub: "0198d1a2-0000-7000-8000-000000000001".into(),
            aud: ISSUER.into(),
            exp: now + 900,
            iat: now,
            jti: format!("0198d1a2-0000-7000-8000-{n:012}"),
            sid: "0198d1a2-0000-7000-8000-000000000002".into(),
            roles: Vec::new(),
            email: "bench@example.com".into(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some("ceiling".into());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding).unwrap_or_default();
        let body = serde_json::json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 900,
            "refresh_token": format!("refresh-{n}"),
        });
        Bytes::from(body.to_string())
    }

    fn me(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        match self.mode {
            Mode::Bare => reply(StatusCode::OK, Bytes::from_static(br#"{"ok":true}"#)),
            Mode::Ed25519 => {
                let token = request
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.strip_prefix("Bearer "));
                let claims = token.and_then(|token| {
                    jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()
                });
                match claims {
                    Some(data) => reply(
                        StatusCode::OK,
                        Bytes::from(serde_json::to_vec(&data.claims).unwrap_or_default()),
                    ),
                    None => reply(StatusCode::UNAUTHORIZED, Bytes::new()),
                }
            }
        }
    }
}

/// A JSON answer with `status`; the fake servers of the drills share it.
pub(crate) fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn handle(
    keys: Arc<Keys>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path();
    Ok(match (request.method(), path) {
        (&Method::GET, "/users/me") => keys.me(&request),
        (&Method::POST, "/auth/signup") => reply(StatusCode::CREATED, Bytes::from_static(b"{}")),
        (&Method::POST, "/auth/login" | "/auth/refresh") => reply(StatusCode::OK, keys.mint()),
        (&Method::GET, "/readyz") => reply(StatusCode::OK, Bytes::from_static(b"{}")),
        _ => reply(StatusCode::NOT_FOUND, Bytes::new()),
    })
}

/// Serves until killed.
pub async fn serve(args: CeilingArgs) -> anyhow::Result<serde_json::Value> {
    let keys = Arc::new(Keys::generate(args.mode)?);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    serve_http1(listener, keys, handle).await
}

/// Answers every connection of `listener` with `handle` over HTTP/1.1 (no Nagle delay), with
/// `state`, until the listener fails; the fake servers of the drills share it.
pub(crate) async fn serve_http1<S, Handle, Answer>(
    listener: tokio::net::TcpListener,
    state: Arc<S>,
    handle: Handle,
) -> anyhow::Result<serde_json::Value>
where
    S: Send + Sync + 'static,
    Handle: Fn(Arc<S>, Request<Incoming>) -> Answer + Copy + Send + Sync + 'static,
    Answer:
        std::future::Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send + 'static,
{
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(Arc::clone(&state), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
