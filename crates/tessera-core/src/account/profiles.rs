//! Profiles read recently, so that `GET /users/me`, which clients call on every page, does not
//! cost a database read each time.
//!
//! Entries live one second. Changes made through this instance replace or drop the entry at
//! once; changes made elsewhere (another instance, the command line) show within a second, the
//! same bound the contract sets for revocations. Access decisions never come from here: tokens
//! are checked against the deny-set before a profile is looked up, and tokens are issued from a
//! fresh read.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use super::User;
use crate::UserId;

/// How long a profile read from the database is served again.
pub const PROFILE_TTL: Duration = Duration::from_secs(1);
/// Entries kept at most; beyond that, stale ones go, then all.
const CAPACITY: usize = 65_536;

/// Recently read profiles of live accounts.
#[derive(Debug, Default)]
pub struct Profiles {
    entries: RwLock<HashMap<UserId, (User, Instant)>>,
}

impl Profiles {
    /// The profile of `id`, if read less than [`PROFILE_TTL`] ago.
    pub(crate) fn get(&self, id: UserId) -> Option<User> {
        let entries = self.entries.read().ok()?;
        entries
            .get(&id)
            .filter(|(_, read)| read.elapsed() < PROFILE_TTL)
            .map(|(user, _)| user.clone())
    }

    /// Remembers `user` as just read.
    pub(crate) fn put(&self, user: &User) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= CAPACITY {
            entries.retain(|_, (_, read)| read.elapsed() < PROFILE_TTL);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(user.id, (user.clone(), Instant::now()));
    }

    /// Forgets `id`, after a change.
    pub(crate) fn forget(&self, id: UserId) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(&id);
        }
    }
}
