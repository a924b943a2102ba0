//! `UpstreamProvider`: one configured provider implementing the core's `Provider` port. The
//! OAuth 2.0 legs (authorization URL, code and refresh grants, RFC 7009 revocation) are the same
//! for both kinds; only where the identity comes from differs (ID token or userinfo).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
};
use oauth2::url::Url;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope, StandardRevocableToken,
    TokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::social::{
    AuthorizationRequest, CodeExchange, Profile, Provider, ProviderTokens, UpstreamError,
};

use crate::http::Http;
use crate::oidc::{Discovered, Expected, Oidc};
use crate::profile;
use crate::revocation::{self, ClientAuth};
use crate::settings::{Endpoints, ProviderKind, ProviderSettings, Resolved, UpstreamConfigError};
use crate::token::{TokenAnswer, endpoint_error};

/// oauth2's client with our token response; auth and token endpoints set.
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// One upstream provider (`[oauth.providers.NAME]`), ready to use.
///
/// Built without network access; an OpenID provider reads its discovery document at first use
/// and keeps it (a failed read is `Unavailable` and is tried again at the next call).
pub struct UpstreamProvider {
    settings: Resolved,
    source: Source,
    http: Http,
    clock: Arc<dyn Clock>,
}

/// Where the endpoints and the identity come from.
#[allow(clippy::large_enum_variant)] // one per provider, built once
enum Source {
    /// Discovery and the ID token.
    Oidc(Oidc),
    /// Configured endpoints and userinfo.
    OAuth2 {
        authorize_url: Url,
        token_url: Url,
        userinfo_url: Url,
    },
}

impl fmt::Debug for UpstreamProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamProvider")
            .field("name", &self.settings.name)
            .field("kind", &self.kind())
            .field("client_id", &self.settings.client_id)
            .finish_non_exhaustive()
    }
}

/// Where this call's endpoints are.
struct Resolution<'a> {
    authorize_url: &'a Url,
    token_url: &'a Url,
    revocation_url: Option<&'a Url>,
    secret_in_body: bool,
    identity: Identity<'a>,
}

