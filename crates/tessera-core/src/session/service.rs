//! Session use cases: start, refresh with rotation and reuse detection, list, end, and the
//! revocation bookkeeping that makes an ended session's access tokens fail everywhere.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::{Amr, RefreshKey, RefreshState, RefreshToken, Revocation, Session, SessionLifetimes};
use crate::account::{Device, User};
use crate::grant::{AccessToken, IssueError};
use crate::ports::{DenyList, RevocationBus, RevocationStore, SessionStore, TokenIssuer};
use crate::secret::secrets_equal;
use crate::{Clock, SessionId, StateError, StoreError, UserId};

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

/// How many times a refresh reads its session again after losing a race (a concurrent
/// rotation of the same token, or a change of the account while the token was being signed)
/// before it gives up with [`SessionError::Contended`].
const REFRESH_ROUNDS: usize = 4;

/// The result of a successful refresh.
#[derive(Debug, Clone)]
pub(crate) struct Refreshed {
    /// The user, as stored now (roles may have changed).
    pub user: User,
    /// The session after rotation.
    pub session: Session,
    /// The refresh token to hand back.
    pub refresh_token: RefreshToken,
    /// The access token, signed before the rotation was stored.
    pub access_token: AccessToken,
}

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Unknown, expired or revoked refresh token.
    #[error("refresh token invalid")]
    RefreshInvalid,
    /// A rotated refresh token came back after the grace window; the session of `user` is now
    /// ended.
    #[error("refresh token reused")]
    RefreshReused {
        /// Whose session it was, to tell them.
        user: UserId,
    },
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
    /// The access token of a refreshed session could not be signed.
    #[error(transparent)]
    Token(#[from] IssueError),
    /// The session or its account kept changing while the refresh was made; trying again
    /// later will do.
    #[error("the session kept changing during the refresh")]
    Contended,
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
    deny: Arc<dyn DenyList>,
    key: RefreshKey,
    settings: SessionSettings,
    clock: Arc<dyn Clock>,
}

