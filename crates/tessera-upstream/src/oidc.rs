//! OpenID Connect: discovery (read once and kept; a failure is retried at the next use), the
//! provider's JWKS (read again once when an ID token names a key it lacks), and ID token
//! validation. Only asymmetric signatures are accepted: never `none`, never HS* (whose key
//! would be our client secret, known to more parties than the provider).

use std::str::FromStr;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use oauth2::url::Url;
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier, CoreJsonWebKey, CoreJsonWebKeySet,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, ClaimsVerificationError, ClientId, DiscoveryError, IssuerUrl,
    JsonWebKeySet, JsonWebKeySetUrl, Nonce, ProviderMetadata, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use tessera_core::social::{Profile, UpstreamError};
use tokio::sync::OnceCell;

use crate::http::{Http, HttpFailure};

/// The signature algorithms an ID token may use.
const ALLOWED_ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Discovery metadata, with the RFC 7009 endpoint openidconnect's core type leaves out.
type Metadata = ProviderMetadata<
    RevocationMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

#[derive(Debug, Clone, Deserialize, Serialize)]
struct RevocationMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revocation_endpoint: Option<String>,
}

impl AdditionalProviderMetadata for RevocationMetadata {}

/// One OpenID provider's discovery, fetched on first use.
#[derive(Debug)]
pub(crate) struct Oidc {
    issuer: String,
    discovered: OnceCell<Discovered>,
}

/// What discovery said.
#[derive(Debug)]
pub(crate) struct Discovered {
    issuer: IssuerUrl,
    pub authorize_url: Url,
    pub token_url: Url,
    pub userinfo_url: Option<Url>,
    pub revocation_url: Option<Url>,
    /// The token endpoint accepts client_secret_post but not client_secret_basic.
    pub wants_secret_in_body: bool,
    jwks_uri: JsonWebKeySetUrl,
    jwks: RwLock<Arc<CoreJsonWebKeySet>>,
}

/// What an ID token must say to be ours.
pub(crate) struct Expected<'a> {
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// Unix seconds.
    pub now: i64,
    /// Whether an email without an `email_verified` claim counts as verified (the preset's
    /// `email_trusted`).
    pub email_trusted: bool,
}

impl Oidc {
    pub(crate) fn new(issuer: String) -> Self {
        Self {
            issuer,
            discovered: OnceCell::new(),
        }
    }

    /// Discovery, read now if it has not been yet.
    pub(crate) async fn discovered(&self, http: &Http) -> Result<&Discovered, UpstreamError> {
        self.discovered
            .get_or_try_init(|| discover(&self.issuer, http))
            .await
    }
}

async fn discover(issuer: &str, http: &Http) -> Result<Discovered, UpstreamError> {
    let issuer = IssuerUrl::new(issuer.to_owned())
        .map_err(|_| UpstreamError::Rejected("the issuer is not a URL".to_owned()))?;
    let metadata = Metadata::discover_async(issuer.clone(), http)
        .await
        .map_err(|err| discovery_error(err, "discovery"))?;
    let token_url = metadata
        .token_endpoint()
        .map(|url| url.url().clone())
        .ok_or_else(|| {
            UpstreamError::Unavailable("discovery names no token endpoint".to_owned())
        })?;
    let revocation_url = metadata
        .additional_metadata()
        .revocation_endpoint
        .as_deref()
        .and_then(|url| Url::parse(url).ok());
    let methods = metadata.token_endpoint_auth_methods_supported();
    let wants_secret_in_body = methods.is_some_and(|methods| {
        methods.contains(&CoreClientAuthMethod::ClientSecretPost)
            && !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
    });
    Ok(Discovered {
        issuer,
        authorize_url: metadata.authorization_endpoint().url().clone(),
        token_url,
        userinfo_url: metadata.userinfo_endpoint().map(|url| url.url().clone()),
        revocation_url,
        wants_secret_in_body,
        jwks_uri: metadata.jwks_uri().clone(),
        jwks: RwLock::new(Arc::new(metadata.jwks().clone())),
    })
}

