//! Accounts: who a user is and how they prove it.

mod admin;
mod email;
mod hash_pool;
mod password;
mod profiles;
mod role;
mod service;
mod stored_hash;
mod user;

pub use admin::{Administration, MAX_PAGE, SearchPage, UserChanges};
pub use email::{Email, EmailError, fold};
pub use hash_pool::{HashBusy, HashPoolSettings, PasswordHasher};
pub use password::{Password, PasswordError, PasswordPolicy};
pub use profiles::{PROFILE_TTL, Profiles};
pub use role::{Role, RoleError};
pub(crate) use service::parse_email;
pub use service::{AccountError, Accounts, Device, FieldError, Login, Signup};
pub use stored_hash::{StoredHash, UnusableHash, Verified};
pub use user::{DisplayName, NewUser, User};
