//! What an operator configures for one upstream provider (`[oauth.providers.NAME]`, API.md §6),
//! and how it becomes a complete description: the preset's defaults overlaid by the explicit
//! settings, checked once at start. Nothing here touches the network.

use std::fmt;

use oauth2::url::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::preset::{self, Preset};

/// How a provider tells who signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ProviderKind {
    /// OpenID Connect: endpoints from discovery, identity from a signed ID token.
    #[serde(rename = "oidc")]
    Oidc,
    /// Plain OAuth 2.0: identity from a userinfo endpoint read with the access token.
    #[serde(rename = "oauth2")]
    OAuth2,
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Oidc => "oidc",
            Self::OAuth2 => "oauth2",
        })
    }
}

/// One `[oauth.providers.NAME]` table. Empty strings and lists mean "not set": the preset's
/// value applies, then the built-in default (`kind` oidc, `id_field` "sub", `email_field`
/// "email", scopes `openid email profile` for oidc).
///
/// URLs may be plain `http` so tests can run providers on loopback; production providers are
/// `https`. `client_secret` never appears in `Debug` or logs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSettings {
    /// `oidc` or `oauth2`; without it, the preset's kind, else `oidc`.
    pub kind: Option<ProviderKind>,
    /// `google`, `github`, `spotify`, `kakao`, `naver`, `microsoft`, or empty. With
    /// `microsoft`, set `issuer` to the tenant's (`https://login.microsoftonline.com/{tenant
    /// id}/v2.0`): the preset's `common` issuer is not what the tenant's ID tokens (nor its
    /// discovery document) say, so discovery refuses it.
    pub preset: String,
    /// OpenID Connect issuer; discovery at `{issuer}/.well-known/openid-configuration`. It must
    /// equal the ID tokens' `iss` exactly.
    pub issuer: String,
    /// OAuth 2.0 authorization endpoint.
    pub authorize_url: String,
    /// OAuth 2.0 token endpoint.
    pub token_url: String,
    /// OAuth 2.0 endpoint that answers the profile as JSON for the access token.
    pub userinfo_url: String,
    /// A list of `{email, primary, verified}` (GitHub's `/user/emails`): where verified emails
    /// come from when set.
    pub emails_url: String,
    /// RFC 7009 token revocation endpoint. For OpenID providers, discovery's
    /// `revocation_endpoint` applies when this is empty.
    pub revocation_url: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret registered at the provider; empty for a public client.
    pub client_secret: SecretString,
    /// Scopes to ask for.
    pub scopes: Vec<String>,
    /// Dotted path of the account id in the userinfo JSON (`response.id`); a number is used as
    /// its decimal string.
    pub id_field: String,
    /// Dotted path of the email in the userinfo JSON (`kakao_account.email`).
    pub email_field: String,
    /// Dotted path of a boolean (or `"true"`) saying the email is verified; several paths
    /// separated by commas must all be true. Empty: emails are trusted as verified only if the
    /// preset says so.
    pub email_verified_field: String,
}