impl Discovered {
    /// Validates `raw` (signature through the JWKS, `iss`, `aud`, `azp`, `exp`, `nonce`) and
    /// reads the profile from it. An unknown `kid` re-reads the JWKS once (key rotation).
    pub(crate) async fn validate_id_token(
        &self,
        raw: &str,
        expected: &Expected<'_>,
        http: &Http,
    ) -> Result<Profile, UpstreamError> {
        let token = CoreIdToken::from_str(raw)
            .map_err(|_| UpstreamError::Rejected("id token malformed".to_owned()))?;
        let claims = match self.verify(&token, &self.jwks(), expected) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let jwks = self.refresh_jwks(http).await?;
                self.verify(&token, &jwks, expected)
            }
            verified => verified,
        }
        .map_err(claims_error)?;
        check_authorized_party(claims, expected.client_id)?;
        Ok(Profile {
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|email| email.as_str().to_owned()),
            email_verified: claims.email().is_some()
                && claims.email_verified().unwrap_or(expected.email_trusted),
            name: claims
                .name()
                .and_then(|name| name.get(None))
                .map(|name| name.as_str().to_owned()),
        })
    }

    fn verify<'t>(
        &self,
        token: &'t CoreIdToken,
        jwks: &CoreJsonWebKeySet,
        expected: &Expected<'_>,
    ) -> Result<&'t CoreIdTokenClaims, ClaimsVerificationError> {
        let now =
            DateTime::<Utc>::from_timestamp(expected.now, 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new(expected.client_id.to_owned()),
            self.issuer.clone(),
            jwks.clone(),
        )
        .set_allowed_algs(ALLOWED_ALGORITHMS)
        .set_time_fn(move || now)
        // Extra audiences are judged through `azp` (check_authorized_party).
        .set_other_audience_verifier_fn(|_| true);
        token.claims(&verifier, &Nonce::new(expected.nonce.to_owned()))
    }

    fn jwks(&self) -> Arc<CoreJsonWebKeySet> {
        self.jwks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    async fn refresh_jwks(&self, http: &Http) -> Result<Arc<CoreJsonWebKeySet>, UpstreamError> {
        let jwks = Arc::new(
            JsonWebKeySet::fetch_async(&self.jwks_uri, http)
                .await
                .map_err(|err| discovery_error(err, "jwks"))?,
        );
        *self
            .jwks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = jwks.clone();
        Ok(jwks)
    }
}

/// OpenID Connect Core §3.1.3.7 steps 4–5, which openidconnect leaves to its users: with
/// several audiences, `azp` must name us; when present, it must name us anyway.
fn check_authorized_party(
    claims: &CoreIdTokenClaims,
    client_id: &str,
) -> Result<(), UpstreamError> {
    match claims.authorized_party() {
        Some(party) if party.as_str() != client_id => Err(UpstreamError::Rejected(
            "id token authorized party (azp)".to_owned(),
        )),
        None if claims.audiences().len() > 1 => Err(UpstreamError::Rejected(
            "id token audience (several, without azp)".to_owned(),
        )),
        _ => Ok(()),
    }
}

/// Names the failed check; the library's messages hold claim values, so they stay out.
fn claims_error(err: ClaimsVerificationError) -> UpstreamError {
    let reason = match err {
        ClaimsVerificationError::Expired(_) => "id token expired",
        ClaimsVerificationError::InvalidAudience(_) => "id token audience",
        ClaimsVerificationError::InvalidIssuer(_) => "id token issuer",
        ClaimsVerificationError::InvalidNonce(_) => "id token nonce mismatch",
        ClaimsVerificationError::InvalidSubject(_) => "id token subject",
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::DisallowedAlg(_)
            | SignatureVerificationError::UnsupportedAlg(_)
            | SignatureVerificationError::NoSignature,
        ) => "id token signature algorithm not allowed",
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => "id token signature (no matching key)",
        ClaimsVerificationError::SignatureVerification(_) => "id token signature",
        _ => "id token unsupported",
    };
    UpstreamError::Rejected(reason.to_owned())
}

fn discovery_error(err: DiscoveryError<HttpFailure>, what: &str) -> UpstreamError {
    match err {
        DiscoveryError::Request(failure) => failure.into_upstream(what),
        DiscoveryError::Response(status, _, _) => {
            UpstreamError::Unavailable(format!("{what} answered {}", status.as_u16()))
        }
        DiscoveryError::Parse(_) => {
            UpstreamError::Unavailable(format!("{what}: malformed document"))
        }
        // The issuer in the document differs from the configured one (Microsoft's `common`).
        DiscoveryError::Validation(message) => {
            UpstreamError::Unavailable(format!("{what}: {message}"))
        }
        _ => UpstreamError::Unavailable(format!("{what} failed")),
    }
}
