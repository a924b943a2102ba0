//! Reading a `Profile` out of a userinfo JSON document by dotted paths (`response.id`,
//! `kakao_account.email`), and the verified email out of a GitHub-style emails list.

use serde::Deserialize;
use serde_json::Value;
use tessera_core::social::{Profile, UpstreamError};

use crate::settings::FieldMapping;

/// The value at `path` (`a.b.c`), if every step is an object member.
pub(crate) fn lookup<'a>(document: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(document, |value, key| value.as_object()?.get(key))
}

/// A string, or a JSON number as its decimal string; empty strings are absent.
pub(crate) fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// `true`, or the string `"true"`; anything else is not a yes.
pub(crate) fn is_yes(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(yes)) => *yes,
        Some(Value::String(text)) => text == "true",
        _ => false,
    }
}

/// Maps a userinfo document. The email counts as verified when the mapped field says so, or,
/// without such a field, when the preset trusts the provider's emails.
pub(crate) fn from_userinfo(
    document: &Value,
    fields: &FieldMapping,
    email_trusted: bool,
) -> Result<Profile, UpstreamError> {
    let subject = text(lookup(document, &fields.id))
        .ok_or_else(|| UpstreamError::Rejected(format!("userinfo has no `{}`", fields.id)))?;
    let email = text(lookup(document, &fields.email));
    let email_verified = email.is_some()
        && match &fields.email_verified {
            Some(paths) => paths
                .split(',')
                .all(|path| is_yes(lookup(document, path.trim()))),
            None => email_trusted,
        };
    Ok(Profile {
        subject,
        email,
        email_verified,
        name: text(lookup(document, &fields.name)),
    })
}

/// One entry of GitHub's `/user/emails`.
#[derive(Debug, Deserialize)]
struct ListedEmail {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

/// The email a list vouches for: the primary one, verified or not (an unverified primary is
/// not traded for a secondary address); without a primary, the first verified one.
pub(crate) fn from_email_list(document: &Value) -> Result<Option<(String, bool)>, UpstreamError> {
    let emails = Vec::<ListedEmail>::deserialize(document)
        .map_err(|_| UpstreamError::Rejected("the emails list is malformed".to_owned()))?;
    if let Some(primary) = emails.iter().find(|listed| listed.primary) {
        return Ok(Some((primary.email.clone(), primary.verified)));
    }
    Ok(emails
        .into_iter()
        .find(|listed| listed.verified)
        .map(|listed| (listed.email, true)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mapping(id: &str, email: &str, verified: Option<&str>) -> FieldMapping {
        FieldMapping {
            id: id.to_owned(),
            email: email.to_owned(),
            email_verified: verified.map(str::to_owned),
            name: "kakao_account.profile.nickname".to_owned(),
        }
    }

    #[test]
    fn nested_paths_and_numeric_ids_map_to_the_profile() {
        let kakao = json!({
            "id": 1234567890123_u64,
            "kakao_account": {
                "email": "a@example.com",
                "is_email_valid": true,
                "is_email_verified": true,
                "profile": { "nickname": "Ann" }
            }
        });

        let profile = from_userinfo(
            &kakao,
            &mapping(
                "id",
                "kakao_account.email",
                Some("kakao_account.is_email_valid,kakao_account.is_email_verified"),
            ),
            false,
        )
        .unwrap();

        assert_eq!(profile.subject, "1234567890123");
        assert_eq!(profile.email.as_deref(), Some("a@example.com"));
        assert!(profile.email_verified);
        assert_eq!(profile.name.as_deref(), Some("Ann"));
    }

    #[test]
    fn an_email_is_unverified_unless_a_field_or_the_preset_says_so() {
        let naver = json!({ "response": { "id": "abc", "email": "a@example.com" } });
        let fields = mapping("response.id", "response.email", None);

        assert!(
            !from_userinfo(&naver, &fields, false)
                .unwrap()
                .email_verified
        );
        assert!(from_userinfo(&naver, &fields, true).unwrap().email_verified);
        let said_no = json!({ "sub": "1", "email": "a@example.com", "verified": "false" });
        let fields = mapping("sub", "email", Some("verified"));
        assert!(
            !from_userinfo(&said_no, &fields, true)
                .unwrap()
                .email_verified
        );
    }

    #[test]
    fn a_profile_without_an_id_is_refused() {
        let err = from_userinfo(
            &json!({ "email": "a@example.com" }),
            &mapping("id", "email", None),
            true,
        )
        .unwrap_err();
        assert!(matches!(err, UpstreamError::Rejected(_)));
    }

    #[test]
    fn the_email_list_vouches_only_for_a_verified_primary() {
        let verified = json!([
            { "email": "old@example.com", "primary": false, "verified": true },
            { "email": "main@example.com", "primary": true, "verified": true },
        ]);
        let unverified = json!([
            { "email": "other@example.com", "primary": false, "verified": true },
            { "email": "main@example.com", "primary": true, "verified": false },
        ]);
        let no_primary = json!([
            { "email": "a@example.com", "verified": false },
            { "email": "b@example.com", "verified": true },
        ]);

        assert_eq!(
            from_email_list(&verified).unwrap(),
            Some(("main@example.com".to_owned(), true))
        );
        assert_eq!(
            from_email_list(&unverified).unwrap(),
            Some(("main@example.com".to_owned(), false))
        );
        assert_eq!(
            from_email_list(&no_primary).unwrap(),
            Some(("b@example.com".to_owned(), true))
        );
    }
}
