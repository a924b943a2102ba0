//! Social login: signing in through upstream OAuth 2.0 / OpenID Connect providers, linking
//! their identities to accounts, and keeping their tokens for the app's back end (the vault).

mod flow;
mod login;
mod redirect;
mod upstream;
mod vault;

pub use flow::{FLOW_TTL, LinkRequest};
pub use login::{
    Authorization, Callback, CallbackParams, CallbackResult, SocialLogin, SocialParts,
};
pub use redirect::{BadPrefix, RedirectPolicy};
pub use upstream::{
    AuthorizationRequest, CodeExchange, Profile, Provider, ProviderTokens, UpstreamError,
};
pub use vault::{LEASE, REFRESH_MARGIN, Vault, VaultToken};

use url::Url;

use crate::account::AccountError;
use crate::secret::MasterKey;
use crate::{StateError, StoreError};

/// Why a social login, link or vault call failed.
#[derive(Debug, thiserror::Error)]
pub enum SocialError {
    /// No provider of that name is configured.
    #[error("unknown provider")]
    UnknownProvider,
    /// `redirect_to` is not under an allowed prefix.
    #[error("redirect_to is not allowed")]
    RedirectNotAllowed,
    /// The callback's `state` is missing, unknown, spent or expired: where to send the browser
    /// is not known.
    #[error("unknown or spent state")]
    StateInvalid,
    /// The callback failed once its flow was known: the browser goes back to `target` with
    /// `?error=reason`.
    #[error("the callback was refused: {reason}")]
    Redirect {
        /// The flow's target.
        target: Url,
        /// The `error` value.
        reason: &'static str,
    },
    /// A rule refused the login or link (`account_exists`, `identity_taken`, …); the
    /// callback turns it into a [`SocialError::Redirect`].
    #[error("refused: {0}")]
    Refused(&'static str),
    /// An unknown, spent or expired login code.
    #[error("unknown or spent login code")]
    CodeInvalid,
    /// Unlinking would leave the account without a way to log in.
    #[error("the last way to log in")]
    LastMethod,
    /// The user has no identity of that provider.
    #[error("no identity of that provider")]
    NotLinked,
    /// The provider refused the refresh token (or there is none): the user must sign in
    /// through the provider again.
    #[error("the provider needs a new login")]
    ProviderLoginRequired,
    /// The provider failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// A stored token could not be opened (wrong master key or damaged data).
    #[error("stored provider tokens could not be opened")]
    Sealed,
    /// The account or the grant path failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The flows or login codes could not be reached.
    #[error(transparent)]
    State(#[from] StateError),
}

impl SocialError {
    /// The `error` value a callback sends back for this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Redirect { reason, .. } | Self::Refused(reason) => reason,
            Self::Upstream(_) => "upstream_error",
            Self::Account(AccountError::AccountDisabled) => "account_disabled",
            Self::Store(StoreError::Unavailable(_))
            | Self::State(_)
            | Self::Account(
                AccountError::Store(StoreError::Unavailable(_)) | AccountError::State(_),
            ) => "temporarily_unavailable",
            _ => "server_error",
        }
    }
}

/// The sealing context of an identity's tokens: sealed tokens moved to another row do not open.
fn sealing_context(identity: uuid::Uuid) -> String {
    format!("identity:{identity}")
}

/// `tokens`, sealed for identity `identity`'s row.
fn seal_tokens(master: &MasterKey, identity: uuid::Uuid, tokens: &ProviderTokens) -> Vec<u8> {
    let plain = serde_json::to_vec(tokens).unwrap_or_default();
    master.seal(&sealing_context(identity), &plain)
}

/// The tokens sealed for identity `identity`'s row.
fn open_tokens(
    master: &MasterKey,
    identity: uuid::Uuid,
    sealed: &[u8],
) -> Result<ProviderTokens, SocialError> {
    let plain = master
        .open(&sealing_context(identity), sealed)
        .map_err(|_| SocialError::Sealed)?;
    serde_json::from_slice(&plain).map_err(|_| SocialError::Sealed)
}
