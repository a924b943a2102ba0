//! Accounts: who a user is and how they prove it.

mod admin;
mod email;
mod hashing;
mod password;
mod profiles;
mod role;
mod service;
mod user;

pub use admin::{Administration, MAX_PAGE, SearchPage, UserChanges};
pub use email::{Email, EmailError};
pub use hashing::{HashBusy, HashPoolSettings, PasswordHasher, StoredHash, Verified};
pub use password::{Password, PasswordError, PasswordPolicy};
pub use profiles::{PROFILE_TTL, Profiles};
pub use role::{Role, RoleError};
pub use service::{AccountError, Accounts, Device, FieldError, Login, Signup, TokenSubject};
pub use user::{DisplayName, NewUser, User};
