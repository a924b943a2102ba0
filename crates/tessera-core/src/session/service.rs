//! Session use cases: start, refresh with rotation and reuse detection, list, end, and the
//! revocation bookkeeping that makes an ended session's access tokens fail everywhere.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::{
    DenySet, RefreshKey, RefreshState, RefreshToken, Revocation, Session, SessionLifetimes,
};
use crate::account::{Device, User};
use crate::ports::{RevocationBus, RevocationStore, SessionStore};
use crate::secret::secrets_equal;
use crate::{Clock, SessionId, StateError, StoreError, UserId};

/// Walking an old refresh token forward costs one HMAC per generation; beyond this many
/// generations an old token is simply refused rather than proven to be reuse.
const MAX_REUSE_WALK: u64 = 10_000;

/// Lifetimes and windows of sessions.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// Idle and absolute lifetimes.
    pub lifetimes: SessionLifetimes,
    /// How long the immediately previous refresh token still yields the same successor.
    pub reuse_grace: Duration,
    /// Access-token lifetime plus leeway: how long a revocation must be remembered.
    pub token_horizon: Duration,
}

/// The result of a successful refresh.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// The user, as stored now (roles may have changed).
    pub user: User,
    /// The session after rotation.
    pub session: Session,
    /// The refresh token to hand back.
    pub refresh_token: RefreshToken,
}

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Unknown, expired or revoked refresh token.
    #[error("refresh token invalid")]
    RefreshInvalid,
    /// A rotated refresh token came back after the grace window; the session is now ended.
    #[error("refresh token reused")]
    RefreshReused,
    /// No such live session of this user.
    #[error("no such session")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The revocation could not be announced to other instances (it is recorded and applied
    /// here; others catch up from the database).
    #[error(transparent)]
    State(#[from] StateError),
}

/// Where a presented refresh token stands in its session's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// The token the session would rotate now.
    Current,
    /// The token just rotated, inside the grace window: it gets the same successor again.
    PreviousInGrace,
    /// An authentic token that has been rotated away: presenting it is reuse.
    Superseded,
    /// Not a token this session issued.
    Foreign,
}

/// The session use cases.
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    feed: Arc<dyn RevocationStore>,
    bus: Arc<dyn RevocationBus>,
    deny: Arc<DenySet>,
    key: RefreshKey,
    settings: SessionSettings,
    clock: Arc<dyn Clock>,
}