impl ProviderSettings {
    /// The keys of a provider table and whether each is a list: the configuration variables
    /// that may set them (`TESSERA_OAUTH__PROVIDERS__NAME__KEY`), whose table names are not
    /// known in advance. A test holds it to the struct's fields.
    pub const FIELDS: [(&'static str, bool); 14] = [
        ("kind", false),
        ("preset", false),
        ("issuer", false),
        ("authorize_url", false),
        ("token_url", false),
        ("userinfo_url", false),
        ("emails_url", false),
        ("revocation_url", false),
        ("client_id", false),
        ("client_secret", false),
        ("scopes", true),
        ("id_field", false),
        ("email_field", false),
        ("email_verified_field", false),
    ];
}

/// A provider table that cannot work; each message says what to set.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamConfigError {
    /// The table's name is used in URLs and must stay plain.
    #[error(
        "oauth.providers.{provider}: the name must be lowercase letters, digits, '-' or '_' (it is part of the callback URL)"
    )]
    InvalidName {
        /// The table's name.
        provider: String,
    },
    /// `preset` names no preset.
    #[error(
        "oauth.providers.{provider}: unknown preset {preset:?}; use one of {known}, or leave it empty"
    )]
    UnknownPreset {
        /// The table's name.
        provider: String,
        /// The value given.
        preset: String,
        /// The presets there are.
        known: String,
    },
    /// `kind` contradicts the preset's.
    #[error(
        "oauth.providers.{provider}: preset {preset} is an {preset_kind} provider, not {kind}; remove `kind`"
    )]
    KindConflict {
        /// The table's name.
        provider: String,
        /// The preset.
        preset: String,
        /// The preset's kind.
        preset_kind: ProviderKind,
        /// The kind given.
        kind: ProviderKind,
    },
    /// An OpenID provider without an issuer.
    #[error(
        "oauth.providers.{provider}: an oidc provider needs `issuer` (discovery is read from issuer/.well-known/openid-configuration)"
    )]
    MissingIssuer {
        /// The table's name.
        provider: String,
    },
    /// An OAuth 2.0 provider without one of its endpoints.
    #[error("oauth.providers.{provider}: an oauth2 provider needs `{field}`")]
    MissingUrl {
        /// The table's name.
        provider: String,
        /// The missing setting.
        field: &'static str,
    },
    /// An endpoint set on an OpenID provider, which takes them from discovery.
    #[error(
        "oauth.providers.{provider}: `{field}` is for oauth2 providers; an oidc provider reads it from discovery (remove it, or set kind = \"oauth2\")"
    )]
    NotForOidc {
        /// The table's name.
        provider: String,
        /// The setting.
        field: &'static str,
    },
    /// No client id.
    #[error("oauth.providers.{provider}: set `client_id` to the id registered at the provider")]
    MissingClientId {
        /// The table's name.
        provider: String,
    },
    /// A URL that does not parse or is not http(s).
    #[error("oauth.providers.{provider}: `{field}` = {value:?} is not an http(s) URL")]
    InvalidUrl {
        /// The table's name.
        provider: String,
        /// The setting.
        field: &'static str,
        /// The value given.
        value: String,
    },
}

/// A provider's complete description, preset and settings merged and checked; its endpoints
/// come separately ([`Endpoints`]).
#[derive(Debug)]
pub(crate) struct Resolved {
    pub name: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub scopes: Vec<String>,
    pub fields: FieldMapping,
    pub emails_url: Option<Url>,
    pub revocation_url: Option<Url>,
    pub email_trusted: bool,
    pub auth_in_body: bool,
}

/// Where the provider's endpoints come from.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per provider, built once
pub(crate) enum Endpoints {
    /// From discovery under the issuer (kept as written: `iss` must equal it).
    Oidc { issuer: String },
    /// Configured.
    OAuth2 {
        authorize_url: Url,
        token_url: Url,
        userinfo_url: Url,
    },
}

/// Where the profile's values are in userinfo JSON (dotted paths).
#[derive(Debug, Clone)]
pub(crate) struct FieldMapping {
    pub id: String,
    pub email: String,
    pub email_verified: Option<String>,
    pub name: String,
}