/// Where the profile comes from.
enum Identity<'a> {
    /// The ID token, validated against discovery.
    IdToken(&'a Discovered),
    /// The userinfo endpoint, read with the access token.
    Userinfo(&'a Url),
}

impl UpstreamProvider {
    /// Checks `settings` (over its preset) and builds the provider named `name` (the table's
    /// name, part of the callback URL).
    ///
    /// `http` is shared by every provider and must be built as [`crate::http_client`] builds
    /// it: no redirects followed (a back-channel call is never sent on to another host), an
    /// overall timeout (10 s), and rustls. Its timeout bounds every call to the provider.
    pub fn new(
        name: &str,
        settings: ProviderSettings,
        http: reqwest::Client,
    ) -> Result<Self, UpstreamConfigError> {
        let (settings, endpoints) = Resolved::new(name, settings)?;
        let source = match endpoints {
            Endpoints::Oidc { issuer } => Source::Oidc(Oidc::new(issuer)),
            Endpoints::OAuth2 {
                authorize_url,
                token_url,
                userinfo_url,
            } => Source::OAuth2 {
                authorize_url,
                token_url,
                userinfo_url,
            },
        };
        Ok(Self {
            settings,
            source,
            http: Http::new(http),
            clock: Arc::new(SystemClock),
        })
    }

    /// Reads time from `clock` (ID token expiry, `expires_at`) instead of the wall clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// OpenID Connect or plain OAuth 2.0.
    pub fn kind(&self) -> ProviderKind {
        match self.source {
            Source::Oidc(_) => ProviderKind::Oidc,
            Source::OAuth2 { .. } => ProviderKind::OAuth2,
        }
    }

    async fn resolve(&self) -> Result<Resolution<'_>, UpstreamError> {
        let configured_revocation = self.settings.revocation_url.as_ref();
        match &self.source {
            Source::OAuth2 {
                authorize_url,
                token_url,
                userinfo_url,
            } => Ok(Resolution {
                authorize_url,
                token_url,
                revocation_url: configured_revocation,
                secret_in_body: self.settings.auth_in_body,
                identity: Identity::Userinfo(userinfo_url),
            }),
            Source::Oidc(oidc) => {
                let discovered = oidc.discovered(&self.http).await?;
                Ok(Resolution {
                    authorize_url: &discovered.authorize_url,
                    token_url: &discovered.token_url,
                    revocation_url: configured_revocation.or(discovered.revocation_url.as_ref()),
                    secret_in_body: self.settings.auth_in_body || discovered.wants_secret_in_body,
                    identity: Identity::IdToken(discovered),
                })
            }
        }
    }

    fn client(&self, endpoints: &Resolution<'_>) -> OAuthClient {
        let auth_type = if endpoints.secret_in_body {
            AuthType::RequestBody
        } else {
            AuthType::BasicAuth
        };
        let client = oauth2::Client::new(ClientId::new(self.settings.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(endpoints.authorize_url.clone()))
            .set_token_uri(TokenUrl::from_url(endpoints.token_url.clone()))
            .set_auth_type(auth_type);
        match &self.settings.client_secret {
            Some(secret) => {
                client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()))
            }
            None => client,
        }
    }

    async fn oidc_profile(
        &self,
        discovered: &Discovered,
        answer: &TokenAnswer,
        nonce: &str,
    ) -> Result<Profile, UpstreamError> {
        let raw = answer.id_token().ok_or_else(|| {
            UpstreamError::Rejected("the token endpoint sent no id token".to_owned())
        })?;
        let expected = Expected {
            client_id: &self.settings.client_id,
            nonce,
            now: self.clock.unix(),
            email_trusted: self.settings.email_trusted,
        };
        let mut profile = discovered
            .validate_id_token(raw, &expected, &self.http)
            .await?;
        if let (None, Some(userinfo_url)) = (&profile.email, &discovered.userinfo_url) {
            let access_token = answer.access_token().secret();
            let userinfo = self
                .http
                .get_json(userinfo_url, access_token, "userinfo")
                .await?;
            complete_from_userinfo(&mut profile, &userinfo)?;
        }
        Ok(profile)
    }

    async fn oauth2_profile(
        &self,
        userinfo_url: &Url,
        answer: &TokenAnswer,
    ) -> Result<Profile, UpstreamError> {
        let access_token = answer.access_token().secret();
        let userinfo = self
            .http
            .get_json(userinfo_url, access_token, "userinfo")
            .await?;
        let mut profile = profile::from_userinfo(
            &userinfo,
            &self.settings.fields,
            self.settings.email_trusted,
        )?;
        if let Some(emails_url) = &self.settings.emails_url {
            let list = self
                .http
                .get_json(emails_url, access_token, "emails list")
                .await?;
            match profile::from_email_list(&list)? {
                Some((email, verified)) => {
                    profile.email = Some(email);
                    profile.email_verified = verified;
                }
                // Only the list vouches for emails; the profile's own email stays unverified.
                None => profile.email_verified = false,
            }
        }
        Ok(profile)
    }
}

/// Fills the email (and name) an ID token lacked from OpenID userinfo, whose `sub` must be the
/// ID token's (OpenID Connect Core §5.3.2: otherwise the answer is not about this user).
fn complete_from_userinfo(
    profile: &mut Profile,
    userinfo: &serde_json::Value,
) -> Result<(), UpstreamError> {
    if profile::text(profile::lookup(userinfo, "sub")).as_deref() != Some(&profile.subject) {
        return Err(UpstreamError::Rejected(
            "userinfo sub differs from the id token's".to_owned(),
        ));
    }
    profile.email = profile::text(profile::lookup(userinfo, "email"));
    profile.email_verified =
        profile.email.is_some() && profile::is_yes(profile::lookup(userinfo, "email_verified"));
    if profile.name.is_none() {
        profile.name = profile::text(profile::lookup(userinfo, "name"));
    }
    Ok(())
}

fn redirect_url(redirect_uri: &str) -> Result<RedirectUrl, UpstreamError> {
    RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|_| UpstreamError::Rejected("the redirect URI is not a URL".to_owned()))
}

