//! Mail: account links (email verification, password reset) and what they carry, written to
//! an outbox in the database on the request path and sent by a worker, so no request waits on
//! a mail server and no accepted request loses its mail.

mod notices;
mod outbox;
mod service;
mod templates;

pub use notices::{Notice, Notices};
pub use outbox::{MailTransport, OutboxWorker, SendError};
pub use service::{AccountMail, LinkSignIn, MailError, MailSettings};
pub use templates::{Locale, Message, escape_html};

/// What an outbox entry asks for; the payload is JSON.
pub(crate) mod kind {
    /// `{"user": id}`: a verification link to the user's address.
    pub const VERIFY_EMAIL: &str = "verify_email";
    /// `{"email": address}`: a reset link, if an account has that address (decided by the
    /// worker, so the request takes the same path whether or not it exists).
    pub const PASSWORD_RESET: &str = "password_reset";
    /// `{"email": address}`: a sign-in link, if an account has that address.
    pub const MAGIC_LINK: &str = "magic_link";
    /// `{"user": id, "email": address}`: a link to confirm a new address, sent to it.
    pub const EMAIL_CHANGE: &str = "email_change";
    /// `{"user": id, "notice": name, "to"?: address}`: a security notice to the user's
    /// address, or to `to` (the old address after a change).
    pub const NOTICE: &str = "notice";
}