impl Resolved {
    /// Overlays `settings` on its preset and checks the result.
    pub fn new(
        name: &str,
        settings: ProviderSettings,
    ) -> Result<(Self, Endpoints), UpstreamConfigError> {
        let provider = name.to_owned();
        if !is_plain_name(name) {
            return Err(UpstreamConfigError::InvalidName { provider });
        }
        let preset = find_preset(name, &settings.preset)?;
        let kind = resolve_kind(name, preset, settings.kind)?;
        if settings.client_id.trim().is_empty() {
            return Err(UpstreamConfigError::MissingClientId { provider });
        }
        let overlay = Overlay {
            name,
            settings: &settings,
            preset,
        };
        let endpoints = overlay.endpoints(kind)?;
        let scopes = overlay.scopes(kind);
        let fields = overlay.fields();
        let emails_url =
            overlay.optional_url("emails_url", &settings.emails_url, preset.emails_url)?;
        let revocation_url = overlay.optional_url(
            "revocation_url",
            &settings.revocation_url,
            preset.revocation_url,
        )?;
        let client_secret = (!settings.client_secret.expose_secret().is_empty())
            .then(|| settings.client_secret.clone());
        let resolved = Self {
            name: provider,
            client_id: settings.client_id.trim().to_owned(),
            client_secret,
            scopes,
            fields,
            emails_url,
            revocation_url,
            email_trusted: preset.email_trusted,
            auth_in_body: preset.auth_in_body,
        };
        Ok((resolved, endpoints))
    }
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn find_preset(provider: &str, name: &str) -> Result<&'static Preset, UpstreamConfigError> {
    if name.is_empty() {
        return Ok(preset::none());
    }
    preset::find(name).ok_or_else(|| UpstreamConfigError::UnknownPreset {
        provider: provider.to_owned(),
        preset: name.to_owned(),
        known: preset::names(),
    })
}

fn resolve_kind(
    provider: &str,
    preset: &Preset,
    kind: Option<ProviderKind>,
) -> Result<ProviderKind, UpstreamConfigError> {
    match kind {
        Some(kind) if !preset.name.is_empty() && kind != preset.kind => {
            Err(UpstreamConfigError::KindConflict {
                provider: provider.to_owned(),
                preset: preset.name.to_owned(),
                preset_kind: preset.kind,
                kind,
            })
        }
        Some(kind) => Ok(kind),
        None => Ok(preset.kind),
    }
}

/// Explicit settings over preset values.
struct Overlay<'a> {
    name: &'a str,
    settings: &'a ProviderSettings,
    preset: &'static Preset,
}

impl Overlay<'_> {
    fn endpoints(&self, kind: ProviderKind) -> Result<Endpoints, UpstreamConfigError> {
        let s = self.settings;
        match kind {
            ProviderKind::Oidc => {
                for (field, value) in [
                    ("authorize_url", &s.authorize_url),
                    ("token_url", &s.token_url),
                    ("userinfo_url", &s.userinfo_url),
                ] {
                    if !value.is_empty() {
                        return Err(UpstreamConfigError::NotForOidc {
                            provider: self.name.to_owned(),
                            field,
                        });
                    }
                }
                let issuer = pick(&s.issuer, self.preset.issuer);
                if issuer.is_empty() {
                    return Err(UpstreamConfigError::MissingIssuer {
                        provider: self.name.to_owned(),
                    });
                }
                self.url("issuer", issuer)?;
                Ok(Endpoints::Oidc {
                    issuer: issuer.to_owned(),
                })
            }
            ProviderKind::OAuth2 => Ok(Endpoints::OAuth2 {
                authorize_url: self.required_url(
                    "authorize_url",
                    &s.authorize_url,
                    self.preset.authorize_url,
                )?,
                token_url: self.required_url("token_url", &s.token_url, self.preset.token_url)?,
                userinfo_url: self.required_url(
                    "userinfo_url",
                    &s.userinfo_url,
                    self.preset.userinfo_url,
                )?,
            }),
        }
    }

    fn scopes(&self, kind: ProviderKind) -> Vec<String> {
        let mut scopes: Vec<String> = if !self.settings.scopes.is_empty() {
            self.settings.scopes.clone()
        } else if !self.preset.scopes.is_empty() {
            self.preset
                .scopes
                .iter()
                .map(|&scope| scope.to_owned())
                .collect()
        } else if kind == ProviderKind::Oidc {
            ["openid", "email", "profile"].map(str::to_owned).to_vec()
        } else {
            Vec::new()
        };
        // Without `openid` an OpenID provider answers plain OAuth 2.0, with no ID token.
        if kind == ProviderKind::Oidc && !scopes.iter().any(|scope| scope == "openid") {
            scopes.insert(0, "openid".to_owned());
        }
        scopes
    }

    fn fields(&self) -> FieldMapping {
        let s = self.settings;
        let verified = pick(&s.email_verified_field, self.preset.email_verified_field);
        FieldMapping {
            id: or_default(pick(&s.id_field, self.preset.id_field), "sub"),
            email: or_default(pick(&s.email_field, self.preset.email_field), "email"),
            email_verified: (!verified.is_empty()).then(|| verified.to_owned()),
            name: or_default(self.preset.name_field, "name"),
        }
    }

    fn required_url(
        &self,
        field: &'static str,
        explicit: &str,
        preset: &str,
    ) -> Result<Url, UpstreamConfigError> {
        self.optional_url(field, explicit, preset)?
            .ok_or_else(|| UpstreamConfigError::MissingUrl {
                provider: self.name.to_owned(),
                field,
            })
    }

    fn optional_url(
        &self,
        field: &'static str,
        explicit: &str,
        preset: &str,
    ) -> Result<Option<Url>, UpstreamConfigError> {
        let value = pick(explicit, preset);
        if value.is_empty() {
            return Ok(None);
        }
        self.url(field, value).map(Some)
    }

    fn url(&self, field: &'static str, value: &str) -> Result<Url, UpstreamConfigError> {
        Url::parse(value)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
            .ok_or_else(|| UpstreamConfigError::InvalidUrl {
                provider: self.name.to_owned(),
                field,
                value: value.to_owned(),
            })
    }
}