#[async_trait]
impl Provider for UpstreamProvider {
    async fn authorization_url(
        &self,
        request: AuthorizationRequest<'_>,
    ) -> Result<String, UpstreamError> {
        let endpoints = self.resolve().await?;
        let client = self.client(&endpoints);
        let mut authorization = client
            .authorize_url(|| CsrfToken::new(request.state.to_owned()))
            .set_redirect_uri(Cow::Owned(redirect_url(request.redirect_uri)?))
            .add_scopes(self.settings.scopes.iter().cloned().map(Scope::new))
            // The core made the verifier; PKCE S256 (RFC 7636 §4.3).
            .add_extra_param("code_challenge", request.code_challenge)
            .add_extra_param("code_challenge_method", "S256");
        if matches!(endpoints.identity, Identity::IdToken(_)) {
            authorization = authorization.add_extra_param("nonce", request.nonce);
        }
        let (url, _state) = authorization.url();
        Ok(url.into())
    }

    async fn exchange(
        &self,
        exchange: CodeExchange<'_>,
    ) -> Result<(Profile, ProviderTokens), UpstreamError> {
        let endpoints = self.resolve().await?;
        let answer = self
            .client(&endpoints)
            .exchange_code(AuthorizationCode::new(exchange.code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(exchange.code_verifier.to_owned()))
            .set_redirect_uri(Cow::Owned(redirect_url(exchange.redirect_uri)?))
            .request_async(&self.http)
            .await
            .map_err(|err| endpoint_error(err, "token endpoint"))?;
        let tokens = answer.to_provider_tokens(self.clock.unix());
        let profile = match endpoints.identity {
            Identity::IdToken(discovered) => {
                self.oidc_profile(discovered, &answer, exchange.nonce)
                    .await?
            }
            Identity::Userinfo(userinfo_url) => self.oauth2_profile(userinfo_url, &answer).await?,
        };
        Ok((profile, tokens))
    }

    async fn refresh(&self, refresh_token: &str) -> Result<ProviderTokens, UpstreamError> {
        let endpoints = self.resolve().await?;
        let refresh_token = RefreshToken::new(refresh_token.to_owned());
        let answer = self
            .client(&endpoints)
            .exchange_refresh_token(&refresh_token)
            .request_async(&self.http)
            .await
            .map_err(|err| endpoint_error(err, "token endpoint"))?;
        // A new ID token in a refresh answer is not read: the identity was settled at login.
        Ok(answer.to_provider_tokens(self.clock.unix()))
    }

    async fn revoke(&self, tokens: &ProviderTokens) -> Result<bool, UpstreamError> {
        let endpoints = self.resolve().await?;
        let Some(revocation_url) = endpoints.revocation_url else {
            return Ok(false);
        };
        // Revoking the refresh token ends the grant, and with it the access tokens (RFC 7009 §2.1).
        let (token, hint) = match &tokens.refresh_token {
            Some(refresh) => (refresh.as_str(), "refresh_token"),
            None => (tokens.access_token.as_str(), "access_token"),
        };
        let auth = ClientAuth {
            client_id: &self.settings.client_id,
            client_secret: self
                .settings
                .client_secret
                .as_ref()
                .map(|secret| secret.expose_secret()),
            secret_in_body: endpoints.secret_in_body,
        };
        revocation::revoke(&self.http, revocation_url, &auth, token, hint).await?;
        Ok(true)
    }
}

/// Builds every configured provider, reporting every broken table at once.
///
/// `http` as for [`UpstreamProvider::new`]; `clock` is the server's.
pub fn build_providers(
    settings: BTreeMap<String, ProviderSettings>,
    http: &reqwest::Client,
    clock: Arc<dyn Clock>,
) -> Result<BTreeMap<String, Arc<dyn Provider>>, Vec<UpstreamConfigError>> {
    let mut providers = BTreeMap::new();
    let mut errors = Vec::new();
    for (name, settings) in settings {
        match UpstreamProvider::new(&name, settings, http.clone()) {
            Ok(provider) => {
                let provider: Arc<dyn Provider> = Arc::new(provider.with_clock(clock.clone()));
                providers.insert(name, provider);
            }
            Err(err) => errors.push(err),
        }
    }
    if errors.is_empty() {
        Ok(providers)
    } else {
        Err(errors)
    }
}
