//! A fake upstream provider on loopback: OpenID discovery, JWKS, token, userinfo and revocation
//! endpoints, plus GitHub-shaped `/login/oauth/access_token`, `/user` and `/user/emails`.
//! Tests script its answers and read back what it was sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "tessera-client";
pub const CLIENT_SECRET: &str = "tessera-client-secret";
pub const REDIRECT_URI: &str = "http://127.0.0.1:8080/auth/oauth/fake/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A signing key and its public JWK.
pub struct TestKey {
    pub kid: String,
    signer: Signer,
    pub jwk: Value,
}

enum Signer {
    /// Through jsonwebtoken.
    Jwt(Algorithm, EncodingKey),
    /// RS256 by hand: jsonwebtoken reads RSA keys as PKCS#1 DER or PEM (a feature we leave
    /// off), aws-lc-rs writes PKCS#8.
    Rsa(RsaKeyPair),
}

impl TestKey {
    pub fn ed25519(kid: &str) -> Self {
        let pair = Ed25519KeyPair::generate().unwrap();
        let der = pair.to_pkcs8v1().unwrap();
        Self {
            kid: kid.to_owned(),
            signer: Signer::Jwt(Algorithm::EdDSA, EncodingKey::from_ed_der(der.as_ref())),
            jwk: json!({
                "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            }),
        }
    }

    pub fn rsa(kid: &str) -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let public = pair.public_key();
        let jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        });
        Self {
            kid: kid.to_owned(),
            signer: Signer::Rsa(pair),
            jwk,
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        match &self.signer {
            Signer::Jwt(alg, key) => {
                let mut header = Header::new(*alg);
                header.kid = Some(self.kid.clone());
                jsonwebtoken::encode(&header, claims, key).unwrap()
            }
            Signer::Rsa(pair) => {
                let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
                let input = format!(
                    "{}.{}",
                    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
                    URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
                );
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input.as_bytes(),
                    &mut signature,
                )
                .unwrap();
                format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
            }
        }
    }
}

/// A token signed with HS256 under `secret` (what an attacker who knows the client secret
/// could make).
pub fn sign_hs256(claims: &Value, secret: &str) -> String {
    let header = Header::new(Algorithm::HS256);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// An unsigned token (`alg: none`).
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{header}.{payload}.")
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub form: HashMap<String, String>,
    pub headers: HeaderMap,
}

#[derive(Default)]
struct Script {
    token_reply: Option<(u16, Value)>,
    userinfo: Value,
    emails: Value,
    jwks: Vec<Value>,
    discovery_down: bool,
    revocation_endpoint: bool,
    recorded: Vec<Recorded>,
}

struct Shared {
    base: String,
    script: Mutex<Script>,
}

/// The running fake.
pub struct FakeProvider {
    pub base: String,
    shared: Arc<Shared>,
}

impl FakeProvider {
    /// Starts a fake that serves `key` in its JWKS.
    pub async fn start(key: &TestKey) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            base: base.clone(),
            script: Mutex::new(Script {
                jwks: vec![key.jwk.clone()],
                revocation_endpoint: true,
                ..Script::default()
            }),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .route("/login/oauth/access_token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/user", get(userinfo))
            .route("/user/emails", get(emails))
            .route("/revoke", post(revoke))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, shared }
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.shared.script.lock().unwrap()
    }

    /// The claims of a good ID token for `nonce` at `now`.
    pub fn claims(&self, nonce: &str, now: i64) -> Value {
        json!({
            "iss": self.base, "aud": CLIENT_ID, "sub": "user-248289761001",
            "iat": now, "exp": now + 300, "nonce": nonce,
            "email": "ann@example.com", "email_verified": true, "name": "Ann Example",
        })
    }

    /// The token endpoint answers 200 with these tokens and `id_token`.
    pub fn answer_tokens(&self, id_token: Option<String>) {
        let mut body = json!({
            "access_token": "upstream-access", "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": "upstream-refresh",
        });
        if let Some(id_token) = id_token {
            body["id_token"] = json!(id_token);
        }
        self.answer_token_endpoint(200, body);
    }

    /// The token endpoint answers `status` with `body`.
    pub fn answer_token_endpoint(&self, status: u16, body: Value) {
        self.script().token_reply = Some((status, body));
    }

    pub fn answer_userinfo(&self, body: Value) {
        self.script().userinfo = body;
    }

    pub fn answer_emails(&self, body: Value) {
        self.script().emails = body;
    }

    /// Publishes `key` alongside the current keys (a rotation).
    pub fn publish_key(&self, key: &TestKey) {
        self.script().jwks.push(key.jwk.clone());
    }

    pub fn set_discovery_down(&self, down: bool) {
        self.script().discovery_down = down;
    }

    pub fn set_revocation_endpoint(&self, present: bool) {
        self.script().revocation_endpoint = present;
    }

    /// Every request to `path`, oldest first.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.script()
            .recorded
            .iter()
            .filter(|recorded| recorded.path == path)
            .cloned()
            .collect()
    }
}

fn record(shared: &Shared, path: &str, headers: &HeaderMap, form: HashMap<String, String>) {
    shared.script.lock().unwrap().recorded.push(Recorded {
        path: path.to_owned(),
        form,
        headers: headers.clone(),
    });
}

async fn discovery(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    record(
        &shared,
        "/.well-known/openid-configuration",
        &headers,
        HashMap::new(),
    );
    let script = shared.script.lock().unwrap();
    if script.discovery_down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let base = &shared.base;
    let mut document = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA", "RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    });
    if script.revocation_endpoint {
        document["revocation_endpoint"] = json!(format!("{base}/revoke"));
    }
    Json(document).into_response()
}

async fn jwks(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Json<Value> {
    record(&shared, "/jwks", &headers, HashMap::new());
    Json(json!({ "keys": shared.script.lock().unwrap().jwks }))
}

async fn token(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    record(&shared, uri.path(), &headers, form);
    let reply = shared.script.lock().unwrap().token_reply.clone();
    match reply {
        Some((status, body)) => (StatusCode::from_u16(status).unwrap(), Json(body)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn userinfo(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Json<Value> {
    record(&shared, uri.path(), &headers, HashMap::new());
    Json(shared.script.lock().unwrap().userinfo.clone())
}

async fn emails(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Json<Value> {
    record(&shared, "/user/emails", &headers, HashMap::new());
    Json(shared.script.lock().unwrap().emails.clone())
}

async fn revoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> StatusCode {
    record(&shared, "/revoke", &headers, form);
    StatusCode::OK
}