/// The explicit value when set, else the preset's.
fn pick<'a>(explicit: &'a str, preset: &'a str) -> &'a str {
    let explicit = explicit.trim();
    if explicit.is_empty() {
        preset
    } else {
        explicit
    }
}

fn or_default(value: &str, default: &str) -> String {
    if value.is_empty() { default } else { value }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_names_every_key_of_a_provider_table() {
        // serde lists the fields it knows when it refuses an unknown one.
        let refused = serde_json::from_str::<ProviderSettings>(r#"{"bogus": 1}"#)
            .err()
            .unwrap()
            .to_string();
        let known = refused.split("expected one of").nth(1).unwrap();
        let known: Vec<&str> = known.split('`').skip(1).step_by(2).collect();
        let listed: Vec<&str> = ProviderSettings::FIELDS
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(known, listed, "{refused}");
        let lists: Vec<&str> = ProviderSettings::FIELDS
            .iter()
            .filter(|(_, is_list)| *is_list)
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(lists, ["scopes"]);
    }

    fn client(preset: &str) -> ProviderSettings {
        ProviderSettings {
            preset: preset.to_owned(),
            client_id: "client".to_owned(),
            client_secret: "secret".into(),
            ..ProviderSettings::default()
        }
    }

    #[test]
    fn every_preset_but_microsoft_builds_from_a_client_id_and_secret_alone() {
        // Microsoft's issuer is the tenant's own (see `PRESETS`).
        for preset in preset::PRESETS.iter().filter(|p| p.name != "microsoft") {
            let (resolved, _) = Resolved::new(preset.name, client(preset.name))
                .unwrap_or_else(|err| panic!("{}: {err}", preset.name));
            assert_eq!(resolved.client_id, "client");
        }
    }

    #[test]
    fn explicit_settings_win_over_the_preset() {
        let mut settings = client("github");
        settings.token_url = "http://127.0.0.1:9/token".to_owned();
        settings.id_field = "node_id".to_owned();

        let (resolved, endpoints) = Resolved::new("github", settings).unwrap();

        let Endpoints::OAuth2 {
            token_url,
            userinfo_url,
            ..
        } = endpoints
        else {
            panic!("github is oauth2");
        };
        assert_eq!(token_url.as_str(), "http://127.0.0.1:9/token");
        assert_eq!(userinfo_url.as_str(), "https://api.github.com/user");
        assert_eq!(resolved.fields.id, "node_id");
        assert!(resolved.auth_in_body);
    }

    #[test]
    fn a_custom_oidc_provider_asks_for_openid_even_when_scopes_omit_it() {
        let mut settings = client("");
        settings.issuer = "https://id.example.com".to_owned();
        settings.scopes = vec!["email".to_owned()];

        let (resolved, _) = Resolved::new("corp", settings).unwrap();

        assert_eq!(resolved.scopes, ["openid", "email"]);
        assert_eq!(resolved.fields.id, "sub");
    }

    #[test]
    fn an_unknown_preset_is_refused_with_the_known_ones() {
        let err = Resolved::new("x", client("facebook")).unwrap_err();
        assert!(matches!(err, UpstreamConfigError::UnknownPreset { .. }));
        assert!(err.to_string().contains("google, microsoft, github"));
    }

    #[test]
    fn broken_tables_are_refused() {
        let no_issuer = client("");
        let mut oauth2 = client("");
        oauth2.kind = Some(ProviderKind::OAuth2);
        oauth2.authorize_url = "https://p.example/authorize".to_owned();
        let mut no_client = client("google");
        no_client.client_id = " ".to_owned();
        let mut ftp = client("google");
        ftp.issuer = "ftp://accounts.example".to_owned();
        let mut conflict = client("github");
        conflict.kind = Some(ProviderKind::Oidc);
        let mut oidc_with_token_url = client("google");
        oidc_with_token_url.token_url = "https://p.example/token".to_owned();

        let errors = [
            ("x", no_issuer),
            ("x", oauth2),
            ("x", no_client),
            ("x", ftp),
            ("x", conflict),
            ("x", oidc_with_token_url),
            ("Bad Name", client("google")),
        ]
        .map(|(name, settings)| Resolved::new(name, settings).unwrap_err());

        assert!(matches!(
            errors[0],
            UpstreamConfigError::MissingIssuer { .. }
        ));
        assert!(matches!(
            errors[1],
            UpstreamConfigError::MissingUrl {
                field: "token_url",
                ..
            }
        ));
        assert!(matches!(
            errors[2],
            UpstreamConfigError::MissingClientId { .. }
        ));
        assert!(matches!(
            errors[3],
            UpstreamConfigError::InvalidUrl {
                field: "issuer",
                ..
            }
        ));
        assert!(matches!(
            errors[4],
            UpstreamConfigError::KindConflict { .. }
        ));
        assert!(matches!(
            errors[5],
            UpstreamConfigError::NotForOidc {
                field: "token_url",
                ..
            }
        ));
        assert!(matches!(errors[6], UpstreamConfigError::InvalidName { .. }));
    }

    #[test]
    fn settings_read_from_toml_like_input() {
        let settings: ProviderSettings = serde_json::from_value(serde_json::json!({
            "preset": "kakao",
            "client_id": "id",
            "client_secret": "s3cret",
            "scopes": ["account_email"],
        }))
        .unwrap();

        assert!(!format!("{settings:?}").contains("s3cret"));
        let (resolved, _) = Resolved::new("kakao", settings).unwrap();
        assert_eq!(resolved.fields.email, "kakao_account.email");
        assert_eq!(
            resolved.fields.email_verified.as_deref(),
            Some("kakao_account.is_email_valid,kakao_account.is_email_verified")
        );
        assert_eq!(resolved.scopes, ["account_email"]);
    }

    #[test]
    fn unknown_settings_are_refused() {
        let result = serde_json::from_value::<ProviderSettings>(serde_json::json!({
            "client_id": "id",
            "clientsecret": "typo",
        }));
        assert!(result.is_err());
    }
}
