//! Which database a URL names, and how to show that URL without its password.

use std::path::{Path, PathBuf};

use crate::OpenError;

/// Where the data lives.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// The embedded default: a SQLite file inside this directory.
    DataDir(PathBuf),
    /// A `sqlite:` URL.
    Sqlite(String),
    /// A `postgres:` or `postgresql:` URL.
    Postgres(String),
}

impl Location {
    /// Reads `database_url`; empty means the embedded file in `data_dir`.
    pub(crate) fn parse(database_url: &str, data_dir: &Path) -> Result<Self, OpenError> {
        let url = database_url.trim();
        if url.is_empty() {
            return Ok(Self::DataDir(data_dir.to_owned()));
        }
        let scheme = url
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("sqlite") => Ok(Self::Sqlite(url.to_owned())),
            Some("postgres" | "postgresql") => Ok(Self::Postgres(url.to_owned())),
            _ => Err(OpenError::UnsupportedScheme {
                url: redact_url(url),
            }),
        }
    }
}

/// `url` with the password (in the user info or a `password=` parameter) replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut redacted = redact_user_info(head);
    if let Some(query) = query {
        redacted.push('?');
        redacted.push_str(&redact_password_parameter(query));
    }
    redacted
}

fn redact_user_info(head: &str) -> String {
    let Some((scheme, rest)) = head.split_once("://") else {
        return head.to_owned();
    };
    let authority_end = rest.find(['/', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    // The last '@' ends the user info: passwords may contain '@' unescaped in the wild.
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return head.to_owned();
    };
    match user_info.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
        None => head.to_owned(),
    }
}

fn redact_password_parameter(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_url_means_the_file_in_the_data_directory() {
        let location = Location::parse("  ", Path::new("/var/lib/tessera")).unwrap();
        assert_eq!(location, Location::DataDir("/var/lib/tessera".into()));
    }

    #[test]
    fn urls_are_routed_by_scheme() {
        let dir = Path::new("data");
        assert_eq!(
            Location::parse("sqlite://a.db", dir).unwrap(),
            Location::Sqlite("sqlite://a.db".into())
        );
        assert_eq!(
            Location::parse("postgresql://h/db", dir).unwrap(),
            Location::Postgres("postgresql://h/db".into())
        );
        assert_eq!(
            Location::parse("POSTGRES://h/db", dir).unwrap(),
            Location::Postgres("POSTGRES://h/db".into())
        );
    }

    #[test]
    fn an_unsupported_scheme_is_refused_without_showing_the_password() {
        let err = Location::parse("mysql://root:hunter2@db/app", Path::new("data")).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("mysql://root:***@db/app"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn passwords_are_masked_in_user_info_and_parameters() {
        assert_eq!(
            redact_url("postgres://app:s3cr@t@db:5432/tessera?sslmode=require"),
            "postgres://app:***@db:5432/tessera?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://app@db/tessera?sslmode=require&password=s3cret"),
            "postgres://app@db/tessera?sslmode=require&password=***"
        );
        assert_eq!(redact_url("postgres://db/tessera"), "postgres://db/tessera");
        assert_eq!(redact_url("sqlite://data/t.db"), "sqlite://data/t.db");
    }
}
