//! Social login: signing in through upstream OAuth 2.0 / OpenID Connect providers, linking
//! their identities to accounts, and keeping their tokens for the app's back end (the vault).

mod upstream;

pub use upstream::{
    AuthorizationRequest, CodeExchange, Profile, Provider, ProviderTokens, UpstreamError,
};
