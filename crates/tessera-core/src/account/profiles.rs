//! Profiles read recently, so that `GET /users/me`, which clients call on every page, does not
//! cost a database read each time.
//!
//! Entries live one second. Changes made through this instance replace or drop the entry at
//! once; changes made elsewhere (another instance, the command line) show within a second, the
//! same bound the contract sets for revocations. Access decisions never come from here: tokens
//! are checked against the deny-set before a profile is looked up, and tokens are issued from a
//! fresh read.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use time::OffsetDateTime;

use super::User;
use crate::{Clock, UserId};

/// How long a profile read from the database is served again.
pub const PROFILE_TTL: Duration = Duration::from_secs(1);
/// Entries kept at most; beyond that, stale ones go, then all.
const CAPACITY: usize = 65_536;

/// Recently read profiles of live accounts.
pub struct Profiles {
    entries: RwLock<HashMap<UserId, (Arc<User>, OffsetDateTime)>>,
    clock: Arc<dyn Clock>,
}

impl Profiles {
    /// An empty cache whose entries age by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            entries: RwLock::default(),
            clock,
        }
    }

    /// The profile of `id`, if read less than [`PROFILE_TTL`] ago.
    pub(crate) fn get(&self, id: UserId) -> Option<Arc<User>> {
        let now = self.clock.now();
        let entries = self.entries.read().ok()?;
        entries
            .get(&id)
            .filter(|(_, read)| is_fresh(*read, now))
            .map(|(user, _)| Arc::clone(user))
    }

    /// Remembers `user` as just read.
    pub(crate) fn put(&self, user: &Arc<User>) {
        let now = self.clock.now();
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= CAPACITY {
            entries.retain(|_, (_, read)| is_fresh(*read, now));
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(user.id, (Arc::clone(user), now));
    }

    /// Forgets `id`, after a change.
    pub(crate) fn forget(&self, id: UserId) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(&id);
        }
    }
}

/// Whether a profile read at `read` may still be served at `now`. A read "in the future" (the
/// wall clock stepped back) counts as stale, so that a clock step never stretches the bound.
fn is_fresh(read: OffsetDateTime, now: OffsetDateTime) -> bool {
    let age = now - read;
    !age.is_negative() && age < PROFILE_TTL
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use crate::account::Email;

    fn user() -> User {
        User {
            id: UserId::new(),
            email: Email::parse("ada@example.com").unwrap(),
            name: Some("Ada".to_owned()),
            roles: Vec::new(),
            email_verified: false,
            mfa_enabled: false,
            disabled: false,
            created_at: OffsetDateTime::UNIX_EPOCH,
            security_epoch: 0,
        }
    }

    fn profiles() -> (Arc<ManualClock>, Profiles) {
        let clock = Arc::new(ManualClock::starting_now());
        let profiles = Profiles::new(clock.clone());
        (clock, profiles)
    }

    #[test]
    fn a_profile_is_served_again_until_its_ttl_has_passed() {
        let (clock, profiles) = profiles();
        let ada = Arc::new(user());
        profiles.put(&ada);

        clock.advance(PROFILE_TTL - Duration::from_millis(1));
        assert_eq!(profiles.get(ada.id), Some(ada.clone()));

        clock.advance(Duration::from_millis(1));
        assert_eq!(profiles.get(ada.id), None);
    }

    #[test]
    fn a_forgotten_profile_is_read_afresh_at_once() {
        let (_, profiles) = profiles();
        let ada = Arc::new(user());
        profiles.put(&ada);

        profiles.forget(ada.id);

        assert_eq!(profiles.get(ada.id), None);
    }

    #[test]
    fn a_wall_clock_step_back_makes_profiles_stale() {
        let read = OffsetDateTime::UNIX_EPOCH + Duration::from_secs(10);
        assert!(is_fresh(read, read));
        assert!(!is_fresh(read, read - Duration::from_millis(1)));
    }
}
