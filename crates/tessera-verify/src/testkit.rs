//! Test support: keys from aws-lc-rs, tokens signed with jsonwebtoken, a manual clock, and a
//! bounded wait for effects that arrive over a socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde::Serialize;

use crate::{ACCESS_TOKEN_TYPE, AccessClaims, Clock, Expectations, KeySet};

pub const ISSUER: &str = "https://auth.example.test";
pub const AUDIENCE: &str = "movies-api";
pub const NOW: i64 = 1_800_000_000;

/// A signing key with its public JWK.
pub struct TestKey {
    pub jwk: Jwk,
    algorithm: Algorithm,
    kid: String,
    encoding: EncodingKey,
    public: Vec<u8>,
}

impl TestKey {
    pub fn ed25519(kid: &str) -> Self {
        let pair = Ed25519KeyPair::generate().expect("key generation works");
        let public = pair.public_key().as_ref().to_vec();
        // PKCS#8 v1: jsonwebtoken's JWK export wants the 48-byte form.
        let der = pair.to_pkcs8v1().expect("PKCS#8 export works");
        Self::new(
            kid,
            Algorithm::EdDSA,
            EncodingKey::from_ed_der(der.as_ref()),
            public,
        )
    }

    pub fn es256(kid: &str) -> Self {
        let alg = &ECDSA_P256_SHA256_FIXED_SIGNING;
        let der =
            EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new()).expect("key generation works");
        let pair = EcdsaKeyPair::from_pkcs8(alg, der.as_ref()).expect("own key parses");
        let public = pair.public_key().as_ref().to_vec();
        Self::new(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_der(der.as_ref()),
            public,
        )
    }

    fn new(kid: &str, algorithm: Algorithm, encoding: EncodingKey, public: Vec<u8>) -> Self {
        let mut jwk = Jwk::from_encoding_key(&encoding, algorithm).expect("public JWK");
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            jwk,
            algorithm,
            kid: kid.to_owned(),
            encoding,
            public,
        }
    }

    /// The raw public key, as an attacker would find it in the JWKS.
    pub fn public_key_bytes(&self) -> Vec<u8> {
        self.public.clone()
    }

    pub fn key_set(&self) -> KeySet {
        KeySet::from_jwks(&jwks(&[self]))
    }

    /// `alg` of this key, `typ: at+jwt`, `kid` of this key.
    pub fn header(&self) -> Header {
        let mut header = Header::new(self.algorithm);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(self.kid.clone());
        header
    }

    pub fn sign(&self, claims: &impl Serialize) -> String {
        self.sign_with(self.header(), claims)
    }

    pub fn sign_with(&self, header: Header, claims: &impl Serialize) -> String {
        encode(&header, claims, &self.encoding).expect("signing works")
    }

    /// A token with `header` and valid claims but an empty signature.
    pub fn unsigned(&self, header: &serde_json::Value) -> String {
        let part = |value: &[u8]| URL_SAFE_NO_PAD.encode(value);
        let header = serde_json::to_vec(header).expect("JSON");
        let claims = serde_json::to_vec(&claims(NOW)).expect("JSON");
        format!("{}.{}.", part(&header), part(&claims))
    }
}

pub fn jwks(keys: &[&TestKey]) -> JwkSet {
    JwkSet {
        keys: keys.iter().map(|key| key.jwk.clone()).collect(),
    }
}

pub fn expectations() -> Expectations {
    Expectations::new(ISSUER, AUDIENCE)
}

/// Valid claims issued at `iat`, living 15 minutes.
pub fn claims(iat: i64) -> AccessClaims {
    AccessClaims {
        iss: ISSUER.into(),
        sub: "0190a5b2-0000-7000-8000-000000000001".into(),
        aud: AUDIENCE.into(),
        exp: iat + 900,
        iat,
        nbf: None,
        jti: format!("jti-{iat}"),
        sid: "0190a5b2-0000-7000-8000-0000000000aa".into(),
        roles: vec!["reader".into()],
        email: "ada@example.test".into(),
        amr: vec!["pwd".into()],
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn at(now: i64) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(now)))
    }

    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }

    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn unix(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Polls `check` until it holds, failing the test after `timeout`.
#[cfg(feature = "fetch")]
pub async fn eventually<F, Fut>(timeout: std::time::Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let polling = async {
        while !check().await {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(timeout, polling)
        .await
        .expect("the condition did not hold in time");
}

/// Serves `router` on an ephemeral loopback port; returns its base URL.
#[cfg(feature = "fetch")]
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("bound address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}
