//! The presets (`preset = "github"`, API.md §6) as data: what each well-known provider needs
//! beyond its client id and secret. No provider has a code path of its own.

use crate::settings::ProviderKind;

/// The defaults one preset gives; empty strings are "not set".
#[derive(Debug)]
pub(crate) struct Preset {
    pub name: &'static str,
    pub kind: ProviderKind,
    /// OpenID Connect: the issuer, where discovery starts.
    pub issuer: &'static str,
    pub authorize_url: &'static str,
    pub token_url: &'static str,
    pub userinfo_url: &'static str,
    /// Where verified emails are listed (GitHub's `/user/emails`).
    pub emails_url: &'static str,
    /// RFC 7009 revocation endpoint, when the provider has one and discovery does not say.
    pub revocation_url: &'static str,
    pub scopes: &'static [&'static str],
    pub id_field: &'static str,
    pub email_field: &'static str,
    pub email_verified_field: &'static str,
    /// Where the display name is; not configurable, the presets know it.
    pub name_field: &'static str,
    /// Whether the provider only hands out emails it has verified. None of the presets does:
    /// they say so per account (a claim, a field or the emails list) or not at all.
    pub email_trusted: bool,
    /// The token endpoint wants `client_secret` in the form body (client_secret_post), not
    /// in HTTP Basic.
    pub auth_in_body: bool,
}

const NONE: Preset = Preset {
    name: "",
    kind: ProviderKind::Oidc,
    issuer: "",
    authorize_url: "",
    token_url: "",
    userinfo_url: "",
    emails_url: "",
    revocation_url: "",
    scopes: &[],
    id_field: "",
    email_field: "",
    email_verified_field: "",
    name_field: "",
    email_trusted: false,
    auth_in_body: false,
};

/// Every preset. Microsoft's has no issuer: its `common` endpoint serves every tenant, but its
/// ID tokens (and its discovery document) name the tenant's own issuer, so no fixed value can
/// pass the issuer check. A deployment sets
/// `issuer = "https://login.microsoftonline.com/{tenant id}/v2.0"`, and a table without it is
/// refused at start rather than failing at each login.
pub(crate) const PRESETS: &[Preset] = &[
    Preset {
        name: "google",
        kind: ProviderKind::Oidc,
        issuer: "https://accounts.google.com",
        scopes: &["openid", "email", "profile"],
        ..NONE
    },
    Preset {
        name: "microsoft",
        kind: ProviderKind::Oidc,
        scopes: &["openid", "email", "profile"],
        ..NONE
    },
    Preset {
        name: "github",
        kind: ProviderKind::OAuth2,
        authorize_url: "https://github.com/login/oauth/authorize",
        token_url: "https://github.com/login/oauth/access_token",
        userinfo_url: "https://api.github.com/user",
        emails_url: "https://api.github.com/user/emails",
        scopes: &["read:user", "user:email"],
        id_field: "id",
        email_field: "email",
        name_field: "name",
        auth_in_body: true,
        ..NONE
    },
    Preset {
        name: "spotify",
        kind: ProviderKind::OAuth2,
        authorize_url: "https://accounts.spotify.com/authorize",
        token_url: "https://accounts.spotify.com/api/token",
        userinfo_url: "https://api.spotify.com/v1/me",
        scopes: &["user-read-email"],
        id_field: "id",
        email_field: "email",
        name_field: "display_name",
        ..NONE
    },
    Preset {
        name: "kakao",
        kind: ProviderKind::OAuth2,
        authorize_url: "https://kauth.kakao.com/oauth/authorize",
        token_url: "https://kauth.kakao.com/oauth/token",
        userinfo_url: "https://kapi.kakao.com/v2/user/me",
        scopes: &["account_email", "profile_nickname"],
        id_field: "id",
        email_field: "kakao_account.email",
        // Kakao says an address is no longer valid (it moved to another account) apart from
        // whether it was once verified: both must hold.
        email_verified_field: "kakao_account.is_email_valid,kakao_account.is_email_verified",
        name_field: "kakao_account.profile.nickname",
        auth_in_body: true,
        ..NONE
    },
    Preset {
        name: "naver",
        kind: ProviderKind::OAuth2,
        authorize_url: "https://nid.naver.com/oauth2.0/authorize",
        token_url: "https://nid.naver.com/oauth2.0/token",
        userinfo_url: "https://openapi.naver.com/v1/nid/me",
        id_field: "response.id",
        email_field: "response.email",
        name_field: "response.name",
        auth_in_body: true,
        ..NONE
    },
];

/// The preset called `name`.
pub(crate) fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|preset| preset.name == name)
}

/// The names, for error messages.
pub(crate) fn names() -> String {
    PRESETS
        .iter()
        .map(|preset| preset.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// No preset: a provider described by its settings alone.
pub(crate) const fn none() -> &'static Preset {
    &NONE
}
