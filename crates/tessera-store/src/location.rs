//! Which database a URL names, and how to show a URL without its password. The one place that
//! reads `database_url`: the configuration checks it and masks it with these functions too.

use std::path::{Path, PathBuf};

use crate::OpenError;

/// What replaces a password wherever a URL or a secret is shown.
pub const PASSWORD_MASK: &str = "********";

/// The database engine a `database_url` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite: the embedded file in the data directory, or a `sqlite:` URL.
    Sqlite,
    /// PostgreSQL: a `postgres:` or `postgresql:` URL.
    Postgres,
}

impl Engine {
    /// The engine `database_url` names; empty means the embedded SQLite file. The scheme is
    /// matched without regard to case (RFC 3986 §3.1).
    ///
    /// # Errors
    /// [`OpenError::UnsupportedScheme`], whose message shows the URL with its password masked.
    pub fn of(database_url: &str) -> Result<Self, OpenError> {
        let url = database_url.trim();
        if url.is_empty() {
            return Ok(Self::Sqlite);
        }
        match url.split_once(':').map(|(scheme, _)| scheme) {
            Some(scheme) if scheme.eq_ignore_ascii_case("sqlite") => Ok(Self::Sqlite),
            Some(scheme)
                if scheme.eq_ignore_ascii_case("postgres")
                    || scheme.eq_ignore_ascii_case("postgresql") =>
            {
                Ok(Self::Postgres)
            }
            _ => Err(OpenError::UnsupportedScheme {
                url: mask_url_password(url),
            }),
        }
    }
}

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
        Ok(match Engine::of(url)? {
            Engine::Sqlite => Self::Sqlite(url.to_owned()),
            Engine::Postgres => Self::Postgres(url.to_owned()),
        })
    }
}

/// `url` with its password, in the user info or a `password=` parameter, replaced by
/// [`PASSWORD_MASK`]; user, host, path and the other parameters stay readable. Works for any
/// `scheme://user:password@host…` URL (Redis URLs too). Text that does not start with a scheme
/// (a `host=… password=…` connection string, say) is masked whole: we cannot tell where its
/// password is.
pub fn mask_url_password(url: &str) -> String {
    if !has_scheme(url) {
        return if url.is_empty() {
            String::new()
        } else {
            PASSWORD_MASK.to_owned()
        };
    }
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut masked = mask_user_info(head);
    if let Some(query) = query {
        masked.push('?');
        masked.push_str(&mask_password_parameter(query));
    }
    masked
}

/// RFC 3986 §3.1: a letter, then letters, digits, `+`, `-` or `.`, then `:`.
fn has_scheme(url: &str) -> bool {
    let Some((scheme, _)) = url.split_once(':') else {
        return false;
    };
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn mask_user_info(head: &str) -> String {
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
        Some((user, _password)) => format!("{scheme}://{user}:{PASSWORD_MASK}@{host}{path}"),
        None => head.to_owned(),
    }
}

fn mask_password_parameter(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                format!("{key}={PASSWORD_MASK}")
            }
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
        assert_eq!(Engine::of("").unwrap(), Engine::Sqlite);
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
    fn the_engine_is_read_from_the_scheme_whatever_its_case() {
        assert_eq!(Engine::of("sqlite:data/t.db").unwrap(), Engine::Sqlite);
        assert_eq!(Engine::of("SQLite://t.db").unwrap(), Engine::Sqlite);
        assert_eq!(Engine::of("postgres://h/db").unwrap(), Engine::Postgres);
        assert_eq!(Engine::of("PostgreSQL://h/db").unwrap(), Engine::Postgres);
        assert!(Engine::of("postgres-ish://h/db").is_err());
        assert!(Engine::of("mysql://h/db").is_err());
    }

    #[test]
    fn an_unsupported_scheme_is_refused_without_showing_the_password() {
        let err = Location::parse("mysql://root:hunter2@db/app", Path::new("data")).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("mysql://root:********@db/app"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn passwords_are_masked_in_user_info_and_parameters() {
        assert_eq!(
            mask_url_password("postgres://app:s3cr@t@db:5432/tessera?sslmode=require"),
            "postgres://app:********@db:5432/tessera?sslmode=require"
        );
        assert_eq!(
            mask_url_password("postgres://app@db/tessera?sslmode=require&password=s3cret"),
            "postgres://app@db/tessera?sslmode=require&password=********"
        );
        assert_eq!(
            mask_url_password("postgres://db/tessera"),
            "postgres://db/tessera"
        );
        assert_eq!(
            mask_url_password("sqlite://data/t.db"),
            "sqlite://data/t.db"
        );
    }

    #[test]
    fn the_password_parameter_and_the_scheme_are_matched_whatever_their_case() {
        assert_eq!(
            mask_url_password("postgres://app@db/t?sslmode=disable&PassWord=hunter2"),
            "postgres://app@db/t?sslmode=disable&PassWord=********"
        );
        assert_eq!(
            mask_url_password("POSTGRES://app:hunter2@db/t"),
            "POSTGRES://app:********@db/t"
        );
    }

    #[test]
    fn urls_without_a_password_are_shown_unchanged() {
        for url in [
            "postgres://db/tessera",
            "postgres://app@db/tessera?sslmode=require",
            "sqlite://data/t.db",
            "sqlite:data/t.db",
            "",
        ] {
            assert_eq!(mask_url_password(url), url);
        }
    }

    #[test]
    fn an_at_sign_in_the_path_is_not_taken_for_user_info() {
        assert_eq!(
            mask_url_password("sqlite://data/a:b@c.db"),
            "sqlite://data/a:b@c.db"
        );
    }

    #[test]
    fn redis_urls_are_masked_by_the_same_rules() {
        assert_eq!(
            mask_url_password("redis://:hunter2@127.0.0.1:6379/0"),
            "redis://:********@127.0.0.1:6379/0"
        );
        assert_eq!(
            mask_url_password("redis+cluster://app:hunter2@10.0.0.1:7000,10.0.0.2:7001"),
            "redis+cluster://app:********@10.0.0.1:7000,10.0.0.2:7001"
        );
    }

    #[test]
    fn text_that_is_not_a_url_is_masked_whole() {
        assert_eq!(
            mask_url_password("host=db user=app password=hunter2"),
            PASSWORD_MASK
        );
        assert_eq!(mask_url_password("://app:hunter2@db"), PASSWORD_MASK);
    }
}
