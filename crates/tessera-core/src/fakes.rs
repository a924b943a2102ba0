//! In-memory fakes of the ports, and [`Core`]: the use cases wired to them on a
//! [`ManualClock`], so that unit tests check the rules without a database, Redis or keys.
//! The fakes keep the ports' contracts (conditional rotation, one feed entry per ended
//! session) and let tests look inside; they never decide anything the real adapters would not.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::broadcast;

use crate::account::{
    Accounts, Administration, Device, Email, HashPoolSettings, NewUser, PasswordHasher,
    PasswordPolicy, Role, User, fold,
};
use crate::clock::unix_millis;
use crate::grant::{AccessToken, Grants, IssueError, LoginCodes};
use crate::limits::RateLimits;
use crate::mail::Notices;
use crate::mfa::MfaChallenges;
use crate::ports::{
    AuditEvent, AuditStore, DenyList, RevocationBus, RevocationStore, SessionStore, SingleUseStore,
    TokenIssuer, UserStore, UserWithHash,
};
use crate::secret::MasterKey;
use crate::session::{
    Amr, Method, RefreshKey, RefreshState, RefreshToken, Revocation, RevocationTarget, Session,
    SessionLifetimes, SessionSettings, Sessions,
};
use crate::{Clock, Conflict, ManualClock, SessionId, StateError, StoreError, UserId};

/// Where the clock of every [`Core`] starts, in seconds since the Unix epoch.
pub(crate) const START: i64 = 1_750_000_000;
/// The grace window of every [`Core`].
pub(crate) const REUSE_GRACE: Duration = Duration::from_secs(10);
/// The session settings of every [`Core`].
pub(crate) const SETTINGS: SessionSettings = SessionSettings {
    lifetimes: SessionLifetimes {
        idle: Duration::from_secs(30 * 86_400),
        absolute: Duration::from_secs(90 * 86_400),
    },
    reuse_grace: REUSE_GRACE,
    token_horizon: Duration::from_secs(15 * 60 + 60),
};
/// How long the access tokens of [`FakeIssuer`] live, in seconds.
pub(crate) const ACCESS_TTL: i64 = 900;
/// The refresh-token key of every [`Core`], as master-key bytes.
const MASTER_KEY: [u8; 32] = [7; 32];

/// The use cases on fakes: everything a test arranges with and looks at.
pub(crate) struct Core {
    pub clock: Arc<ManualClock>,
    pub store: Arc<MemoryStore>,
    pub bus: Arc<RecordingBus>,
    pub deny: Arc<RecordingDenyList>,
    pub issuer: Arc<FakeIssuer>,
    pub sessions: Arc<Sessions>,
    pub grants: Arc<Grants>,
    pub accounts: Accounts,
    pub admin: Administration,
}

impl Core {
    /// Everything wired afresh, the clock at [`START`].
    pub fn new() -> Self {
        Self::with_settings(SETTINGS)
    }

    /// [`new`](Self::new) with other session settings.
    pub fn with_settings(settings: SessionSettings) -> Self {
        let start = OffsetDateTime::from_unix_timestamp(START).expect("START is a valid time");
        let clock = Arc::new(ManualClock::at(start));
        let store = Arc::new(MemoryStore::default());
        let bus = Arc::new(RecordingBus::default());
        let deny = Arc::new(RecordingDenyList::default());
        let issuer = Arc::new(FakeIssuer::default());
        let sessions = Arc::new(Sessions::new(
            store.clone(),
            store.clone(),
            bus.clone(),
            deny.clone(),
            refresh_key(),
            settings,
            clock.clone(),
        ));
        let challenges = Arc::new(MfaChallenges::new(store.clone(), clock.clone()));
        let grants = Arc::new(Grants::new(
            Arc::clone(&sessions),
            issuer.clone(),
            challenges,
            Arc::new(LoginCodes::new(store.clone(), clock.clone())),
            Arc::new(Notices::off(clock.clone())),
            clock.clone(),
        ));
        // One thread: the few tests that hash do so one at a time.
        let hasher = PasswordHasher::new(HashPoolSettings {
            threads: 1,
            queue: 4,
        });
        let accounts = Accounts::new(
            store.clone(),
            Arc::clone(&grants),
            hasher,
            PasswordPolicy::default(),
            clock.clone(),
            Arc::new(RateLimits::off()),
        );
        let admin = Administration::new(
            store.clone(),
            Arc::clone(&sessions),
            store.clone(),
            clock.clone(),
            accounts.profiles(),
        );
        Self {
            clock,
            store,
            bus,
            deny,
            issuer,
            sessions,
            grants,
            accounts,
            admin,
        }
    }