impl Sessions {
    /// Wires the use cases to their ports; revocations are applied to `deny` here at once,
    /// and announced to the other instances on `bus`.
    pub fn new(
        store: Arc<dyn SessionStore>,
        feed: Arc<dyn RevocationStore>,
        bus: Arc<dyn RevocationBus>,
        deny: Arc<dyn DenyList>,
        key: RefreshKey,
        settings: SessionSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            feed,
            bus,
            deny,
            key,
            settings,
            clock,
        }
    }

    /// The bus revocations travel on.
    pub fn bus(&self) -> &Arc<dyn RevocationBus> {
        &self.bus
    }

    /// A new session for `user` on `device`, with its first refresh token; nothing is stored
    /// until [`record`](Self::record).
    pub fn begin(&self, user: &User, device: Device, amr: Amr) -> (Session, RefreshToken) {
        Session::start(
            user.id,
            device,
            amr,
            self.settings.lifetimes,
            &self.key,
            self.clock.now(),
        )
    }

    /// Stores a session made by [`begin`](Self::begin) if its user is still enabled with
    /// security epoch `epoch` (one conditional write): from then on its refresh token works.
    /// Whether it was stored.
    pub async fn record(&self, session: &Session, epoch: i64) -> Result<bool, StoreError> {
        self.store.create_session(session, epoch).await
    }

    /// Exchanges a refresh token for its successor and a new access token signed by `issuer`
    /// (API.md §2). Only the grant path calls it, so that every refresh is counted.
    ///
    /// The access token is signed before the rotation is stored, and the rotation is stored
    /// only if the account is unchanged since it was read. So no token carrying roles from
    /// before a change can be issued after the change, and the revocation a removed role
    /// makes (recorded after the change) covers every such token.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn refresh(
        &self,
        presented: &str,
        issuer: &dyn TokenIssuer,
    ) -> Result<Refreshed, SessionError> {
        let token = RefreshToken::parse(presented).ok_or(SessionError::RefreshInvalid)?;
        let digest = token.digest();
        for _ in 0..REFRESH_ROUNDS {
            // The clock is read after the session: a rotation this read sees was stamped
            // earlier (by this instance's clock, or a clock in step with it).
            let (session, user) = self.live_session(token.session_id()).await?;
            let now = self.clock.now();
            match self.standing(&token, &digest, &session, now) {
                Standing::Current => {
                    let access_token = issuer.issue(&user, &session)?;
                    if let Some(refreshed) = self
                        .rotate(&token, &digest, &session, user, access_token, now)
                        .await?
                    {
                        return Ok(refreshed);
                    }
                    // Another request rotated this token, or the account changed: read again.
                }
                Standing::PreviousInGrace => {
                    // Answer like the rotation that just happened, with a token signed now.
                    let access_token = issuer.issue(&user, &session)?;
                    if self.account_unchanged(&session, &user).await? {
                        return Ok(Refreshed {
                            user,
                            session,
                            refresh_token: token.successor(&self.key),
                            access_token,
                        });
                    }
                }
                Standing::Superseded => {
                    // A rotated-away token came back: the session ends (API.md §2).
                    tracing::warn!(event = "refresh_reused", session_id = %session.id, user_id = %session.user_id, "rotated refresh token presented again: session ended");
                    self.end_any(session.id, "refresh_reused").await?;
                    return Err(SessionError::RefreshReused {
                        user: session.user_id,
                    });
                }
                Standing::Foreign => return Err(SessionError::RefreshInvalid),
            }
        }
        Err(SessionError::Contended)
    }

    /// Whether `user` is, as read again now, still enabled with the security epoch read with
    /// `session` (a token signed in between carries nothing stale).
    async fn account_unchanged(&self, session: &Session, user: &User) -> Result<bool, StoreError> {
        let again = self.store.find_session_with_user(session.id).await?;
        Ok(
            again
                .is_some_and(|(_, now)| !now.disabled && now.security_epoch == user.security_epoch),
        )
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
    ///
    /// Call it after the change that made the account unusable is stored (see
    /// [`revoke_user_tokens`](Self::revoke_user_tokens)).
    pub async fn revoke_user(&self, user: UserId, reason: &str) -> Result<(), SessionError> {
        let now = self.clock.now();
        let until = self.until(now);
        let revoked = self
            .store
            .revoke_user_sessions(user, None, reason, now, until)
            .await?;
        self.announce(revoked).await?;
        self.revoke_user_tokens(user).await
    }

    /// Revokes every access token issued to `user` so far, to the millisecond, leaving the
    /// sessions alone (a removed role: the next refresh carries the roles as they are now).
    ///
    /// Call it after the change is stored. Every grant that read the account before the change
    /// signed its token before its conditional write, which the change then made fail or
    /// which came before the change; either way the token is older than this revocation. A
    /// token issued from the changed account is newer: this waits out the revocation's
    /// millisecond before returning, so that whatever the caller does next (re-enable, let the
    /// client refresh) is issued in a later millisecond.
    pub async fn revoke_user_tokens(&self, user: UserId) -> Result<(), SessionError> {
        let now = self.clock.now();
        let revoked = self
            .feed
            .record_user_revocation(user, now, self.until(now))
            .await?;
        self.announce(vec![revoked]).await?;
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok(())
    }

    /// Deletes, in batches of `batch`, the feed entries whose tokens have all expired and the
    /// sessions that ended longer ago than an access token lives (no token of theirs can be
    /// valid any more); how many of each. Every instance may run it: deleting is idempotent.
    pub async fn prune(&self, batch: u32) -> Result<(u64, u64), StoreError> {
        let now = self.clock.now();
        let ended_before = now - self.settings.token_horizon;
        let sessions = in_batches(batch, || self.store.prune_sessions(ended_before, batch)).await?;
        let moot = now.unix_timestamp();
        let revocations = in_batches(batch, || self.feed.prune_revocations(moot, batch)).await?;
        Ok((sessions, revocations))
    }

    /// Forgets revocations whose tokens have all expired.
    pub fn purge_expired_revocations(&self) {
        self.deny.purge(self.clock.unix());
    }

    /// Applies `revocation` to this instance's deny-set (a message from the bus).
    pub fn apply(&self, revocation: &Revocation) {
        self.deny.apply(revocation, self.clock.unix());
    }

    async fn live_session(&self, id: SessionId) -> Result<(Session, User), SessionError> {
        let found = self.store.find_session_with_user(id).await?;
        let now = self.clock.now();
        match found {
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
        access_token: AccessToken,
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
            .rotate_refresh(session.id, digest, &state, idle, now, user.security_epoch)
            .await?;
        Ok(rotated.map(|session| Refreshed {
            user,
            session,
            refresh_token: next,
            access_token,
        }))
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
        let Ok((session, user)) = self.live_session(token.session_id()).await else {
            return Ok(None);
        };
        let now = self.clock.now();
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
            // Half-open, so that a window of zero is no window at all, even for a rotation that
            // looks later than `now` (stamped by another instance's clock a little ahead of
            // this one): that counts as a rotation just now, inside a window of any length but
            // zero, so concurrent tabs on instances slightly apart in time do not end their
            // session.
            let since = (now - refresh.rotated_at).max(time::Duration::ZERO);
            return if since < self.settings.reuse_grace {
                Standing::PreviousInGrace
            } else {
                Standing::Superseded
            };
        }
        // An older generation: reuse if Tessera issued it (one HMAC, whatever the distance).
        if token.generation() < refresh.generation && token.is_authentic(&self.key) {
            Standing::Superseded
        } else {
            Standing::Foreign
        }
    }

    /// Applies revocations here at once, then tells the other instances.
    async fn announce(&self, revocations: Vec<Revocation>) -> Result<(), SessionError> {
        let now = self.clock.unix();
        for revocation in &revocations {
            self.deny.apply(revocation, now);
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

/// Runs `delete` (which deletes up to `batch` rows) until a run deletes fewer; the total.
async fn in_batches<F, Fut>(batch: u32, mut delete: F) -> Result<u64, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    loop {
        let deleted = delete().await?;
        total += deleted;
        if deleted < u64::from(batch) {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{Core, REUSE_GRACE, SETTINGS};
    use crate::ports::UserStore;
    use crate::session::RevocationTarget;

    const SECOND: Duration = Duration::from_secs(1);
    const DAY: Duration = Duration::from_secs(86_400);

    /// `token` with its session id replaced by `session`: a token of one session presented
    /// as another's.
    fn moved_to(token: &RefreshToken, session: SessionId) -> RefreshToken {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut bytes = URL_SAFE_NO_PAD.decode(token.encode()).unwrap();
        bytes[..16].copy_from_slice(session.0.as_bytes());
        RefreshToken::parse(&URL_SAFE_NO_PAD.encode(bytes)).unwrap()
    }

    /// Asserts that nothing was revoked: no session ended, nothing denied or published.
    fn assert_nothing_revoked(core: &Core) {
        assert!(core.store.sessions().iter().all(|s| s.revoked_at.is_none()));
        assert!(core.store.feed().is_empty());
        assert!(core.deny.applied().is_empty());
        assert!(core.bus.published().is_empty());
    }

    #[tokio::test]
    async fn the_current_refresh_token_rotates_to_its_successor() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let (session, first) = core.sign_in(&user).await;
        core.clock.advance(DAY);

        // Act
        let refreshed = core.refresh(&first.encode()).await.unwrap();

        // Assert
        let second = first.successor(&core.key());
        assert_eq!(refreshed.refresh_token, second);
        assert_eq!(refreshed.user, user);
        let stored = core.store.session(session.id).unwrap();
        assert_eq!(refreshed.session, stored);
        assert_eq!(
            stored.refresh,
            RefreshState {
                generation: 1,
                digest: second.digest(),
                previous_digest: Some(first.digest()),
                rotated_at: core.clock.now(),
            }
        );
        assert_eq!(stored.last_used_at, core.clock.now());
        assert_eq!(stored.idle_expires_at, core.clock.now() + 30 * DAY);
        assert_nothing_revoked(&core);
    }

    #[tokio::test]
    async fn the_previous_token_inside_the_grace_window_gets_the_same_successor_again() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let (session, first) = core.sign_in(&user).await;
        let rotated = core.refresh(&first.encode()).await.unwrap();
        core.clock.advance(REUSE_GRACE - SECOND);

        // Act
        let replayed = core.refresh(&first.encode()).await.unwrap();

        // Assert
        assert_eq!(replayed.refresh_token, rotated.refresh_token);
        assert_eq!(core.store.session(session.id).unwrap(), rotated.session);
        assert_eq!(replayed.session.refresh.generation, 1, "rotated only once");
        assert_nothing_revoked(&core);
    }

    #[tokio::test]
    async fn the_successor_handed_out_again_in_the_grace_window_still_rotates() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let (_, first) = core.sign_in(&user).await;
        core.refresh(&first.encode()).await.unwrap();
        let replayed = core.refresh(&first.encode()).await.unwrap();

        // Act
        let next = core
            .refresh(&replayed.refresh_token.encode())
            .await
            .unwrap();

        // Assert
        assert_eq!(next.session.refresh.generation, 2);
        assert_eq!(
            next.refresh_token,
            replayed.refresh_token.successor(&core.key())
        );
    }

    #[tokio::test]
    async fn a_refresh_that_lost_the_rotation_race_answers_like_the_winner() {
        // Arrange: this request read the session before a concurrent one rotated the token.
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let (before, first) = core.sign_in(&user).await;
        let winner = core.refresh(&first.encode()).await.unwrap();
        core.store.serve_stale_session_once(before.clone());
        core.clock.advance(SECOND);

        // Act
        let loser = core.refresh(&first.encode()).await.unwrap();

        // Assert
        assert_eq!(loser.refresh_token, winner.refresh_token);
        assert_eq!(core.store.session(before.id).unwrap(), winner.session);
        assert_nothing_revoked(&core);
    }

    #[tokio::test]
    async fn the_previous_token_after_the_grace_window_is_reuse_that_ends_the_session() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let (session, first) = core.sign_in(&user).await;
        let second = core.refresh(&first.encode()).await.unwrap();
        // The window is half open: its last instant is already outside.
        core.clock.advance(REUSE_GRACE);

        // Act
        let reuse = core.refresh(&first.encode()).await;

        // Assert
        assert!(matches!(reuse, Err(SessionError::RefreshReused { .. })));
        let ended = core.store.session(session.id).unwrap();
        assert_eq!(ended.revoked_at, Some(core.clock.now()));
        assert_eq!(ended.revoke_reason.as_deref(), Some("refresh_reused"));
        let feed = core.store.feed();
        assert_eq!(feed.len(), 1);
        assert_eq!(feed[0].target, RevocationTarget::Session(session.id));
        assert_eq!(
            feed[0].until,
            (core.clock.now() + SETTINGS.token_horizon).unix_timestamp()
        );
        assert_eq!(core.deny.applied(), feed);
        assert_eq!(core.bus.published(), feed);
        let current = core.refresh(&second.refresh_token.encode()).await;
        assert!(matches!(current, Err(SessionError::RefreshInvalid)));
    }

    #[tokio::test]
    async fn with_no_grace_window_the_previous_token_is_reuse_even_if_its_rotation_looks_later() {
        // Arrange: a window of zero, and the stored rotation ahead of this instance's clock.
        let core = Core::with_settings(SessionSettings {
            reuse_grace: Duration::ZERO,
            ..SETTINGS
        });
        let user = core.add_user("alice@example.test");
        let (session, first) = core.sign_in(&user).await;
        core.refresh(&first.encode()).await.unwrap();
        let mut ahead = core.store.session(session.id).unwrap();
        ahead.refresh.rotated_at = core.clock.now() + 2 * SECOND;
        core.store.put_session(ahead);

        // Act
        let reuse = core.refresh(&first.encode()).await;

        // Assert
        assert!(matches!(reuse, Err(SessionError::RefreshReused { .. })));
    }

    #[tokio::test]
    async fn with_a_grace_window_a_rotation_that_looks_later_counts_as_just_now() {
        // Arrange: another instance's clock, a second ahead, stamped the rotation.
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let (session, first) = core.sign_in(&user).await;
        let rotated = core.refresh(&first.encode()).await.unwrap();
        let mut ahead = core.store.session(session.id).unwrap();
        ahead.refresh.rotated_at = core.clock.now() + SECOND;
        core.store.put_session(ahead);

        // Act
        let replayed = core.refresh(&first.encode()).await.unwrap();

        // Assert
        assert_eq!(replayed.refresh_token, rotated.refresh_token);
    }

    #[tokio::test]
    async fn a_token_two_generations_behind_is_reuse() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let (session, first) = core.sign_in(&user).await;
        let second = core.refresh(&first.encode()).await.unwrap();
        core.refresh(&second.refresh_token.encode()).await.unwrap();

        // Act: inside the grace window of the last rotation, but not the previous token.
        let reuse = core.refresh(&first.encode()).await;

        // Assert
        assert!(matches!(reuse, Err(SessionError::RefreshReused { .. })));
        let ended = core.store.session(session.id).unwrap();
        assert_eq!(ended.revoke_reason.as_deref(), Some("refresh_reused"));
        assert_eq!(core.deny.applied().len(), 1);
        assert_eq!(core.bus.published().len(), 1);
    }

    /// Stores `session` as if its chain had rotated `rotations` times past `first`, without
    /// going through as many refreshes.
    fn rotate_far(core: &Core, session: &Session, first: &RefreshToken, rotations: u64) {
        let key = core.key();
        let (mut previous, mut current) = (first.clone(), first.successor(&key));
        for _ in 1..rotations {
            let next = current.successor(&key);
            previous = std::mem::replace(&mut current, next);
        }
        let mut far = session.clone();
        far.refresh = RefreshState {
            generation: rotations,
            digest: current.digest(),
            previous_digest: Some(previous.digest()),
            rotated_at: core.clock.now(),
        };
        core.store.put_session(far);
    }

    #[tokio::test]
    async fn a_token_many_generations_behind_is_still_reuse() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let (session, first) = core.sign_in(&user).await;
        rotate_far(&core, &session, &first, 20_000);

        // Act
        let reuse = core.refresh(&first.encode()).await;

        // Assert
        assert!(matches!(reuse, Err(SessionError::RefreshReused { .. })));
        assert!(core.store.session(session.id).unwrap().revoked_at.is_some());
    }

    #[tokio::test]
    async fn a_token_of_another_session_is_invalid_and_changes_nothing() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let (mine, _) = core.sign_in(&user).await;
        let (_, theirs) = core.sign_in(&user).await;
        let before = core.store.sessions();

        // Act
        let refused = core.refresh(&moved_to(&theirs, mine.id).encode()).await;

        // Assert
        assert!(matches!(refused, Err(SessionError::RefreshInvalid)));
        assert_eq!(core.store.sessions(), before);
        assert_nothing_revoked(&core);
    }

    /// A token a forger without the master key makes for `session` at `generation`: random
    /// secret, random tag.
    fn forged(session: SessionId, generation: u64) -> RefreshToken {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut bytes = session.0.as_bytes().to_vec();
        bytes.extend_from_slice(&generation.to_be_bytes());
        bytes.extend_from_slice(&rand::random::<[u8; 48]>());
        RefreshToken::parse(&URL_SAFE_NO_PAD.encode(bytes)).unwrap()
    }

    #[tokio::test]
    async fn a_forged_token_is_invalid_and_changes_nothing() {
        // Arrange: after three rotations, a forger guesses secrets for the session's id at
        // older generations, at the one just rotated away and at the current.
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let (session, first) = core.sign_in(&user).await;
        let mut token = first;
        for _ in 0..3 {
            token = core.refresh(&token.encode()).await.unwrap().refresh_token;
        }
        let before = core.store.sessions();

        for generation in 0..=3 {
            // Act
            let refused = core.refresh(&forged(session.id, generation).encode()).await;

            // Assert
            assert!(matches!(refused, Err(SessionError::RefreshInvalid)));
        }
        assert!(matches!(
            core.refresh("not a refresh token").await,
            Err(SessionError::RefreshInvalid)
        ));
        assert_eq!(core.store.sessions(), before);
        assert_nothing_revoked(&core);
    }

    #[tokio::test]
    async fn the_token_of_a_session_unused_past_its_idle_lifetime_is_invalid() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let (_, first) = core.sign_in(&user).await;
        core.clock.advance(30 * DAY);

        // Act
        let refused = core.refresh(&first.encode()).await;

        // Assert
        assert!(matches!(refused, Err(SessionError::RefreshInvalid)));
        assert_nothing_revoked(&core);
    }

    #[tokio::test]
    async fn a_session_refreshed_often_still_ends_at_its_absolute_lifetime() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let (session, mut token) = core.sign_in(&user).await;
        for _ in 0..3 {
            core.clock.advance(29 * DAY);
            token = core.refresh(&token.encode()).await.unwrap().refresh_token;
        }
        let stored = core.store.session(session.id).unwrap();
        assert_eq!(stored.idle_expires_at, session.absolute_expires_at);
        core.clock.advance(3 * DAY);

        // Act
        let refused = core.refresh(&token.encode()).await;

        // Assert
        assert!(matches!(refused, Err(SessionError::RefreshInvalid)));
        assert_nothing_revoked(&core);
    }

    #[tokio::test]
    async fn the_token_of_an_ended_session_is_invalid() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let (session, first) = core.sign_in(&user).await;
        core.sessions
            .end(user.id, session.id, "logout")
            .await
            .unwrap();

        // Act
        let refused = core.refresh(&first.encode()).await;

        // Assert
        assert!(matches!(refused, Err(SessionError::RefreshInvalid)));
        let ended = core.store.session(session.id).unwrap();
        assert_eq!(ended.revoke_reason.as_deref(), Some("logout"));
        assert_eq!(core.store.feed().len(), 1, "ended once, by the logout");
        assert_eq!(core.bus.published().len(), 1);
    }

    #[tokio::test]
    async fn pruning_deletes_ended_sessions_and_moot_revocations_in_batches_and_keeps_the_rest() {
        // Arrange: seven ended sessions (and their feed entries), and a live one.
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let mut ended = Vec::new();
        for _ in 0..7 {
            let (session, _) = core.sign_in(&user).await;
            core.sessions
                .end(user.id, session.id, "logout")
                .await
                .unwrap();
            ended.push(session.id);
        }
        let (live, _) = core.sign_in(&user).await;
        let recent = core.sign_in(&user).await.0;
        core.clock.advance(SETTINGS.token_horizon + SECOND);
        core.sessions
            .end(user.id, recent.id, "logout")
            .await
            .unwrap();

        // Act: batches of three.
        let pruned = core.sessions.prune(3).await.unwrap();

        // Assert: what ended a token's lifetime ago is gone; the live one and the one ended
        // just now (its tokens may still be presented) stay, with the latter's feed entry.
        assert_eq!(pruned, (7, 7));
        let left: Vec<SessionId> = core.store.sessions().iter().map(|s| s.id).collect();
        assert_eq!(left.len(), 2);
        assert!(left.contains(&live.id) && left.contains(&recent.id));
        assert_eq!(
            targets_of(&core.store.feed()),
            vec![RevocationTarget::Session(recent.id)]
        );
    }

    fn targets_of(feed: &[Revocation]) -> Vec<RevocationTarget> {
        feed.iter().map(|r| r.target).collect()
    }

    #[tokio::test]
    async fn the_token_of_a_disabled_user_is_invalid() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let (session, first) = core.sign_in(&user).await;
        core.store.set_disabled(user.id, true).await.unwrap();

        // Act
        let refused = core.refresh(&first.encode()).await;

        // Assert
        assert!(matches!(refused, Err(SessionError::RefreshInvalid)));
        assert_eq!(core.store.session(session.id).unwrap(), session);
        assert_nothing_revoked(&core);
    }
}