impl Sessions {
    /// Wires the use cases to their ports.
    pub fn new(
        store: Arc<dyn SessionStore>,
        feed: Arc<dyn RevocationStore>,
        bus: Arc<dyn RevocationBus>,
        key: RefreshKey,
        settings: SessionSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            feed,
            bus,
            deny: Arc::new(DenySet::new()),
            key,
            settings,
            clock,
        }
    }

    /// The deny-set the hot path checks.
    pub fn deny_set(&self) -> &Arc<DenySet> {
        &self.deny
    }

    /// The bus revocations travel on.
    pub fn bus(&self) -> &Arc<dyn RevocationBus> {
        &self.bus
    }

    /// Whether a token of `user` in `session` issued at `issued_at` is revoked. In memory.
    pub fn is_revoked(&self, session: SessionId, user: UserId, issued_at: i64) -> bool {
        self.deny.is_revoked(session, user, issued_at)
    }

    /// Starts a session for `user` and returns it with its first refresh token.
    pub async fn start(
        &self,
        user: &User,
        device: Device,
    ) -> Result<(Session, RefreshToken), StoreError> {
        let (session, token) =
            Session::start(user.id, device, self.settings.lifetimes, self.clock.now());
        self.store.create_session(&session).await?;
        Ok((session, token))
    }

    /// Exchanges a refresh token for its successor (API.md §2).
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, presented: &str) -> Result<Refreshed, SessionError> {
        let token = RefreshToken::parse(presented).ok_or(SessionError::RefreshInvalid)?;
        let now = self.clock.now();
        let (session, user) = self.live_session(token.session_id(), now).await?;
        let digest = token.digest();
        if secrets_equal(digest.as_bytes(), session.refresh.digest.as_bytes()) {
            if let Some(refreshed) = self
                .rotate(&token, &digest, &session, user.clone(), now)
                .await?
            {
                return Ok(refreshed);
            }
            // Another request rotated this token a moment ago: answer like it did.
            let (session, user) = self.live_session(token.session_id(), now).await?;
            return self
                .replay_or_reuse(&token, &digest, session, user, now)
                .await;
        }
        self.replay_or_reuse(&token, &digest, session, user, now)
            .await
    }

    /// Live sessions of `user`, newest first.
    pub async fn list(&self, user: UserId) -> Result<Vec<Session>, SessionError> {
        Ok(self.store.list_sessions(user, self.clock.now()).await?)
    }

    /// Ends session `id` of `user`; `NotFound` if it is not a live session of theirs.
    pub async fn end(&self, user: UserId, id: SessionId, reason: &str) -> Result<(), SessionError> {
        let now = self.clock.now();
        match self.store.find_session(id).await? {
            Some(session) if session.user_id == user && session.is_live(now) => {}
            _ => return Err(SessionError::NotFound),
        }
        let revoked = self
            .store
            .revoke_session(id, reason, now, self.until(now))
            .await?;
        self.announce(revoked.into_iter().collect()).await
    }

    /// Ends every session of `user` except `keep`; returns how many ended.
    pub async fn end_all(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: &str,
    ) -> Result<usize, SessionError> {
        let now = self.clock.now();
        let revoked = self
            .store
            .revoke_user_sessions(user, keep, reason, now, self.until(now))
            .await?;
        let count = revoked.len();
        self.announce(revoked).await?;
        Ok(count)
    }

    /// Ends every session of `user` and revokes every token issued to them so far (a disabled
    /// or deleted account).
    pub async fn revoke_user(&self, user: UserId, reason: &str) -> Result<(), SessionError> {
        let now = self.clock.now();
        let until = self.until(now);
        let mut revoked = self
            .store
            .revoke_user_sessions(user, None, reason, now, until)
            .await?;
        revoked.push(self.feed.record_user_revocation(user, now, until).await?);
        self.announce(revoked).await
    }

    /// One page (oldest first) of the revocations recorded after `cursor` that are still in
    /// force: how an instance catches up with what the bus may have missed.
    pub async fn revocations_after(&self, cursor: i64) -> Result<Vec<Revocation>, StoreError> {
        self.feed
            .revocations_after(cursor, self.clock.unix(), 1_000)
            .await
    }

    /// Forgets revocations whose tokens have all expired.
    pub fn purge_expired_revocations(&self) {
        self.deny.purge(self.clock.unix());
    }

    /// Applies `revocation` to this instance's deny-set (a message from the bus).
    pub fn apply(&self, revocation: &Revocation) {
        self.deny.apply(revocation);
    }

    async fn live_session(
        &self,
        id: SessionId,
        now: OffsetDateTime,
    ) -> Result<(Session, User), SessionError> {
        match self.store.find_session_with_user(id).await? {
            Some((session, user)) if session.is_live(now) && !user.disabled => Ok((session, user)),
            _ => Err(SessionError::RefreshInvalid),
        }
    }

    async fn rotate(
        &self,
        token: &RefreshToken,
        digest: &str,
        session: &Session,
        user: User,
        now: OffsetDateTime,
    ) -> Result<Option<Refreshed>, SessionError> {
        let next = token.successor(&self.key);
        let state = RefreshState {
            generation: next.generation(),
            digest: next.digest(),
            previous_digest: Some(digest.to_owned()),
            rotated_at: now,
        };
        let idle = session.idle_expiry_after_use(self.settings.lifetimes, now);
        let rotated = self
            .store
            .rotate_refresh(session.id, digest, &state, idle, now)
            .await?;
        Ok(rotated.map(|session| Refreshed {
            user,
            session,
            refresh_token: next,
        }))
    }

    /// The presented token is not the current one: the previous one inside the grace window
    /// gets the same successor again; any other token of this session is reuse.
    async fn replay_or_reuse(
        &self,
        token: &RefreshToken,
        digest: &str,
        session: Session,
        user: User,
        now: OffsetDateTime,
    ) -> Result<Refreshed, SessionError> {
        match self.standing(token, digest, &session, now) {
            Standing::PreviousInGrace => {
                let refresh_token = token.successor(&self.key);
                Ok(Refreshed {
                    user,
                    session,
                    refresh_token,
                })
            }
            Standing::Superseded => {
                tracing::warn!(event = "refresh_reused", session_id = %session.id, user_id = %session.user_id, "rotated refresh token presented again: session ended");
                let revoked = self
                    .store
                    .revoke_session(session.id, "refresh_reused", now, self.until(now))
                    .await?;
                self.announce(revoked.into_iter().collect()).await?;
                Err(SessionError::RefreshReused)
            }
            Standing::Current | Standing::Foreign => Err(SessionError::RefreshInvalid),
        }
    }

    /// Ends the session a refresh token belongs to, if the token is authentic (RFC 7009:
    /// unknown tokens are not an error). Returns whether a session ended.
    pub async fn revoke_by_refresh_token(&self, presented: &str) -> Result<bool, SessionError> {
        let Some(token) = RefreshToken::parse(presented) else {
            return Ok(false);
        };
        let now = self.clock.now();
        let Some(session) = self.store.find_session(token.session_id()).await? else {
            return Ok(false);
        };
        if session.revoked_at.is_some()
            || self.standing(&token, &token.digest(), &session, now) == Standing::Foreign
        {
            return Ok(false);
        }
        self.end_any(session.id, "revoked").await
    }

    /// The live session and user a refresh token currently stands for (introspection).
    pub async fn inspect_refresh_token(
        &self,
        presented: &str,
    ) -> Result<Option<(Session, User)>, SessionError> {
        let Some(token) = RefreshToken::parse(presented) else {
            return Ok(None);
        };
        let now = self.clock.now();
        let Ok((session, user)) = self.live_session(token.session_id(), now).await else {
            return Ok(None);
        };
        let usable = matches!(
            self.standing(&token, &token.digest(), &session, now),
            Standing::Current | Standing::PreviousInGrace
        );
        Ok(usable.then_some((session, user)))
    }

    /// Ends session `id` whoever owns it (a revoked access token's session); whether it ended.
    pub async fn end_any(&self, id: SessionId, reason: &str) -> Result<bool, SessionError> {
        let now = self.clock.now();
        let revoked = self
            .store
            .revoke_session(id, reason, now, self.until(now))
            .await?;
        let ended = revoked.is_some();
        self.announce(revoked.into_iter().collect()).await?;
        Ok(ended)
    }

    /// Where `token` stands in `session`'s chain.
    fn standing(
        &self,
        token: &RefreshToken,
        digest: &str,
        session: &Session,
        now: OffsetDateTime,
    ) -> Standing {
        let refresh = &session.refresh;
        if token.session_id() != session.id {
            return Standing::Foreign;
        }
        if secrets_equal(digest.as_bytes(), refresh.digest.as_bytes()) {
            return Standing::Current;
        }
        let is_previous = refresh
            .previous_digest
            .as_deref()
            .is_some_and(|previous| secrets_equal(previous.as_bytes(), digest.as_bytes()));
        if is_previous {
            // Half-open, so that a window of zero is no window at all.
            return if now - refresh.rotated_at < self.settings.reuse_grace {
                Standing::PreviousInGrace
            } else {
                Standing::Superseded
            };
        }
        let behind = refresh.generation.saturating_sub(token.generation());
        if (2..=MAX_REUSE_WALK).contains(&behind)
            && token.leads_to(&self.key, behind, &refresh.digest)
        {
            Standing::Superseded
        } else {
            Standing::Foreign
        }
    }

    /// Applies revocations here at once, then tells the other instances.
    async fn announce(&self, revocations: Vec<Revocation>) -> Result<(), SessionError> {
        for revocation in &revocations {
            self.deny.apply(revocation);
        }
        if revocations.is_empty() {
            return Ok(());
        }
        self.bus
            .publish(&revocations)
            .await
            .map_err(SessionError::State)
    }

    fn until(&self, now: OffsetDateTime) -> i64 {
        (now + self.settings.token_horizon).unix_timestamp()
    }
}