    /// The key the sessions derive successors with, for building chains in tests.
    pub fn key(&self) -> RefreshKey {
        refresh_key()
    }

    /// Stores a live user with no password.
    pub fn add_user(&self, email: &str) -> User {
        self.store.insert_user(self.new_user(email), None)
    }

    /// Stores a live user whose password hash is `password_hash`.
    pub fn add_user_with_hash(&self, email: &str, password_hash: &str) -> User {
        self.store
            .insert_user(self.new_user(email), Some(password_hash))
    }

    /// Starts and stores a session of `user`, without the grant path: its first refresh token.
    pub async fn sign_in(&self, user: &User) -> (Session, RefreshToken) {
        let (session, token) =
            self.sessions
                .begin(user, Device::default(), Amr::single(Method::Password));
        let stored = self
            .sessions
            .record(&session, user.security_epoch)
            .await
            .expect("the memory store always answers");
        assert!(stored, "the user is enabled and unchanged");
        (session, token)
    }

    /// Refreshes `presented` with the fake issuer, as the grant path does.
    pub async fn refresh(
        &self,
        presented: &str,
    ) -> Result<crate::session::Refreshed, crate::session::SessionError> {
        self.sessions.refresh(presented, self.issuer.as_ref()).await
    }

    fn new_user(&self, email: &str) -> NewUser {
        NewUser {
            id: UserId::new(),
            email: Email::parse(email).expect("test emails are valid"),
            name: None,
            roles: Vec::new(),
            email_verified: false,
            created_at: self.clock.now(),
        }
    }
}

