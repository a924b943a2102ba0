//! Tessera's mail transports behind the core's `MailTransport` port: SMTP through `lettre`
//! (STARTTLS on `smtp://`, TLS on `smtps://`, credentials from the URL, rustls with the
//! system's roots), or `.eml` files in a directory, the embedded default.

use std::path::PathBuf;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tessera_core::mail::{MailTransport, Message, SendError};

/// Where mail goes.
pub enum Transport {
    /// An SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// One `.eml` file per message.
    Files(AsyncFileTransport<Tokio1Executor>),
}

/// A configured sender: the transport and the `From` address.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

/// The mail settings cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `mail.from` is not an address like `Name <addr@host>`.
    #[error("mail.from {0:?} is not an address like \"Tessera <no-reply@example.com>\"")]
    From(String),
    /// `mail.smtp_url` is not a usable SMTP URL; the URL is not repeated (it may hold a
    /// password).
    #[error("mail.smtp_url is not smtp://[user:pass@]host[:port] or smtps://…: {0}")]
    SmtpUrl(String),
    /// The mail directory cannot be made.
    #[error("cannot create the mail directory {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl Mailer {
    /// Sends through the SMTP server of `url`. `smtp://` requires STARTTLS unless the URL
    /// says `?tls=opportunistic` or, for a relay on a trusted network, `?tls=none`.
    pub fn smtp(url: &str, from: &str) -> Result<Self, ConfigError> {
        let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&with_tls_default(url)?)
            .map_err(|e| ConfigError::SmtpUrl(e.to_string()))?;
        Ok(Self {
            transport: Transport::Smtp(builder.build()),
            from: mailbox(from)?,
        })
    }

    /// Writes each message as an `.eml` file into `directory` (created if missing).
    pub fn files(directory: PathBuf, from: &str) -> Result<Self, ConfigError> {
        std::fs::create_dir_all(&directory).map_err(|source| ConfigError::Directory {
            path: directory.clone(),
            source,
        })?;
        Ok(Self {
            transport: Transport::Files(AsyncFileTransport::new(directory)),
            from: mailbox(from)?,
        })
    }
}

fn mailbox(from: &str) -> Result<Mailbox, ConfigError> {
    from.parse().map_err(|_| ConfigError::From(from.to_owned()))
}

/// `url` with the TLS mode lettre expects: STARTTLS required by default on `smtp://`,
/// `tls=none` meaning plain SMTP.
fn with_tls_default(url: &str) -> Result<String, ConfigError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    if !(base.starts_with("smtp://") || base.starts_with("smtps://")) {
        return Err(ConfigError::SmtpUrl(
            "the scheme must be smtp or smtps".into(),
        ));
    }
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    let tls = pairs
        .iter()
        .find_map(|pair| pair.strip_prefix("tls="))
        .map(str::to_owned);
    match tls.as_deref() {
        None if base.starts_with("smtp://") => pairs.push("tls=required"),
        Some("none") => pairs.retain(|pair| !pair.starts_with("tls=")),
        None | Some("required" | "opportunistic") => {}
        Some(other) => {
            return Err(ConfigError::SmtpUrl(format!(
                "tls={other} is not required, opportunistic or none"
            )));
        }
    }
    Ok(if pairs.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", pairs.join("&"))
    })
}

#[async_trait]
impl MailTransport for Mailer {
    async fn send(&self, message: &Message) -> Result<(), SendError> {
        let to: Mailbox = message
            .to
            .parse()
            .map_err(|_| SendError("the recipient is not an address".into()))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&message.subject)
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|e| SendError(e.to_string()))?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp
                .send(email)
                .await
                .map(drop)
                .map_err(|e| SendError(e.to_string())),
            Transport::Files(files) => files
                .send(email)
                .await
                .map(drop)
                .map_err(|e| SendError(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_require_starttls_unless_told_otherwise() {
        assert_eq!(
            with_tls_default("smtp://u:p@mail.example.com:587").unwrap(),
            "smtp://u:p@mail.example.com:587?tls=required"
        );
        assert_eq!(
            with_tls_default("smtp://127.0.0.1:2525?tls=none").unwrap(),
            "smtp://127.0.0.1:2525"
        );
        assert_eq!(
            with_tls_default("smtps://mail.example.com").unwrap(),
            "smtps://mail.example.com"
        );
        assert!(with_tls_default("smtp://h?tls=maybe").is_err());
        assert!(with_tls_default("http://h").is_err());
    }

    #[tokio::test]
    async fn the_file_transport_writes_one_eml_per_message_with_both_bodies() {
        let dir = tempfile::tempdir().unwrap();
        let mailer =
            Mailer::files(dir.path().join("mail"), "Tessera <no-reply@example.test>").unwrap();
        let message = Message {
            to: "kate@example.test".into(),
            subject: "Hello".into(),
            text: "plain words".into(),
            html: "<p>html words</p>".into(),
        };
        mailer.send(&message).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("mail"))
            .unwrap()
            .collect();
        assert_eq!(files.len(), 1);
        let eml = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
        assert!(eml.contains("To: kate@example.test"), "{eml}");
        assert!(
            eml.contains("plain words") && eml.contains("html words"),
            "{eml}"
        );
    }
}
