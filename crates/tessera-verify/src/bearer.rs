//! The token of an `Authorization: Bearer` header (RFC 6750 §2.1), parsed one way for
//! resource servers and the Tessera server alike.

use crate::Rejection;

/// The token in the value of an `Authorization` header; `Ok(None)` for another scheme or an
/// empty token, [`Rejection::Invalid`] for a value that is not visible ASCII (what
/// `HeaderValue::to_str` accepts).
pub fn bearer_token(authorization: &[u8]) -> Result<Option<&str>, Rejection> {
    // A fold rather than `all`: no early exit, so the check of a long token vectorises.
    let visible = authorization.iter().fold(true, |visible, &byte| {
        visible & (byte == b'\t' || (0x20..0x7f).contains(&byte))
    });
    let value = std::str::from_utf8(authorization)
        .ok()
        .filter(|_| visible)
        .ok_or(Rejection::Invalid)?;
    let Some((scheme, token)) = value.split_once(' ') else {
        return Ok(None);
    };
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Ok(None);
    }
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_is_case_insensitive_and_the_token_trimmed() {
        assert_eq!(bearer_token(b"Bearer abc"), Ok(Some("abc")));
        assert_eq!(bearer_token(b"bEaReR  abc "), Ok(Some("abc")));
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_no_bearer_token() {
        assert_eq!(bearer_token(b"Basic dXNlcjpwYXNz"), Ok(None));
        assert_eq!(bearer_token(b"Bearer "), Ok(None));
        assert_eq!(bearer_token(b"Bearer"), Ok(None));
    }

    #[test]
    fn bytes_outside_visible_ascii_are_invalid() {
        assert_eq!(bearer_token(b"Bearer ab\xffc"), Err(Rejection::Invalid));
        assert_eq!(
            bearer_token("Bearer caf\u{e9}".as_bytes()),
            Err(Rejection::Invalid)
        );
        assert_eq!(bearer_token(b"Bearer a\x00b"), Err(Rejection::Invalid));
    }
}