fn refresh_key() -> RefreshKey {
    RefreshKey::derive(&MasterKey::from_bytes(&MASTER_KEY).expect("32 bytes make a master key"))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Users, sessions, the revocation feed and the audit trail in one place, as the database
/// keeps them: ending a session appends to the feed, deleting a user deletes their sessions.
#[derive(Default)]
pub(crate) struct MemoryStore {
    tables: Mutex<Tables>,
}

#[derive(Default)]
struct Tables {
    users: BTreeMap<UserId, UserWithHash>,
    single_use: BTreeMap<String, String>,
    sessions: BTreeMap<SessionId, Session>,
    feed: Vec<Revocation>,
    audit: Vec<AuditEvent>,
    stale_session: Option<Session>,
    stale_user: Option<User>,
}

impl Tables {
    fn append_revocation(&mut self, target: RevocationTarget, at: i64, until: i64) -> Revocation {
        let cursor = i64::try_from(self.feed.len()).expect("a test feed is short") + 1;
        let revocation = Revocation {
            cursor,
            target,
            revoked_at_ms: at,
            until,
        };
        self.feed.push(revocation);
        revocation
    }

    fn user_mut(&mut self, id: UserId) -> Option<&mut User> {
        self.users.get_mut(&id).map(|found| &mut found.user)
    }

    /// Applies `change` to user `id` as a change of their security epoch.
    fn change_user(&mut self, id: UserId, change: impl FnOnce(&mut User)) -> Option<User> {
        self.user_mut(id).map(|user| {
            change(user);
            user.security_epoch += 1;
            user.clone()
        })
    }

    /// Whether user `id` is enabled with security epoch `epoch`.
    fn user_unchanged(&self, id: UserId, epoch: i64) -> bool {
        self.users
            .get(&id)
            .is_some_and(|found| !found.user.disabled && found.user.security_epoch == epoch)
    }
}

impl MemoryStore {
    /// The user `id` as stored.
    pub fn user(&self, id: UserId) -> Option<User> {
        lock(&self.tables).users.get(&id).map(|f| f.user.clone())
    }

    /// The session `id` as stored.
    pub fn session(&self, id: SessionId) -> Option<Session> {
        lock(&self.tables).sessions.get(&id).cloned()
    }

    /// Every stored session, ended or not.
    pub fn sessions(&self) -> Vec<Session> {
        lock(&self.tables).sessions.values().cloned().collect()
    }

    /// Replaces or adds a session as it is: a state no sequence of calls reaches cheaply.
    pub fn put_session(&self, session: Session) {
        lock(&self.tables).sessions.insert(session.id, session);
    }

    /// The next read of a session with its user answers `session` instead: what a request
    /// sees that read just before a concurrent one rotated the token.
    pub fn serve_stale_session_once(&self, session: Session) {
        lock(&self.tables).stale_session = Some(session);
    }

    /// The next read of a session with its user answers `user` as its user: what a request
    /// sees that read just before the account changed.
    pub fn serve_stale_user_once(&self, user: User) {
        lock(&self.tables).stale_user = Some(user);
    }

    /// The revocation feed, oldest first.
    pub fn feed(&self) -> Vec<Revocation> {
        lock(&self.tables).feed.clone()
    }

    /// The audit trail, oldest first.
    pub fn audit(&self) -> Vec<AuditEvent> {
        lock(&self.tables).audit.clone()
    }

    fn insert_user(&self, new: NewUser, password_hash: Option<&str>) -> User {
        let user = User {
            id: new.id,
            email: new.email,
            name: new.name,
            roles: new.roles,
            email_verified: new.email_verified,
            mfa_enabled: false,
            disabled: false,
            created_at: new.created_at,
            security_epoch: 0,
        };
        let stored = UserWithHash {
            user: user.clone(),
            password_hash: password_hash.map(str::to_owned),
        };
        lock(&self.tables).users.insert(user.id, stored);
        user
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(
        &self,
        user: &NewUser,
        password_hash: Option<&str>,
    ) -> Result<User, StoreError> {
        {
            let tables = lock(&self.tables);
            if tables.users.values().any(|f| f.user.email == user.email) {
                return Err(StoreError::Conflict(Conflict::Email));
            }
            if tables.users.contains_key(&user.id) {
                return Err(StoreError::Conflict(Conflict::Id));
            }
        }
        Ok(self.insert_user(user.clone(), password_hash))
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<UserWithHash>, StoreError> {
        let tables = lock(&self.tables);
        Ok(tables
            .users
            .values()
            .find(|f| &f.user.email == email)
            .cloned())
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<UserWithHash>, StoreError> {
        Ok(lock(&self.tables).users.get(&id).cloned())
    }

    async fn set_name(&self, id: UserId, name: Option<&str>) -> Result<Option<User>, StoreError> {
        let mut tables = lock(&self.tables);
        Ok(tables.user_mut(id).map(|user| {
            user.name = name.map(str::to_owned);
            user.clone()
        }))
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &str,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if let Some(found) = lock(&self.tables).users.get_mut(&id) {
            found.password_hash = Some(password_hash.to_owned());
            found.user.security_epoch += 1;
        }
        Ok(())
    }

    async fn upgrade_password_hash(
        &self,
        id: UserId,
        expected: &str,
        password_hash: &str,
        _now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tables = lock(&self.tables);
        match tables.users.get_mut(&id) {
            Some(found) if found.password_hash.as_deref() == Some(expected) => {
                found.password_hash = Some(password_hash.to_owned());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn set_roles(&self, id: UserId, roles: &[Role]) -> Result<Option<User>, StoreError> {
        let mut tables = lock(&self.tables);
        Ok(tables.change_user(id, |user| user.roles = roles.to_vec()))
    }

    async fn set_disabled(&self, id: UserId, disabled: bool) -> Result<Option<User>, StoreError> {
        let mut tables = lock(&self.tables);
        Ok(tables.change_user(id, |user| user.disabled = disabled))
    }

    async fn set_email(&self, id: UserId, email: &Email) -> Result<Option<User>, StoreError> {
        let mut tables = lock(&self.tables);
        if tables
            .users
            .values()
            .any(|found| found.user.email == *email && found.user.id != id)
        {
            return Err(StoreError::Conflict(Conflict::Email));
        }
        Ok(tables.change_user(id, |user| {
            user.email = email.clone();
            user.email_verified = true;
        }))
    }

    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        let mut tables = lock(&self.tables);
        tables.sessions.retain(|_, session| session.user_id != id);
        Ok(tables.users.remove(&id).is_some())
    }

    async fn list_users(
        &self,
        query: Option<&str>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let query = query.map(fold);
        let matches = |user: &User| {
            query.as_deref().is_none_or(|q| {
                user.email.key().contains(q)
                    || user
                        .name
                        .as_deref()
                        .is_some_and(|name| fold(name).contains(q))
            })
        };
        let tables = lock(&self.tables);
        Ok(tables
            .users
            .values()
            .map(|f| &f.user)
            .filter(|user| after.is_none_or(|after| user.id > after) && matches(user))
            .take(limit as usize)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, session: &Session, epoch: i64) -> Result<bool, StoreError> {
        let mut tables = lock(&self.tables);
        if tables.sessions.contains_key(&session.id) {
            return Err(StoreError::Conflict(Conflict::Id));
        }
        if !tables.user_unchanged(session.user_id, epoch) {
            return Ok(false);
        }
        tables.sessions.insert(session.id, session.clone());
        Ok(true)
    }

    async fn find_session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        Ok(self.session(id))
    }

    async fn find_session_with_user(
        &self,
        id: SessionId,
    ) -> Result<Option<(Session, User)>, StoreError> {
        let mut tables = lock(&self.tables);
        let stale = tables.stale_session.take().filter(|s| s.id == id);
        let Some(session) = stale.or_else(|| tables.sessions.get(&id).cloned()) else {
            return Ok(None);
        };
        let stale_user = tables.stale_user.take().filter(|u| u.id == session.user_id);
        let user =
            stale_user.or_else(|| tables.users.get(&session.user_id).map(|f| f.user.clone()));
        Ok(user.map(|user| (session, user)))
    }

    async fn rotate_refresh(
        &self,
        id: SessionId,
        expected_digest: &str,
        next: &RefreshState,
        idle_expires_at: OffsetDateTime,
        now: OffsetDateTime,
        epoch: i64,
    ) -> Result<Option<Session>, StoreError> {
        // Checked and written under one lock: the atomicity the port promises.
        let mut tables = lock(&self.tables);
        let owner = tables.sessions.get(&id).map(|session| session.user_id);
        if !owner.is_some_and(|owner| tables.user_unchanged(owner, epoch)) {
            return Ok(None);
        }
        let Some(session) = tables.sessions.get_mut(&id) else {
            return Ok(None);
        };
        if !session.is_live(now) || session.refresh.digest != expected_digest {
            return Ok(None);
        }
        session.refresh = next.clone();
        session.last_used_at = now;
        session.idle_expires_at = idle_expires_at;
        Ok(Some(session.clone()))
    }

    async fn list_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Session>, StoreError> {
        let tables = lock(&self.tables);
        let mut live: Vec<Session> = tables
            .sessions
            .values()
            .filter(|s| s.user_id == user && s.is_live(now))
            .cloned()
            .collect();
        live.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.id)));
        Ok(live)
    }

    async fn revoke_session(
        &self,
        id: SessionId,
        reason: &str,
        now: OffsetDateTime,
        until: i64,
    ) -> Result<Option<Revocation>, StoreError> {
        let mut tables = lock(&self.tables);
        let Some(session) = tables.sessions.get_mut(&id) else {
            return Ok(None);
        };
        if session.revoked_at.is_some() {
            return Ok(None);
        }
        session.revoked_at = Some(now);
        session.revoke_reason = Some(reason.to_owned());
        let target = RevocationTarget::Session(id);
        Ok(Some(tables.append_revocation(
            target,
            unix_millis(now),
            until,
        )))
    }

    async fn prune_sessions(
        &self,
        ended_before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let mut tables = lock(&self.tables);
        let mut left = limit;
        tables.sessions.retain(|_, s| {
            let ended = s.revoked_at.is_some_and(|at| at < ended_before)
                || s.idle_expires_at < ended_before
                || s.absolute_expires_at < ended_before;
            let prune = ended && left > 0;
            left -= u32::from(prune);
            !prune
        });
        Ok(u64::from(limit - left))
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: &str,
        now: OffsetDateTime,
        until: i64,
    ) -> Result<Vec<Revocation>, StoreError> {
        let mut tables = lock(&self.tables);
        let mut ended = Vec::new();
        for session in tables.sessions.values_mut() {
            if session.user_id == user && session.revoked_at.is_none() && Some(session.id) != keep {
                session.revoked_at = Some(now);
                session.revoke_reason = Some(reason.to_owned());
                ended.push(session.id);
            }
        }
        Ok(ended
            .into_iter()
            .map(|id| {
                tables.append_revocation(RevocationTarget::Session(id), unix_millis(now), until)
            })
            .collect())
    }
}

#[async_trait]
impl RevocationStore for MemoryStore {
    async fn record_user_revocation(
        &self,
        user: UserId,
        now: OffsetDateTime,
        until: i64,
    ) -> Result<Revocation, StoreError> {
        let target = RevocationTarget::User(user);
        Ok(lock(&self.tables).append_revocation(target, unix_millis(now), until))
    }

    async fn revocations_after(
        &self,
        cursor: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<Revocation>, StoreError> {
        let tables = lock(&self.tables);
        Ok(tables
            .feed
            .iter()
            .filter(|r| r.cursor > cursor && r.until > now)
            .take(limit as usize)
            .copied()
            .collect())
    }

    async fn latest_cursor(&self) -> Result<i64, StoreError> {
        Ok(lock(&self.tables)
            .feed
            .iter()
            .map(|r| r.cursor)
            .max()
            .unwrap_or(0))
    }

    async fn prune_revocations(&self, now: i64, limit: u32) -> Result<u64, StoreError> {
        let mut tables = lock(&self.tables);
        let mut left = limit;
        tables.feed.retain(|r| {
            let prune = r.until <= now && left > 0;
            left -= u32::from(prune);
            !prune
        });
        Ok(u64::from(limit - left))
    }
}

/// Single-use values without expiry: the core's tests move a manual clock, not real time.
#[async_trait]
impl SingleUseStore for MemoryStore {
    async fn put(&self, key: &str, value: &str, _ttl: Duration) -> Result<(), StateError> {
        lock(&self.tables)
            .single_use
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StateError> {
        Ok(lock(&self.tables).single_use.remove(key))
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        lock(&self.tables).audit.push(event.clone());
        Ok(())
    }
}

/// A revocation bus that keeps what was published, and broadcasts it in this process.
pub(crate) struct RecordingBus {
    sender: broadcast::Sender<Revocation>,
    published: Mutex<Vec<Revocation>>,
}

impl Default for RecordingBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(64).0,
            published: Mutex::default(),
        }
    }
}

impl RecordingBus {
    /// Everything published, in order.
    pub fn published(&self) -> Vec<Revocation> {
        lock(&self.published).clone()
    }
}

#[async_trait]
impl RevocationBus for RecordingBus {
    async fn publish(&self, revocations: &[Revocation]) -> Result<(), StateError> {
        lock(&self.published).extend_from_slice(revocations);
        for revocation in revocations {
            // Nobody subscribing is not a failure of the bus.
            let _ = self.sender.send(*revocation);
        }
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Revocation> {
        self.sender.subscribe()
    }

    async fn ping(&self) -> Result<(), StateError> {
        Ok(())
    }
}

/// A deny list that keeps every revocation applied to it.
#[derive(Default)]
pub(crate) struct RecordingDenyList {
    applied: Mutex<Vec<Revocation>>,
}

impl RecordingDenyList {
    /// The revocations applied, in order, each once.
    pub fn applied(&self) -> Vec<Revocation> {
        lock(&self.applied).clone()
    }
}

impl DenyList for RecordingDenyList {
    fn apply(&self, revocation: &Revocation, _now: i64) {
        let mut applied = lock(&self.applied);
        if !applied.contains(revocation) {
            applied.push(*revocation);
        }
    }

    fn purge(&self, now: i64) {
        lock(&self.applied).retain(|r| r.until > now);
    }
}

/// Signs recognisable fake access tokens (`fake-access-token.<user>.<session>.<serial>`), or
/// refuses to when told to fail.
#[derive(Default)]
pub(crate) struct FakeIssuer {
    failing: AtomicBool,
    issued: AtomicU64,
}

impl FakeIssuer {
    /// From now on every signing fails (`true`) or succeeds (`false`).
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// How many tokens were signed.
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::SeqCst)
    }
}

impl TokenIssuer for FakeIssuer {
    fn issue(&self, user: &User, session: &Session) -> Result<AccessToken, IssueError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(IssueError("the test's issuer refuses to sign"));
        }
        let serial = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!("fake-access-token.{}.{}.{serial}", user.id, session.id);
        Ok(AccessToken::new(token, ACCESS_TTL))
    }
}
