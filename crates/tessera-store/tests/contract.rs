//! The store contract: one suite written against the core's port traits and run, case by
//! case, for SQLite and PostgreSQL. Every test gets its own fresh database.
// The cases are plain async fns called by generated tests, which clippy does not see as tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod databases;

use std::collections::BTreeSet;

use databases::TestDatabase;
use tessera_core::account::{Email, NewUser, Role, User};
use tessera_core::clock::unix_millis;
use tessera_core::ports::{PasskeyRemoved, StoredIdentity, StoredKey, StoredPasskey, Unlinked};
use tessera_core::session::{Amr, Method, RefreshState, Revocation, RevocationTarget, Session};
use tessera_core::{Conflict, SessionId, StoreError, UserId};
use tessera_store::Stores;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Generates `sqlite::<case>` and `postgres::<case>` tests that run `<case>(&db)`.
macro_rules! contract {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = crate::TestDatabase::sqlite().await;
                    crate::$case(&db).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = crate::TestDatabase::postgres().await;
                    crate::$case(&db).await;
                }
            )+
        }
    };
}

contract!(
    a_created_user_is_found_by_email_and_by_id_with_every_field,
    a_user_created_without_a_password_has_no_hash,
    creating_a_user_with_a_taken_email_is_an_email_conflict,
    an_email_is_kept_as_typed_and_its_look_alikes_are_the_same_account,
    creating_a_user_with_a_taken_id_is_an_id_conflict,
    unknown_emails_and_ids_find_nothing,
    timestamps_keep_microseconds_and_drop_nanoseconds,
    set_name_returns_the_updated_user_and_none_for_an_unknown_id,
    set_roles_returns_the_updated_user_with_roles_in_the_given_order,
    set_disabled_returns_the_updated_user_and_none_for_an_unknown_id,
    set_password_hash_gives_a_user_without_a_password_one,
    set_password_hash_replaces_an_existing_hash,
    set_password_hash_for_an_unknown_user_creates_nothing,
    every_change_a_token_or_a_login_depends_on_moves_the_security_epoch,
    a_hash_upgrade_applies_only_over_the_hash_it_replaces_and_keeps_the_epoch,
    a_session_is_created_only_while_its_user_is_enabled_and_unchanged,
    a_rotation_fails_once_the_user_changed_or_was_disabled,
    a_password_hash_that_is_neither_argon2_nor_bcrypt_is_refused,
    deleting_a_user_deletes_their_sessions_and_password,
    deleting_an_unknown_user_reports_false,
    list_users_pages_through_users_in_id_order_after_the_given_id,
    list_users_filters_by_a_case_insensitive_substring_of_email_or_name,
    list_users_ignores_case_beyond_ascii_in_names_and_emails,
    audit_events_are_recorded,
    a_created_session_is_found_with_every_field_in_any_state,
    creating_a_session_with_a_taken_id_is_an_id_conflict,
    a_session_is_found_with_its_current_user_in_one_read,
    rotating_with_the_current_digest_succeeds_once_and_the_old_digest_then_fails,
    rotating_a_revoked_or_expired_session_fails_and_changes_nothing,
    of_many_concurrent_rotations_of_one_token_exactly_one_succeeds,
    listing_returns_only_live_sessions_of_the_user_newest_first,
    revoking_a_session_records_one_revocation_and_a_second_revoke_changes_nothing,
    revoking_a_users_sessions_keeps_the_given_one_and_records_the_others,
    revoking_with_nothing_to_keep_ends_every_unrevoked_session_expired_ones_too,
    revoking_a_users_sessions_again_finds_nothing_to_revoke,
    feed_cursors_strictly_increase_in_recording_order,
    revocations_after_filters_by_cursor_and_until_and_respects_the_limit,
    pruning_deletes_revocations_no_longer_in_force_and_cursors_are_not_reused,
    pruning_deletes_sessions_ended_before_the_cutoff_in_batches,
    revocations_outlive_the_users_and_sessions_they_name,
    adding_a_signing_key_retires_the_others_at_its_creation_time,
    adding_a_signing_key_with_a_taken_kid_is_an_id_conflict_and_retires_nothing,
    a_first_signing_key_is_added_only_while_no_key_of_its_algorithm_signs,
    of_many_concurrent_first_signing_keys_exactly_one_is_added,
    pruning_deletes_only_keys_retired_before_the_cutoff,
    a_key_signing_later_retires_the_others_when_it_starts,
    a_withdrawn_key_is_marked_and_retired_and_an_unknown_kid_changes_nothing,
    retiring_every_key_leaves_none_unretired,
    a_linked_identity_is_found_by_subject_and_by_user_with_every_field,
    linking_a_linked_subject_to_another_user_is_an_identity_conflict,
    linking_a_second_identity_of_a_provider_to_a_user_is_an_identity_conflict,
    creating_a_user_with_an_identity_creates_a_passwordless_user_and_links_it,
    creating_a_user_with_an_identity_and_a_taken_email_writes_nothing,
    creating_a_user_with_a_linked_identity_is_an_identity_conflict_and_writes_nothing,
    unlinking_the_last_way_to_log_in_is_refused_and_keeps_the_identity,
    unlinking_an_identity_of_a_user_with_a_password_removes_it,
    unlinking_an_identity_of_a_user_with_another_removes_it_and_keeps_the_last,
    unlinking_a_provider_the_user_has_no_identity_of_finds_nothing,
    of_two_concurrent_unlinks_of_a_users_last_two_identities_exactly_one_succeeds,
    a_refresh_lease_is_refused_while_held_and_taken_once_it_expired,
    a_refresh_finished_by_a_holder_whose_lease_was_taken_over_changes_nothing,
    finishing_a_refresh_stores_the_tokens_counts_a_version_and_frees_the_lease,
    storing_login_tokens_clears_needs_login_counts_a_version_and_ends_the_lease,
    deleting_a_user_deletes_their_identities,
    unlinking_unproven_identities_removes_those_of_that_user_only,
    added_passkeys_are_listed_oldest_first_and_found_by_credential_id_with_every_field,
    adding_a_passkey_with_a_registered_credential_id_is_a_passkey_conflict_and_writes_nothing,
    adding_a_passkey_with_a_taken_id_is_an_id_conflict,
    a_passkey_use_is_recorded_only_over_the_credential_it_read,
    renaming_a_passkey_returns_it_and_leaves_another_users_passkey_alone,
    removing_a_passkey_of_a_user_with_a_password_removes_it,
    removing_the_last_way_to_log_in_is_refused_and_keeps_the_passkey,
    removing_a_passkey_of_a_user_with_another_removes_it_and_keeps_the_last,
    removing_a_passkey_the_user_does_not_have_finds_nothing,
    removing_a_passkey_leaves_an_identity_that_is_then_the_last_way_in,
    unlinking_an_identity_leaves_a_passkey_that_is_then_the_last_way_in,
    of_two_concurrent_removals_of_a_users_last_two_passkeys_exactly_one_succeeds,
    of_a_concurrent_passkey_removal_and_unlink_of_a_users_last_two_ways_in_exactly_one_succeeds,
    deleting_a_user_deletes_their_passkeys,
    ping_succeeds_on_an_open_database,
    reopening_a_database_keeps_its_data,
    several_processes_opening_a_new_database_at_once_all_succeed,
);

// A realistic argon2id PHC string and a bcrypt one; the store never verifies them.
const ARGON2_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                           K1JjF3bLOvDhOPnT5rUDn4LXw5l4SUxYqYPQ9ZXUsCs";
const BCRYPT_HASH: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

/// A fixed instant with microseconds, so round trips can be compared exactly.
fn at(seconds_after_start: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600)
        .expect("2026-01-01 is a valid time")
        .replace_microsecond(123_456)
        .expect("123456 is a valid microsecond")
        + Duration::seconds(seconds_after_start)
}

fn email(raw: &str) -> Email {
    Email::parse(raw).expect("test emails are valid")
}

fn roles(names: &[&str]) -> Vec<Role> {
    names
        .iter()
        .map(|name| Role::parse(name).expect("test roles are valid"))
        .collect()
}

fn new_user(address: &str) -> NewUser {
    NewUser {
        id: UserId::new(),
        email: email(address),
        name: Some("Ada Lovelace".to_owned()),
        roles: roles(&["admin", "billing:read"]),
        email_verified: true,
        created_at: at(0),
    }
}

/// A stand-in for the hex SHA-256 of a refresh token: the store only compares digests.
fn digest(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

fn session_of(user: UserId, started: OffsetDateTime) -> Session {
    Session {
        id: SessionId::new(),
        user_id: user,
        device_name: Some("Ada's laptop".to_owned()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".to_owned()),
        ip: Some("2001:db8::1".to_owned()),
        created_at: started,
        last_used_at: started + Duration::minutes(5),
        idle_expires_at: started + Duration::days(30),
        absolute_expires_at: started + Duration::days(90),
        refresh: RefreshState {
            generation: 0,
            digest: digest(0),
            previous_digest: None,
            rotated_at: started,
        },
        revoked_at: None,
        revoke_reason: None,
        // Two methods, so a round trip shows the whole value is kept.
        amr: Amr::single(Method::Password).and(Method::Otp),
    }
}

/// The refresh state after rotating `session`'s current token at `now` to one with `digest`.
fn rotated(session: &Session, digest: String, now: OffsetDateTime) -> RefreshState {
    RefreshState {
        generation: session.refresh.generation + 1,
        digest,
        previous_digest: Some(session.refresh.digest.clone()),
        rotated_at: now,
    }
}

/// The feed entry for a session ended at `now`.
fn session_revocation(cursor: i64, id: SessionId, now: OffsetDateTime, until: i64) -> Revocation {
    Revocation {
        cursor,
        target: RevocationTarget::Session(id),
        revoked_at_ms: unix_millis(now),
        until,
    }
}

/// Every entry of the feed, whatever its `until`.
async fn whole_feed(stores: &Stores) -> Vec<Revocation> {
    stores
        .revocations
        .revocations_after(0, i64::MIN, 10_000)
        .await
        .unwrap()
}

fn assert_strictly_increasing(cursors: &[i64]) {
    assert!(
        cursors.windows(2).all(|pair| pair[0] < pair[1]),
        "cursors must strictly increase: {cursors:?}"
    );
}

fn signing_key(kid: &str, created_at: OffsetDateTime) -> StoredKey {
    StoredKey {
        kid: kid.to_owned(),
        algorithm: "EdDSA".to_owned(),
        sealed_private_key: vec![0, 1, 2, 254, 255, kid.len() as u8],
        public_jwk: format!(r#"{{"kty":"OKP","crv":"Ed25519","kid":"{kid}","x":"AAAA"}}"#),
        created_at,
        signs_at: created_at,
        retired_at: None,
        withdrawn_at: None,
    }
}

fn is_conflict(result: &Result<impl std::fmt::Debug, StoreError>, conflict: Conflict) -> bool {
    matches!(result, Err(StoreError::Conflict(found)) if *found == conflict)
}

async fn a_created_user_is_found_by_email_and_by_id_with_every_field(db: &TestDatabase) {
    // Arrange
    let stores = db.open().await;
    let new = NewUser {
        roles: roles(&["support", "admin", "billing:read"]),
        ..new_user("ada@example.test")
    };

    // Act
    let created = stores
        .users
        .create_user(&new, Some(ARGON2_HASH))
        .await
        .unwrap();
    let by_email = stores.users.find_by_email(&new.email).await.unwrap();
    let by_id = stores.users.find_by_id(new.id).await.unwrap();

    // Assert
    let expected = User {
        id: new.id,
        email: new.email.clone(),
        name: Some("Ada Lovelace".to_owned()),
        roles: roles(&["support", "admin", "billing:read"]),
        email_verified: true,
        mfa_enabled: false,
        disabled: false,
        created_at: at(0),
        security_epoch: 0,
    };
    assert_eq!(created, expected);
    for found in [by_email, by_id] {
        let found = found.expect("the user is found");
        assert_eq!(found.user, expected);
        assert_eq!(found.password_hash.as_deref(), Some(ARGON2_HASH));
    }
}

async fn a_user_created_without_a_password_has_no_hash(db: &TestDatabase) {
    let stores = db.open().await;
    let new = NewUser {
        name: None,
        roles: Vec::new(),
        email_verified: false,
        ..new_user("social@example.test")
    };

    stores.users.create_user(&new, None).await.unwrap();

    let found = stores.users.find_by_id(new.id).await.unwrap().unwrap();
    assert_eq!(found.password_hash, None);
    assert_eq!(found.user.name, None);
    assert_eq!(found.user.roles, Vec::<Role>::new());
    assert!(!found.user.email_verified);
}

async fn creating_a_user_with_a_taken_email_is_an_email_conflict(db: &TestDatabase) {
    let stores = db.open().await;
    let first = new_user("taken@example.test");
    stores.users.create_user(&first, None).await.unwrap();

    let second = stores
        .users
        .create_user(&new_user("taken@example.test"), Some(ARGON2_HASH))
        .await;

    assert!(is_conflict(&second, Conflict::Email), "{second:?}");
    let kept = stores.users.find_by_email(&first.email).await.unwrap();
    assert_eq!(kept.unwrap().user.id, first.id);
}

async fn creating_a_user_with_a_taken_id_is_an_id_conflict(db: &TestDatabase) {
    let stores = db.open().await;
    let first = new_user("first@example.test");
    stores.users.create_user(&first, None).await.unwrap();

    let same_id = NewUser {
        id: first.id,
        ..new_user("second@example.test")
    };
    let second = stores.users.create_user(&same_id, None).await;

    assert!(is_conflict(&second, Conflict::Id), "{second:?}");
    let missing = stores.users.find_by_email(&same_id.email).await.unwrap();
    assert!(missing.is_none());
}

async fn unknown_emails_and_ids_find_nothing(db: &TestDatabase) {
    let stores = db.open().await;
    stores
        .users
        .create_user(&new_user("known@example.test"), None)
        .await
        .unwrap();

    let by_email = stores
        .users
        .find_by_email(&email("unknown@example.test"))
        .await
        .unwrap();
    let by_id = stores.users.find_by_id(UserId::new()).await.unwrap();

    assert!(by_email.is_none());
    assert!(by_id.is_none());
}

async fn timestamps_keep_microseconds_and_drop_nanoseconds(db: &TestDatabase) {
    let stores = db.open().await;
    let precise = at(0)
        .replace_nanosecond(123_456_789)
        .expect("a valid nanosecond");
    let new = NewUser {
        created_at: precise,
        ..new_user("precise@example.test")
    };

    let created = stores.users.create_user(&new, None).await.unwrap();

    let truncated = precise.replace_nanosecond(123_456_000).unwrap();
    assert_eq!(created.created_at, truncated);
    let found = stores.users.find_by_id(new.id).await.unwrap().unwrap();
    assert_eq!(found.user.created_at, truncated);
}

async fn set_name_returns_the_updated_user_and_none_for_an_unknown_id(db: &TestDatabase) {
    let stores = db.open().await;
    let new = new_user("named@example.test");
    let created = stores.users.create_user(&new, None).await.unwrap();

    let renamed = stores
        .users
        .set_name(new.id, Some("Countess"))
        .await
        .unwrap();
    let cleared = stores.users.set_name(new.id, None).await.unwrap();
    let unknown = stores.users.set_name(UserId::new(), Some("Nobody")).await;

    let renamed = renamed.expect("the user exists");
    assert_eq!(renamed.name.as_deref(), Some("Countess"));
    assert_eq!(
        User {
            name: created.name.clone(),
            ..renamed
        },
        created
    );
    assert_eq!(cleared.expect("the user exists").name, None);
    assert_eq!(
        stores
            .users
            .find_by_id(new.id)
            .await
            .unwrap()
            .unwrap()
            .user
            .name,
        None
    );
    assert!(unknown.unwrap().is_none());
}

async fn set_roles_returns_the_updated_user_with_roles_in_the_given_order(db: &TestDatabase) {
    let stores = db.open().await;
    let new = new_user("roles@example.test");
    stores.users.create_user(&new, None).await.unwrap();
    let wanted = roles(&["support", "audit:read", "admin"]);

    let updated = stores.users.set_roles(new.id, &wanted).await.unwrap();
    let emptied = stores.users.set_roles(new.id, &[]).await.unwrap();
    let unknown = stores.users.set_roles(UserId::new(), &wanted).await;

    assert_eq!(updated.expect("the user exists").roles, wanted);
    assert_eq!(emptied.expect("the user exists").roles, Vec::<Role>::new());
    let stored = stores.users.find_by_id(new.id).await.unwrap().unwrap();
    assert_eq!(stored.user.roles, Vec::<Role>::new());
    assert!(unknown.unwrap().is_none());
}

async fn set_disabled_returns_the_updated_user_and_none_for_an_unknown_id(db: &TestDatabase) {
    let stores = db.open().await;
    let new = new_user("disabled@example.test");
    stores.users.create_user(&new, None).await.unwrap();

    let disabled = stores.users.set_disabled(new.id, true).await.unwrap();
    let stored = stores.users.find_by_email(&new.email).await.unwrap();
    let enabled = stores.users.set_disabled(new.id, false).await.unwrap();
    let unknown = stores.users.set_disabled(UserId::new(), true).await;

    assert!(disabled.expect("the user exists").disabled);
    assert!(stored.unwrap().user.disabled);
    assert!(!enabled.expect("the user exists").disabled);
    assert!(unknown.unwrap().is_none());
}

async fn set_password_hash_gives_a_user_without_a_password_one(db: &TestDatabase) {
    let stores = db.open().await;
    let new = new_user("passwordless@example.test");
    stores.users.create_user(&new, None).await.unwrap();

    stores
        .users
        .set_password_hash(new.id, ARGON2_HASH, at(60))
        .await
        .unwrap();

    let found = stores
        .users
        .find_by_email(&new.email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.password_hash.as_deref(), Some(ARGON2_HASH));
}

async fn set_password_hash_replaces_an_existing_hash(db: &TestDatabase) {
    let stores = db.open().await;
    let new = new_user("imported@example.test");
    stores
        .users
        .create_user(&new, Some(BCRYPT_HASH))
        .await
        .unwrap();

    stores
        .users
        .set_password_hash(new.id, ARGON2_HASH, at(60))
        .await
        .unwrap();

    let found = stores.users.find_by_id(new.id).await.unwrap().unwrap();
    assert_eq!(found.password_hash.as_deref(), Some(ARGON2_HASH));
}

async fn every_change_a_token_or_a_login_depends_on_moves_the_security_epoch(db: &TestDatabase) {
    // Arrange
    let stores = db.open().await;
    let new = new_user("epoch@example.test");
    let created = stores
        .users
        .create_user(&new, Some(ARGON2_HASH))
        .await
        .unwrap();
    let epoch = |stores: &Stores| {
        let users = std::sync::Arc::clone(&stores.users);
        async move {
            let found = users.find_by_id(new.id).await.unwrap().unwrap();
            found.user.security_epoch
        }
    };
    assert_eq!(created.security_epoch, 0);

    // Act and assert: each change moves it; a name change does not.
    stores.users.set_name(new.id, Some("Ed")).await.unwrap();
    assert_eq!(epoch(&stores).await, 0, "a name is in no decision");
    let changed = stores.users.set_roles(new.id, &roles(&["admin"])).await;
    assert_eq!(changed.unwrap().unwrap().security_epoch, 1);
    let changed = stores.users.set_disabled(new.id, true).await;
    assert_eq!(changed.unwrap().unwrap().security_epoch, 2);
    let other = Email::parse("epoch2@example.test").unwrap();
    let changed = stores.users.set_email(new.id, &other).await;
    assert_eq!(changed.unwrap().unwrap().security_epoch, 3);
    stores
        .users
        .set_password_hash(new.id, BCRYPT_HASH, at(60))
        .await
        .unwrap();
    assert_eq!(epoch(&stores).await, 4);
}

async fn a_hash_upgrade_applies_only_over_the_hash_it_replaces_and_keeps_the_epoch(
    db: &TestDatabase,
) {
    // Arrange
    let stores = db.open().await;
    let new = new_user("upgrade@example.test");
    stores
        .users
        .create_user(&new, Some(BCRYPT_HASH))
        .await
        .unwrap();

    // Act: an upgrade that read another hash, then one that read this one.
    let stale = stores
        .users
        .upgrade_password_hash(new.id, ARGON2_HASH, ARGON2_HASH, at(60))
        .await
        .unwrap();
    let upgraded = stores
        .users
        .upgrade_password_hash(new.id, BCRYPT_HASH, ARGON2_HASH, at(60))
        .await
        .unwrap();

    // Assert
    assert!(!stale);
    assert!(upgraded);
    let found = stores.users.find_by_id(new.id).await.unwrap().unwrap();
    assert_eq!(found.password_hash.as_deref(), Some(ARGON2_HASH));
    assert_eq!(found.user.security_epoch, 0, "the same password");
}

async fn a_session_is_created_only_while_its_user_is_enabled_and_unchanged(db: &TestDatabase) {
    // Arrange
    let stores = db.open().await;
    let new = new_user("guarded@example.test");
    stores.users.create_user(&new, None).await.unwrap();
    let read_before_change = 0;
    stores
        .users
        .set_roles(new.id, &roles(&["support"]))
        .await
        .unwrap();

    // Act
    let stale = session_of(new.id, at(10));
    let refused = stores
        .sessions
        .create_session(&stale, read_before_change)
        .await
        .unwrap();
    let fresh = session_of(new.id, at(10));
    let created = stores.sessions.create_session(&fresh, 1).await.unwrap();
    stores.users.set_disabled(new.id, true).await.unwrap();
    let disabled = session_of(new.id, at(10));
    let refused_disabled = stores.sessions.create_session(&disabled, 2).await.unwrap();

    // Assert
    assert!(!refused);
    assert!(created);
    assert!(!refused_disabled);
    let find = |id| stores.sessions.find_session(id);
    assert_eq!(find(stale.id).await.unwrap(), None);
    assert_eq!(find(fresh.id).await.unwrap(), Some(fresh.clone()));
    assert_eq!(find(disabled.id).await.unwrap(), None);
}

async fn a_rotation_fails_once_the_user_changed_or_was_disabled(db: &TestDatabase) {
    // Arrange
    let stores = db.open().await;
    let new = new_user("rotating@example.test");
    stores.users.create_user(&new, None).await.unwrap();
    let session = session_of(new.id, at(10));
    stores.sessions.create_session(&session, 0).await.unwrap();
    stores
        .users
        .set_roles(new.id, &roles(&["support"]))
        .await
        .unwrap();
    let now = at(20);
    let next = rotated(&session, digest(1), now);
    let idle = now + Duration::days(30);

    // Act
    let stale = stores
        .sessions
        .rotate_refresh(session.id, &session.refresh.digest, &next, idle, now, 0)
        .await
        .unwrap();
    let fresh = stores
        .sessions
        .rotate_refresh(session.id, &session.refresh.digest, &next, idle, now, 1)
        .await
        .unwrap();
    stores.users.set_disabled(new.id, true).await.unwrap();
    let after = rotated(&session, digest(2), now);
    let disabled = stores
        .sessions
        .rotate_refresh(session.id, &digest(1), &after, idle, now, 2)
        .await
        .unwrap();

    // Assert
    assert_eq!(stale, None);
    assert_eq!(fresh.map(|s| s.refresh), Some(next));
    assert_eq!(disabled, None);
}

async fn an_email_is_kept_as_typed_and_its_look_alikes_are_the_same_account(db: &TestDatabase) {
    // Arrange
    let stores = db.open().await;
    let new = new_user("Kate@Example.com");
    stores.users.create_user(&new, None).await.unwrap();
    let look_alike = Email::parse("ｋａｔｅ@example.com").unwrap();

    // Act
    let found = stores.users.find_by_email(&look_alike).await.unwrap();
    let taken = stores
        .users
        .create_user(&new_user("ｋａｔｅ@example.com"), None)
        .await;
    let other = new_user("other@example.com");
    stores.users.create_user(&other, None).await.unwrap();
    let moved = stores
        .users
        .set_email(other.id, &Email::parse("KATE@example.com").unwrap())
        .await;

    // Assert
    let found = found.expect("found by a look-alike").user;
    assert_eq!(found.id, new.id);
    assert_eq!(found.email.as_str(), "Kate@Example.com", "kept as typed");
    assert!(
        matches!(taken, Err(StoreError::Conflict(Conflict::Email))),
        "{taken:?}"
    );
    assert!(
        matches!(moved, Err(StoreError::Conflict(Conflict::Email))),
        "{moved:?}"
    );
}

async fn set_password_hash_for_an_unknown_user_creates_nothing(db: &TestDatabase) {
    let stores = db.open().await;
    let ghost = UserId::new();

    stores
        .users
        .set_password_hash(ghost, ARGON2_HASH, at(60))
        .await
        .unwrap();

    assert!(stores.users.find_by_id(ghost).await.unwrap().is_none());
}

async fn a_password_hash_that_is_neither_argon2_nor_bcrypt_is_refused(db: &TestDatabase) {
    let stores = db.open().await;
    let new = new_user("plain@example.test");

    let created = stores.users.create_user(&new, Some("hunter2")).await;

    assert!(
        matches!(created, Err(StoreError::Corrupt(_))),
        "{created:?}"
    );
    assert!(stores.users.find_by_id(new.id).await.unwrap().is_none());
}

async fn deleting_a_user_deletes_their_sessions_and_password(db: &TestDatabase) {
    let stores = db.open().await;
    let doomed = new_user("doomed@example.test");
    let other = new_user("other@example.test");
    stores
        .users
        .create_user(&doomed, Some(ARGON2_HASH))
        .await
        .unwrap();
    stores.users.create_user(&other, None).await.unwrap();
    let doomed_session = session_of(doomed.id, at(10));
    let other_session = session_of(other.id, at(10));
    stores
        .sessions
        .create_session(&doomed_session, 0)
        .await
        .unwrap();
    stores
        .sessions
        .create_session(&other_session, 0)
        .await
        .unwrap();

    let deleted = stores.users.delete_user(doomed.id).await.unwrap();

    assert!(deleted);
    assert!(stores.users.find_by_id(doomed.id).await.unwrap().is_none());
    let gone = stores
        .sessions
        .find_session(doomed_session.id)
        .await
        .unwrap();
    assert!(gone.is_none());
    let kept = stores
        .sessions
        .find_session(other_session.id)
        .await
        .unwrap();
    assert_eq!(kept, Some(other_session));
    // The email is free again: the password row went with the user instead of dangling.
    let again = NewUser {
        id: UserId::new(),
        ..doomed
    };
    stores.users.create_user(&again, None).await.unwrap();
    let found = stores.users.find_by_id(again.id).await.unwrap().unwrap();
    assert_eq!(found.password_hash, None);
}

async fn deleting_an_unknown_user_reports_false(db: &TestDatabase) {
    let stores = db.open().await;

    let deleted = stores.users.delete_user(UserId::new()).await.unwrap();

    assert!(!deleted);
}

async fn list_users_pages_through_users_in_id_order_after_the_given_id(db: &TestDatabase) {
    // Arrange: five users whose ids were made in order, inserted out of order.
    let stores = db.open().await;
    let users: Vec<NewUser> = (0..5)
        .map(|n| new_user(&format!("user{n}@example.test")))
        .collect();
    for index in [2, 0, 4, 1, 3] {
        stores.users.create_user(&users[index], None).await.unwrap();
    }
    let ids: Vec<UserId> = users.iter().map(|user| user.id).collect();
    let ids_of = |page: Vec<User>| page.into_iter().map(|user| user.id).collect::<Vec<_>>();

    // Act
    let first = stores.users.list_users(None, None, 2).await.unwrap();
    let second = stores
        .users
        .list_users(None, Some(ids[1]), 2)
        .await
        .unwrap();
    let last = stores
        .users
        .list_users(None, Some(ids[3]), 2)
        .await
        .unwrap();
    let past_the_end = stores
        .users
        .list_users(None, Some(ids[4]), 2)
        .await
        .unwrap();
    let everything = stores.users.list_users(None, None, 100).await.unwrap();

    // Assert
    assert_eq!(ids_of(first), ids[0..2]);
    assert_eq!(ids_of(second), ids[2..4]);
    assert_eq!(ids_of(last), ids[4..5]);
    assert!(past_the_end.is_empty());
    assert_eq!(ids_of(everything), ids);
}

async fn list_users_filters_by_a_case_insensitive_substring_of_email_or_name(db: &TestDatabase) {
    let stores = db.open().await;
    let mut named = new_user("ada@example.test");
    named.name = Some("Ada LOVELACE".into());
    let mut other = new_user("grace@example.test");
    other.name = Some("Grace Hopper".into());
    let mut third = new_user("lovelace.fan@example.test");
    third.name = None;
    for user in [&named, &other, &third] {
        stores.users.create_user(user, None).await.unwrap();
    }
    let ids = |page: Vec<User>| {
        page.into_iter()
            .map(|user| user.email.to_string())
            .collect::<Vec<_>>()
    };

    let by_name_or_email = stores
        .users
        .list_users(Some("Lovelace"), None, 10)
        .await
        .unwrap();
    let by_email = stores
        .users
        .list_users(Some("GRACE@"), None, 10)
        .await
        .unwrap();
    let none = stores
        .users
        .list_users(Some("nobody"), None, 10)
        .await
        .unwrap();
    let wildcard_is_literal = stores.users.list_users(Some("%"), None, 10).await.unwrap();

    assert_eq!(
        ids(by_name_or_email),
        ["ada@example.test", "lovelace.fan@example.test"]
    );
    assert_eq!(ids(by_email), ["grace@example.test"]);
    assert!(none.is_empty());
    assert!(wildcard_is_literal.is_empty());
}

async fn list_users_ignores_case_beyond_ascii_in_names_and_emails(db: &TestDatabase) {
    // Arrange
    let stores = db.open().await;
    let mut greek = new_user("Σοφία@example.test");
    greek.name = Some("ΣΟΦΊΑ Παπαδοπούλου".into());
    let mut german = new_user("gruss@example.test");
    german.name = Some("Jürgen Strauß".into());
    for user in [&greek, &german] {
        stores.users.create_user(user, None).await.unwrap();
    }
    let renamed = stores
        .users
        .set_name(german.id, Some("ÉMILE ZOLA"))
        .await
        .unwrap();
    assert!(renamed.is_some());

    // Act
    let search = |query: &'static str| stores.users.list_users(Some(query), None, 10);
    let by_name = search("σοφία").await.unwrap();
    let by_email = search("ΣΟΦΊΑ@").await.unwrap();
    let by_new_name = search("émile").await.unwrap();
    let by_old_name = search("strasse").await.unwrap();

    // Assert
    assert_eq!(by_name.iter().map(|u| u.id).collect::<Vec<_>>(), [greek.id]);
    assert_eq!(
        by_email.iter().map(|u| u.id).collect::<Vec<_>>(),
        [greek.id]
    );
    assert_eq!(
        by_new_name.iter().map(|u| u.id).collect::<Vec<_>>(),
        [german.id]
    );
    assert!(by_old_name.is_empty(), "the name changed");
}

async fn audit_events_are_recorded(db: &TestDatabase) {
    let stores = db.open().await;
    let event = tessera_core::ports::AuditEvent {
        id: uuid::Uuid::now_v7(),
        at: at(0),
        actor: Some(UserId::new()),
        action: "user.update".into(),
        target: Some(UserId::new().to_string()),
        detail: Some(serde_json::json!({ "disabled": true })),
    };

    stores.audit.record_audit(&event).await.unwrap();

    // The same id twice is a conflict: the row is really there.
    let again = stores.audit.record_audit(&event).await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
}

async fn a_created_session_is_found_with_every_field_in_any_state(db: &TestDatabase) {
    let stores = db.open().await;
    let user = new_user("sessions@example.test");
    stores.users.create_user(&user, None).await.unwrap();
    let session = Session {
        refresh: RefreshState {
            generation: 7,
            digest: digest(7),
            previous_digest: Some(digest(6)),
            rotated_at: at(35),
        },
        ..session_of(user.id, at(30))
    };
    let bare = Session {
        device_name: None,
        user_agent: None,
        ip: None,
        ..session_of(user.id, at(40))
    };
    let ended = Session {
        idle_expires_at: at(45),
        revoked_at: Some(at(50)),
        revoke_reason: Some("logout".to_owned()),
        ..session_of(user.id, at(41))
    };

    for created in [&session, &bare, &ended] {
        stores.sessions.create_session(created, 0).await.unwrap();
    }

    for created in [session, bare, ended] {
        let found = stores.sessions.find_session(created.id).await.unwrap();
        assert_eq!(found, Some(created));
    }
    let unknown = stores
        .sessions
        .find_session(SessionId::new())
        .await
        .unwrap();
    assert!(unknown.is_none());
}

async fn creating_a_session_with_a_taken_id_is_an_id_conflict(db: &TestDatabase) {
    let stores = db.open().await;
    let user = new_user("twice@example.test");
    stores.users.create_user(&user, None).await.unwrap();
    let session = session_of(user.id, at(30));
    stores.sessions.create_session(&session, 0).await.unwrap();

    let again = stores.sessions.create_session(&session, 0).await;

    assert!(is_conflict(&again, Conflict::Id), "{again:?}");
}

async fn a_session_is_found_with_its_current_user_in_one_read(db: &TestDatabase) {
    // Arrange: the user changes after the session starts; the read must see the change.
    let stores = db.open().await;
    let new = new_user("joined@example.test");
    stores.users.create_user(&new, None).await.unwrap();
    let session = session_of(new.id, at(10));
    stores.sessions.create_session(&session, 0).await.unwrap();
    stores
        .users
        .set_roles(new.id, &roles(&["support"]))
        .await
        .unwrap();
    let user = stores
        .users
        .set_disabled(new.id, true)
        .await
        .unwrap()
        .unwrap();

    // Act
    let found = stores
        .sessions
        .find_session_with_user(session.id)
        .await
        .unwrap();
    let unknown = stores
        .sessions
        .find_session_with_user(SessionId::new())
        .await
        .unwrap();

    // Assert
    assert_eq!(found, Some((session.clone(), user.clone())));
    assert_eq!(user.roles, roles(&["support"]));
    assert!(unknown.is_none());
    stores
        .sessions
        .revoke_session(session.id, "logout", at(20), 0)
        .await
        .unwrap();
    let (revoked, _) = stores
        .sessions
        .find_session_with_user(session.id)
        .await
        .unwrap()
        .expect("a revoked session is still found");
    assert_eq!(revoked.revoked_at, Some(at(20)));
}

async fn rotating_with_the_current_digest_succeeds_once_and_the_old_digest_then_fails(
    db: &TestDatabase,
) {
    // Arrange
    let stores = db.open().await;
    let user = new_user("rotate@example.test");
    stores.users.create_user(&user, None).await.unwrap();
    let session = session_of(user.id, at(0));
    stores.sessions.create_session(&session, 0).await.unwrap();
    let now = at(60);
    let next = rotated(&session, digest(1), now);
    let idle = now + Duration::days(30);

    // Act
    let first = stores
        .sessions
        .rotate_refresh(session.id, &digest(0), &next, idle, now, 0)
        .await
        .unwrap();
    let replayed = stores
        .sessions
        .rotate_refresh(
            session.id,
            &digest(0),
            &rotated(&session, digest(9), at(61)),
            idle,
            at(61),
            0,
        )
        .await
        .unwrap();

    // Assert
    let expected = Session {
        refresh: next,
        last_used_at: now,
        idle_expires_at: idle,
        ..session
    };
    assert_eq!(first, Some(expected.clone()));
    assert_eq!(replayed, None);
    let stored = stores.sessions.find_session(expected.id).await.unwrap();
    assert_eq!(stored, Some(expected.clone()));
    // The chain goes on from the new digest.
    let later = at(120);
    let third = rotated(&expected, digest(2), later);
    let again = stores
        .sessions
        .rotate_refresh(
            expected.id,
            &digest(1),
            &third,
            later + Duration::days(30),
            later,
            0,
        )
        .await
        .unwrap();
    assert_eq!(again.map(|session| session.refresh), Some(third));
}

async fn rotating_a_revoked_or_expired_session_fails_and_changes_nothing(db: &TestDatabase) {
    // Arrange: each session fails exactly one condition at `now`.
    let stores = db.open().await;
    let user = new_user("expired@example.test");
    stores.users.create_user(&user, None).await.unwrap();
    let now = at(1_000);
    let revoked = Session {
        revoked_at: Some(at(500)),
        revoke_reason: Some("logout".to_owned()),
        ..session_of(user.id, at(0))
    };
    let idle_expired = Session {
        idle_expires_at: now,
        ..session_of(user.id, at(0))
    };
    // Past its absolute end but not its idle end, which the core never produces: it isolates
    // the absolute check.
    let absolute_expired = Session {
        absolute_expires_at: now,
        idle_expires_at: now + Duration::days(1),
        ..session_of(user.id, at(0))
    };
    let sessions = [revoked, idle_expired, absolute_expired];
    for session in &sessions {
        stores.sessions.create_session(session, 0).await.unwrap();
    }

    for session in &sessions {
        // Act
        let next = rotated(session, digest(1), now);
        let outcome = stores
            .sessions
            .rotate_refresh(
                session.id,
                &digest(0),
                &next,
                now + Duration::days(30),
                now,
                0,
            )
            .await
            .unwrap();

        // Assert
        assert_eq!(outcome, None, "{session:?}");
        let stored = stores.sessions.find_session(session.id).await.unwrap();
        assert_eq!(stored.as_ref(), Some(session));
    }
    let unknown = stores
        .sessions
        .rotate_refresh(
            SessionId::new(),
            &digest(0),
            &rotated(&sessions[0], digest(1), now),
            now,
            now,
            0,
        )
        .await
        .unwrap();
    assert_eq!(unknown, None);
}

async fn of_many_concurrent_rotations_of_one_token_exactly_one_succeeds(db: &TestDatabase) {
    // Arrange: each contender offers its own successor, so the stored one names the winner.
    let stores = db.open().await;
    let user = new_user("race@example.test");
    stores.users.create_user(&user, None).await.unwrap();
    let session = session_of(user.id, at(0));
    stores.sessions.create_session(&session, 0).await.unwrap();
    let now = at(60);

    // Act
    let contenders: Vec<_> = (1..=50u8)
        .map(|n| {
            let store = stores.sessions.clone();
            let next = rotated(&session, digest(n), now);
            tokio::spawn(async move {
                let outcome = store
                    .rotate_refresh(
                        session.id,
                        &digest(0),
                        &next,
                        now + Duration::days(30),
                        now,
                        0,
                    )
                    .await;
                (next, outcome)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for contender in contenders {
        let (next, outcome) = contender.await.unwrap();
        if let Some(rotated) = outcome.unwrap() {
            assert_eq!(rotated.refresh, next);
            winners.push(next);
        }
    }

    // Assert
    assert_eq!(winners.len(), 1, "{winners:?}");
    let stored = stores.sessions.find_session(session.id).await.unwrap();
    assert_eq!(stored.map(|session| session.refresh), winners.pop());
}

async fn listing_returns_only_live_sessions_of_the_user_newest_first(db: &TestDatabase) {
    // Arrange
    let stores = db.open().await;
    let ada = new_user("ada@example.test");
    let bob = new_user("bob@example.test");
    let idle = new_user("idle@example.test");
    for user in [&ada, &bob, &idle] {
        stores.users.create_user(user, None).await.unwrap();
    }
    let now = at(1_000);
    let oldest = session_of(ada.id, at(10));
    let newest = session_of(ada.id, at(30));
    let middle = session_of(ada.id, at(20));
    let (twin, other_twin) = (session_of(ada.id, at(25)), session_of(ada.id, at(25)));
    let revoked = Session {
        revoked_at: Some(at(500)),
        revoke_reason: Some("logout".to_owned()),
        ..session_of(ada.id, at(40))
    };
    let idle_expired = Session {
        idle_expires_at: now,
        ..session_of(ada.id, at(50))
    };
    let absolute_expired = Session {
        absolute_expires_at: now,
        idle_expires_at: now,
        ..session_of(ada.id, at(60))
    };
    let bobs = session_of(bob.id, at(70));
    let everything = [
        &oldest,
        &newest,
        &middle,
        &twin,
        &other_twin,
        &revoked,
        &idle_expired,
        &absolute_expired,
        &bobs,
    ];
    for session in everything {
        stores.sessions.create_session(session, 0).await.unwrap();
    }

    // Act
    let listed = stores.sessions.list_sessions(ada.id, now).await.unwrap();
    let nothing = stores.sessions.list_sessions(idle.id, now).await.unwrap();

    // Assert: sessions that started together come in descending id order.
    let (first_twin, second_twin) = if twin.id > other_twin.id {
        (twin, other_twin)
    } else {
        (other_twin, twin)
    };
    assert_eq!(
        listed,
        vec![newest, first_twin, second_twin, middle, oldest]
    );
    assert!(nothing.is_empty());
}

async fn revoking_a_session_records_one_revocation_and_a_second_revoke_changes_nothing(
    db: &TestDatabase,
) {
    // Arrange
    let stores = db.open().await;
    let user = new_user("logout@example.test");
    stores.users.create_user(&user, None).await.unwrap();
    let session = session_of(user.id, at(0));
    stores.sessions.create_session(&session, 0).await.unwrap();
    let until = at(100).unix_timestamp() + 930;

    // Act
    let first = stores
        .sessions
        .revoke_session(session.id, "logout", at(100), until)
        .await
        .unwrap();
    let second = stores
        .sessions
        .revoke_session(session.id, "refresh_reused", at(200), until + 100)
        .await
        .unwrap();
    let unknown = stores
        .sessions
        .revoke_session(SessionId::new(), "logout", at(200), until)
        .await
        .unwrap();

    // Assert
    let first = first.expect("an unrevoked session is revoked");
    assert_eq!(
        first,
        session_revocation(first.cursor, session.id, at(100), until)
    );
    assert_eq!(second, None);
    assert_eq!(unknown, None);
    let stored = stores.sessions.find_session(session.id).await.unwrap();
    let expected = Session {
        revoked_at: Some(at(100)),
        revoke_reason: Some("logout".to_owned()),
        ..session
    };
    assert_eq!(stored, Some(expected));
    assert_eq!(whole_feed(&stores).await, vec![first]);
}

async fn revoking_a_users_sessions_keeps_the_given_one_and_records_the_others(db: &TestDatabase) {
    // Arrange: three sessions for Ada, one for someone else.
    let stores = db.open().await;
    let ada = new_user("ada@example.test");
    let bob = new_user("bob@example.test");
    stores.users.create_user(&ada, None).await.unwrap();
    stores.users.create_user(&bob, None).await.unwrap();
    let current = session_of(ada.id, at(1));
    let laptop = session_of(ada.id, at(2));
    let phone = session_of(ada.id, at(3));
    let bobs = session_of(bob.id, at(4));
    for session in [&current, &laptop, &phone, &bobs] {
        stores.sessions.create_session(session, 0).await.unwrap();
    }
    let until = at(100).unix_timestamp() + 930;

    // Act
    let revoked = stores
        .sessions
        .revoke_user_sessions(ada.id, Some(current.id), "password_changed", at(100), until)
        .await
        .unwrap();

    // Assert
    let cursors: Vec<i64> = revoked.iter().map(|entry| entry.cursor).collect();
    assert_strictly_increasing(&cursors);
    let targets: BTreeSet<SessionId> = revoked
        .iter()
        .map(|entry| match entry.target {
            RevocationTarget::Session(id) => id,
            RevocationTarget::User(id) => panic!("a user entry for {id}"),
        })
        .collect();
    assert_eq!(targets, BTreeSet::from([laptop.id, phone.id]));
    for entry in &revoked {
        assert_eq!(
            (entry.revoked_at_ms, entry.until),
            (unix_millis(at(100)), until)
        );
    }
    assert_eq!(whole_feed(&stores).await, revoked);
    let find = |id| stores.sessions.find_session(id);
    assert_eq!(find(current.id).await.unwrap(), Some(current.clone()));
    assert_eq!(find(bobs.id).await.unwrap(), Some(bobs.clone()));
    for ended in [laptop, phone] {
        let expected = Session {
            revoked_at: Some(at(100)),
            revoke_reason: Some("password_changed".to_owned()),
            ..ended
        };
        assert_eq!(find(expected.id).await.unwrap(), Some(expected));
    }
}

async fn revoking_with_nothing_to_keep_ends_every_unrevoked_session_expired_ones_too(
    db: &TestDatabase,
) {
    // Arrange: an expired session may still have live access tokens, so it is revoked too.
    let stores = db.open().await;
    let user = new_user("everywhere@example.test");
    stores.users.create_user(&user, None).await.unwrap();
    let live = session_of(user.id, at(1));
    let expired = Session {
        idle_expires_at: at(50),
        ..session_of(user.id, at(2))
    };
    let already = Session {
        revoked_at: Some(at(60)),
        revoke_reason: Some("logout".to_owned()),
        ..session_of(user.id, at(3))
    };
    for session in [&live, &expired, &already] {
        stores.sessions.create_session(session, 0).await.unwrap();
    }

    // Act
    let revoked = stores
        .sessions
        .revoke_user_sessions(user.id, None, "logout_all", at(100), 5_000)
        .await
        .unwrap();

    // Assert
    let targets: Vec<RevocationTarget> = revoked.iter().map(|entry| entry.target).collect();
    assert_eq!(
        targets,
        [live.id, expired.id].map(RevocationTarget::Session),
        "in session order"
    );
    let untouched = stores.sessions.find_session(already.id).await.unwrap();
    assert_eq!(untouched, Some(already));
    assert!(
        stores
            .sessions
            .list_sessions(user.id, at(100))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn revoking_a_users_sessions_again_finds_nothing_to_revoke(db: &TestDatabase) {
    let stores = db.open().await;
    let user = new_user("revoked@example.test");
    stores.users.create_user(&user, None).await.unwrap();
    let session = session_of(user.id, at(1));
    stores.sessions.create_session(&session, 0).await.unwrap();
    let first = stores
        .sessions
        .revoke_user_sessions(user.id, None, "disabled", at(100), 1_000)
        .await
        .unwrap();

    let second = stores
        .sessions
        .revoke_user_sessions(user.id, None, "disabled", at(200), 2_000)
        .await
        .unwrap();

    assert_eq!(
        first,
        vec![session_revocation(
            first[0].cursor,
            session.id,
            at(100),
            1_000
        )]
    );
    assert!(second.is_empty());
    assert_eq!(whole_feed(&stores).await, first);
    let stored = stores.sessions.find_session(session.id).await.unwrap();
    assert_eq!(stored.and_then(|session| session.revoked_at), Some(at(100)));
}

async fn feed_cursors_strictly_increase_in_recording_order(db: &TestDatabase) {
    // Arrange
    let stores = db.open().await;
    let user = new_user("feed@example.test");
    stores.users.create_user(&user, None).await.unwrap();
    let sessions = [
        session_of(user.id, at(1)),
        session_of(user.id, at(2)),
        session_of(user.id, at(3)),
    ];
    for session in &sessions {
        stores.sessions.create_session(session, 0).await.unwrap();
    }

    // Act
    let mut recorded = Vec::new();
    recorded.extend(
        stores
            .sessions
            .revoke_session(sessions[0].id, "logout", at(10), 1_000)
            .await
            .unwrap(),
    );
    recorded.push(
        stores
            .revocations
            .record_user_revocation(user.id, at(20), 2_000)
            .await
            .unwrap(),
    );
    recorded.extend(
        stores
            .sessions
            .revoke_user_sessions(user.id, None, "disabled", at(30), 3_000)
            .await
            .unwrap(),
    );

    // Assert
    assert_eq!(recorded.len(), 4);
    let cursors: Vec<i64> = recorded.iter().map(|entry| entry.cursor).collect();
    assert_strictly_increasing(&cursors);
    assert_eq!(
        recorded[1],
        Revocation {
            cursor: recorded[1].cursor,
            target: RevocationTarget::User(user.id),
            revoked_at_ms: unix_millis(at(20)),
            until: 2_000,
        }
    );
    assert_eq!(whole_feed(&stores).await, recorded);
}

async fn revocations_after_filters_by_cursor_and_until_and_respects_the_limit(db: &TestDatabase) {
    // Arrange: user entries need no sessions; their users need not even exist.
    let stores = db.open().await;
    let mut entries = Vec::new();
    for until in [1_000, 2_000, 1_500, 3_000, 2_500] {
        let entry = stores
            .revocations
            .record_user_revocation(UserId::new(), at(0), until)
            .await
            .unwrap();
        entries.push(entry);
    }
    let feed = &stores.revocations;

    // Act
    let after_second = feed
        .revocations_after(entries[1].cursor, 0, 100)
        .await
        .unwrap();
    let in_force_at_1500 = feed.revocations_after(0, 1_500, 100).await.unwrap();
    let first_page = feed.revocations_after(0, 0, 2).await.unwrap();
    let second_page = feed
        .revocations_after(entries[1].cursor, 0, 2)
        .await
        .unwrap();
    let past_the_end = feed
        .revocations_after(entries[4].cursor, 0, 100)
        .await
        .unwrap();

    // Assert
    assert_eq!(after_second, entries[2..]);
    assert_eq!(
        in_force_at_1500,
        [entries[1], entries[3], entries[4]],
        "`until` equal to now is no longer in force"
    );
    assert_eq!(first_page, entries[..2]);
    assert_eq!(second_page, entries[2..4]);
    assert!(past_the_end.is_empty());
}

async fn pruning_deletes_revocations_no_longer_in_force_and_cursors_are_not_reused(
    db: &TestDatabase,
) {
    // Arrange
    let stores = db.open().await;
    let feed = &stores.revocations;
    let mut entries = Vec::new();
    for until in [1_000, 3_000, 2_000] {
        entries.push(
            feed.record_user_revocation(UserId::new(), at(0), until)
                .await
                .unwrap(),
        );
    }

    // Act: a batch of one, then the rest.
    let first = feed.prune_revocations(2_000, 1).await.unwrap();
    let pruned = feed.prune_revocations(2_000, 100).await.unwrap();
    let again = feed.prune_revocations(2_000, 100).await.unwrap();

    // Assert
    assert_eq!((first, pruned, again), (1, 1, 0));
    assert_eq!(whole_feed(&stores).await, [entries[1]]);
    // Even with the newest entries gone, a new entry gets a cursor never handed out before.
    assert_eq!(feed.prune_revocations(i64::MAX, 100).await.unwrap(), 1);
    let next = feed
        .record_user_revocation(UserId::new(), at(0), 4_000)
        .await
        .unwrap();
    assert!(
        next.cursor > entries[2].cursor,
        "{next:?} after {entries:?}"
    );
}

async fn pruning_deletes_sessions_ended_before_the_cutoff_in_batches(db: &TestDatabase) {
    // Arrange: revoked at 20, idle-expired, absolute-expired, revoked after the cutoff, live.
    let stores = db.open().await;
    let user = new_user("pruned@example.test");
    stores.users.create_user(&user, None).await.unwrap();
    let sessions = &stores.sessions;
    let mut revoked = session_of(user.id, at(10));
    revoked.revoked_at = Some(at(20));
    let mut idle = session_of(user.id, at(10));
    idle.idle_expires_at = at(30);
    let mut absolute = session_of(user.id, at(10));
    absolute.absolute_expires_at = at(40);
    absolute.idle_expires_at = at(40);
    let mut late = session_of(user.id, at(10));
    late.revoked_at = Some(at(200));
    let live = session_of(user.id, at(10));
    for session in [&revoked, &idle, &absolute, &late, &live] {
        sessions.create_session(session, 0).await.unwrap();
    }

    // Act
    let first = sessions.prune_sessions(at(100), 2).await.unwrap();
    let second = sessions.prune_sessions(at(100), 2).await.unwrap();
    let third = sessions.prune_sessions(at(100), 2).await.unwrap();

    // Assert
    assert_eq!((first, second, third), (2, 1, 0));
    for gone in [&revoked, &idle, &absolute] {
        assert_eq!(sessions.find_session(gone.id).await.unwrap(), None);
    }
    for kept in [&late, &live] {
        assert!(sessions.find_session(kept.id).await.unwrap().is_some());
    }
}

async fn revocations_outlive_the_users_and_sessions_they_name(db: &TestDatabase) {
    // Arrange
    let stores = db.open().await;
    let user = new_user("deleted@example.test");
    stores.users.create_user(&user, None).await.unwrap();
    let ended = session_of(user.id, at(1));
    let live = session_of(user.id, at(2));
    stores.sessions.create_session(&ended, 0).await.unwrap();
    stores.sessions.create_session(&live, 0).await.unwrap();
    let session_entry = stores
        .sessions
        .revoke_session(ended.id, "logout", at(10), 1_000)
        .await
        .unwrap()
        .unwrap();
    let user_entry = stores
        .revocations
        .record_user_revocation(user.id, at(20), 2_000)
        .await
        .unwrap();

    // Act
    let deleted = stores.users.delete_user(user.id).await.unwrap();

    // Assert
    assert!(deleted);
    for session in [&ended, &live] {
        let gone = stores.sessions.find_session(session.id).await.unwrap();
        assert!(gone.is_none(), "sessions go with their user");
    }
    assert_eq!(whole_feed(&stores).await, [session_entry, user_entry]);
}

async fn adding_a_signing_key_retires_the_others_at_its_creation_time(db: &TestDatabase) {
    let stores = db.open().await;
    let first = signing_key("k1", at(0));
    let second = signing_key("k2", at(100));
    let third = signing_key("k3", at(200));

    stores.keys.add_signing_key(&first).await.unwrap();
    stores.keys.add_signing_key(&second).await.unwrap();
    stores.keys.add_signing_key(&third).await.unwrap();

    let keys = stores.keys.signing_keys().await.unwrap();
    let expected = vec![
        StoredKey {
            retired_at: Some(at(100)),
            ..first
        },
        StoredKey {
            retired_at: Some(at(200)),
            ..second
        },
        third,
    ];
    assert_eq!(keys, expected);
}

async fn adding_a_signing_key_with_a_taken_kid_is_an_id_conflict_and_retires_nothing(
    db: &TestDatabase,
) {
    let stores = db.open().await;
    let key = signing_key("k1", at(0));
    stores.keys.add_signing_key(&key).await.unwrap();

    let again = stores
        .keys
        .add_signing_key(&signing_key("k1", at(100)))
        .await;

    assert!(is_conflict(&again, Conflict::Id), "{again:?}");
    assert_eq!(stores.keys.signing_keys().await.unwrap(), vec![key]);
}

async fn a_first_signing_key_is_added_only_while_no_key_of_its_algorithm_signs(db: &TestDatabase) {
    let stores = db.open().await;
    let first = signing_key("k1", at(0));
    let es256 = StoredKey {
        algorithm: "ES256".to_owned(),
        ..signing_key("k3", at(200))
    };

    let added_first = stores.keys.add_first_signing_key(&first).await.unwrap();
    let added_late = stores
        .keys
        .add_first_signing_key(&signing_key("k2", at(100)))
        .await
        .unwrap();
    let after_late = stores.keys.signing_keys().await.unwrap();
    let added_other_algorithm = stores.keys.add_first_signing_key(&es256).await.unwrap();

    assert!(added_first, "an empty store takes the first key");
    assert!(!added_late, "an EdDSA key signs already");
    assert_eq!(after_late, vec![first.clone()]);
    assert!(added_other_algorithm, "no ES256 key signed yet");
    let expected = vec![
        StoredKey {
            retired_at: Some(at(200)),
            ..first
        },
        es256,
    ];
    assert_eq!(stores.keys.signing_keys().await.unwrap(), expected);
}

async fn a_key_signing_later_retires_the_others_when_it_starts(db: &TestDatabase) {
    // Arrange
    let stores = db.open().await;
    let first = signing_key("k1", at(0));
    let ahead = StoredKey {
        signs_at: at(160),
        ..signing_key("k2", at(100))
    };

    // Act
    stores.keys.add_signing_key(&first).await.unwrap();
    stores.keys.add_signing_key(&ahead).await.unwrap();

    // Assert
    let expected = vec![
        StoredKey {
            retired_at: Some(at(160)),
            ..first
        },
        ahead,
    ];
    assert_eq!(stores.keys.signing_keys().await.unwrap(), expected);
}

async fn a_withdrawn_key_is_marked_and_retired_and_an_unknown_kid_changes_nothing(
    db: &TestDatabase,
) {
    // Arrange
    let stores = db.open().await;
    let old = signing_key("k1", at(0));
    let current = signing_key("k2", at(100));
    stores.keys.add_signing_key(&old).await.unwrap();
    stores.keys.add_signing_key(&current).await.unwrap();

    // Act
    let withdrawn_old = stores
        .keys
        .withdraw_signing_key("k1", at(150))
        .await
        .unwrap();
    let withdrawn_current = stores
        .keys
        .withdraw_signing_key("k2", at(200))
        .await
        .unwrap();
    let unknown = stores
        .keys
        .withdraw_signing_key("k9", at(200))
        .await
        .unwrap();

    // Assert: a retirement already there stays; the withdrawal is recorded either way.
    assert!(withdrawn_old && withdrawn_current && !unknown);
    let expected = vec![
        StoredKey {
            retired_at: Some(at(100)),
            withdrawn_at: Some(at(150)),
            ..old
        },
        StoredKey {
            retired_at: Some(at(200)),
            withdrawn_at: Some(at(200)),
            ..current
        },
    ];
    assert_eq!(stores.keys.signing_keys().await.unwrap(), expected);
}

async fn retiring_every_key_leaves_none_unretired(db: &TestDatabase) {
    // Arrange
    let stores = db.open().await;
    let old = signing_key("k1", at(0));
    let current = signing_key("k2", at(100));
    stores.keys.add_signing_key(&old).await.unwrap();
    stores.keys.add_signing_key(&current).await.unwrap();

    // Act
    let retired = stores.keys.retire_signing_keys(at(300)).await.unwrap();

    // Assert
    assert_eq!(retired, 1);
    let keys = stores.keys.signing_keys().await.unwrap();
    let retired_at: Vec<_> = keys.iter().map(|key| key.retired_at).collect();
    assert_eq!(retired_at, [Some(at(100)), Some(at(300))]);
}

async fn of_many_concurrent_first_signing_keys_exactly_one_is_added(db: &TestDatabase) {
    // Arrange: instances starting at once on an empty database
    let stores = db.open().await;

    // Act
    let contenders: Vec<_> = (1..=8i64)
        .map(|n| {
            let store = stores.keys.clone();
            let key = signing_key(&format!("k{n}"), at(n));
            tokio::spawn(async move {
                let added = store.add_first_signing_key(&key).await.unwrap();
                (key, added)
            })
        })
        .collect();
    let mut added = Vec::new();
    for contender in contenders {
        let (key, was_added) = contender.await.unwrap();
        if was_added {
            added.push(key);
        }
    }

    // Assert
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(stores.keys.signing_keys().await.unwrap(), added);
}

async fn pruning_deletes_only_keys_retired_before_the_cutoff(db: &TestDatabase) {
    let stores = db.open().await;
    for (kid, created) in [("k1", 0), ("k2", 100), ("k3", 200), ("k4", 300)] {
        stores
            .keys
            .add_signing_key(&signing_key(kid, at(created)))
            .await
            .unwrap();
    }

    // k1 retired at 100, k2 at 200, k3 at 300; k4 is active.
    let pruned = stores.keys.prune_signing_keys(at(200)).await.unwrap();

    assert_eq!(pruned, 1);
    let kids: Vec<String> = stores
        .keys
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|key| key.kid)
        .collect();
    assert_eq!(kids, ["k2", "k3", "k4"]);
    let pruned = stores.keys.prune_signing_keys(at(1_000)).await.unwrap();
    assert_eq!(pruned, 2);
    let left = stores.keys.signing_keys().await.unwrap();
    assert_eq!(left, vec![signing_key("k4", at(300))]);
}

/// `user`'s identity at `provider`, linked at `linked_at`, with tokens and a version so that a
/// round trip shows every field is kept.
fn identity_of(
    user: UserId,
    provider: &str,
    subject: &str,
    linked_at: OffsetDateTime,
) -> StoredIdentity {
    StoredIdentity {
        id: Uuid::new_v4(),
        user,
        provider: provider.to_owned(),
        subject: subject.to_owned(),
        email: Some(format!("{subject}@{provider}.example.test")),
        linked_at,
        sealed_tokens: Some(vec![0, 1, 2, 254, 255]),
        tokens_version: 3,
        needs_login: true,
        // Not the column's default, so a round trip shows it is stored.
        email_proven: false,
    }
}

/// A user without a password, created in `stores`.
async fn passwordless_user(stores: &Stores, address: &str) -> NewUser {
    let user = new_user(address);
    stores.users.create_user(&user, None).await.unwrap();
    user
}

async fn a_linked_identity_is_found_by_subject_and_by_user_with_every_field(db: &TestDatabase) {
    // Arrange: the newer link is made first, so the listing's order is the store's doing.
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let newer = identity_of(ada.id, "google", "g-1", at(20));
    let older = StoredIdentity {
        email: None,
        sealed_tokens: None,
        tokens_version: 0,
        needs_login: false,
        ..identity_of(ada.id, "github", "gh-1", at(10))
    };

    // Act
    stores.identities.link_identity(&newer).await.unwrap();
    stores.identities.link_identity(&older).await.unwrap();

    // Assert
    let by_subject = stores.identities.find_identity("google", "g-1").await;
    assert_eq!(by_subject.unwrap(), Some(newer.clone()));
    let by_user = stores.identities.user_identity(ada.id, "github").await;
    assert_eq!(by_user.unwrap(), Some((older.clone(), false)));
    stores.users.set_disabled(ada.id, true).await.unwrap();
    let disabled = stores.identities.user_identity(ada.id, "github").await;
    assert_eq!(disabled.unwrap(), Some((older.clone(), true)));
    stores.users.set_disabled(ada.id, false).await.unwrap();
    let listed = stores.identities.user_identities(ada.id).await.unwrap();
    assert_eq!(listed, [older, newer]);
    let unknown = stores.identities.find_identity("github", "g-1").await;
    assert_eq!(unknown.unwrap(), None);
    let unknown = stores.identities.user_identity(ada.id, "gitlab").await;
    assert_eq!(unknown.unwrap(), None);
    let nobody = stores.identities.user_identities(UserId::new()).await;
    assert_eq!(nobody.unwrap(), []);
}

async fn linking_a_linked_subject_to_another_user_is_an_identity_conflict(db: &TestDatabase) {
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let bob = passwordless_user(&stores, "bob@example.test").await;
    let first = identity_of(ada.id, "github", "gh-1", at(10));
    stores.identities.link_identity(&first).await.unwrap();

    let second = stores
        .identities
        .link_identity(&identity_of(bob.id, "github", "gh-1", at(20)))
        .await;

    assert!(is_conflict(&second, Conflict::Identity), "{second:?}");
    let found = stores.identities.find_identity("github", "gh-1").await;
    assert_eq!(found.unwrap(), Some(first));
    let bobs = stores.identities.user_identities(bob.id).await.unwrap();
    assert_eq!(bobs, []);
}

async fn linking_a_second_identity_of_a_provider_to_a_user_is_an_identity_conflict(
    db: &TestDatabase,
) {
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let first = identity_of(ada.id, "github", "gh-1", at(10));
    stores.identities.link_identity(&first).await.unwrap();

    let second = stores
        .identities
        .link_identity(&identity_of(ada.id, "github", "gh-2", at(20)))
        .await;

    assert!(is_conflict(&second, Conflict::Identity), "{second:?}");
    let adas = stores.identities.user_identities(ada.id).await.unwrap();
    assert_eq!(adas, [first]);
    let missing = stores.identities.find_identity("github", "gh-2").await;
    assert_eq!(missing.unwrap(), None);
}

async fn creating_a_user_with_an_identity_creates_a_passwordless_user_and_links_it(
    db: &TestDatabase,
) {
    let stores = db.open().await;
    let new = new_user("social@example.test");
    let identity = identity_of(new.id, "github", "gh-1", at(0));

    let created = stores
        .identities
        .create_user_with_identity(&new, &identity)
        .await
        .unwrap();

    let found = stores.users.find_by_id(new.id).await.unwrap().unwrap();
    assert_eq!(found.user, created);
    assert_eq!(created.email, new.email);
    assert_eq!(found.password_hash, None);
    let linked = stores.identities.find_identity("github", "gh-1").await;
    assert_eq!(linked.unwrap(), Some(identity));
}

async fn creating_a_user_with_an_identity_and_a_taken_email_writes_nothing(db: &TestDatabase) {
    let stores = db.open().await;
    let owner = passwordless_user(&stores, "taken@example.test").await;
    let new = new_user("taken@example.test");

    let created = stores
        .identities
        .create_user_with_identity(&new, &identity_of(new.id, "github", "gh-1", at(0)))
        .await;

    assert!(is_conflict(&created, Conflict::Email), "{created:?}");
    assert!(stores.users.find_by_id(new.id).await.unwrap().is_none());
    let kept = stores.users.find_by_email(&new.email).await.unwrap();
    assert_eq!(kept.map(|found| found.user.id), Some(owner.id));
    let identity = stores.identities.find_identity("github", "gh-1").await;
    assert_eq!(identity.unwrap(), None);
}

async fn creating_a_user_with_a_linked_identity_is_an_identity_conflict_and_writes_nothing(
    db: &TestDatabase,
) {
    let stores = db.open().await;
    let owner = passwordless_user(&stores, "owner@example.test").await;
    let linked = identity_of(owner.id, "github", "gh-1", at(0));
    stores.identities.link_identity(&linked).await.unwrap();
    let new = new_user("newcomer@example.test");

    let created = stores
        .identities
        .create_user_with_identity(&new, &identity_of(new.id, "github", "gh-1", at(10)))
        .await;

    assert!(is_conflict(&created, Conflict::Identity), "{created:?}");
    assert!(stores.users.find_by_id(new.id).await.unwrap().is_none());
    assert!(
        stores
            .users
            .find_by_email(&new.email)
            .await
            .unwrap()
            .is_none()
    );
    let identity = stores.identities.find_identity("github", "gh-1").await;
    assert_eq!(identity.unwrap(), Some(linked));
}

async fn unlinking_the_last_way_to_log_in_is_refused_and_keeps_the_identity(db: &TestDatabase) {
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let only = identity_of(ada.id, "github", "gh-1", at(10));
    stores.identities.link_identity(&only).await.unwrap();

    let unlinked = stores.identities.unlink_identity(ada.id, "github").await;

    assert_eq!(unlinked.unwrap(), Unlinked::LastMethod);
    let kept = stores.identities.user_identities(ada.id).await.unwrap();
    assert_eq!(kept, [only]);
}

async fn unlinking_an_identity_of_a_user_with_a_password_removes_it(db: &TestDatabase) {
    let stores = db.open().await;
    let ada = new_user("ada@example.test");
    stores
        .users
        .create_user(&ada, Some(ARGON2_HASH))
        .await
        .unwrap();
    let identity = identity_of(ada.id, "github", "gh-1", at(10));
    stores.identities.link_identity(&identity).await.unwrap();

    let unlinked = stores.identities.unlink_identity(ada.id, "github").await;

    assert_eq!(unlinked.unwrap(), Unlinked::Removed(identity));
    let left = stores.identities.user_identities(ada.id).await.unwrap();
    assert_eq!(left, []);
    let found = stores.identities.find_identity("github", "gh-1").await;
    assert_eq!(found.unwrap(), None);
}

async fn unlinking_an_identity_of_a_user_with_another_removes_it_and_keeps_the_last(
    db: &TestDatabase,
) {
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let github = identity_of(ada.id, "github", "gh-1", at(10));
    let google = identity_of(ada.id, "google", "g-1", at(20));
    stores.identities.link_identity(&github).await.unwrap();
    stores.identities.link_identity(&google).await.unwrap();

    let first = stores.identities.unlink_identity(ada.id, "github").await;
    let second = stores.identities.unlink_identity(ada.id, "google").await;

    assert_eq!(first.unwrap(), Unlinked::Removed(github));
    assert_eq!(second.unwrap(), Unlinked::LastMethod);
    let left = stores.identities.user_identities(ada.id).await.unwrap();
    assert_eq!(left, [google]);
}

async fn unlinking_a_provider_the_user_has_no_identity_of_finds_nothing(db: &TestDatabase) {
    let stores = db.open().await;
    let ada = new_user("ada@example.test");
    stores
        .users
        .create_user(&ada, Some(ARGON2_HASH))
        .await
        .unwrap();
    let bob = passwordless_user(&stores, "bob@example.test").await;
    let bobs = identity_of(bob.id, "gitlab", "gl-1", at(10));
    stores.identities.link_identity(&bobs).await.unwrap();

    let unknown_provider = stores.identities.unlink_identity(ada.id, "gitlab").await;
    let unknown_user = stores
        .identities
        .unlink_identity(UserId::new(), "gitlab")
        .await;

    assert_eq!(unknown_provider.unwrap(), Unlinked::NotFound);
    assert_eq!(unknown_user.unwrap(), Unlinked::NotFound);
    let kept = stores.identities.find_identity("gitlab", "gl-1").await;
    assert_eq!(kept.unwrap(), Some(bobs));
}

async fn of_two_concurrent_unlinks_of_a_users_last_two_identities_exactly_one_succeeds(
    db: &TestDatabase,
) {
    // Arrange: several password-less users with two identities each, so the race is run
    // several times; each unlink runs on its own pooled connection.
    let stores = db.open().await;
    let mut users = Vec::new();
    for n in 0..10 {
        let user = passwordless_user(&stores, &format!("race{n}@example.test")).await;
        for provider in ["github", "google"] {
            let identity = identity_of(user.id, provider, &format!("{provider}-{n}"), at(n));
            stores.identities.link_identity(&identity).await.unwrap();
        }
        users.push(user);
    }

    for user in users {
        // Act
        let (github, google) = tokio::join!(
            stores.identities.unlink_identity(user.id, "github"),
            stores.identities.unlink_identity(user.id, "google"),
        );

        // Assert
        let outcomes = [github.unwrap(), google.unwrap()];
        let removed = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, Unlinked::Removed(_)))
            .count();
        let refused = outcomes
            .iter()
            .filter(|outcome| **outcome == Unlinked::LastMethod)
            .count();
        assert_eq!((removed, refused), (1, 1), "{outcomes:?}");
        let left = stores.identities.user_identities(user.id).await.unwrap();
        assert_eq!(left.len(), 1, "{left:?}");
    }
}

async fn a_refresh_lease_is_refused_while_held_and_taken_once_it_expired(db: &TestDatabase) {
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let identity = identity_of(ada.id, "github", "gh-1", at(0));
    stores.identities.link_identity(&identity).await.unwrap();
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let leases = &stores.identities;

    let taken = leases.take_refresh_lease(identity.id, first, at(10), at(40));
    assert!(taken.await.unwrap());
    let while_held = leases.take_refresh_lease(identity.id, second, at(39), at(69));
    assert!(!while_held.await.unwrap());
    let once_expired = leases.take_refresh_lease(identity.id, second, at(40), at(70));
    assert!(once_expired.await.unwrap());
    let unknown = leases.take_refresh_lease(Uuid::new_v4(), first, at(10), at(40));
    assert!(!unknown.await.unwrap());
    // Taking the lease changes nothing a reader sees.
    let found = stores.identities.find_identity("github", "gh-1").await;
    assert_eq!(found.unwrap(), Some(identity));
}

async fn a_refresh_finished_by_a_holder_whose_lease_was_taken_over_changes_nothing(
    db: &TestDatabase,
) {
    // Arrange: the first holder's lease ran out and a second holder took it.
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let identity = identity_of(ada.id, "github", "gh-1", at(0));
    stores.identities.link_identity(&identity).await.unwrap();
    let (late, current) = (Uuid::new_v4(), Uuid::new_v4());
    let leases = &stores.identities;
    assert!(
        leases
            .take_refresh_lease(identity.id, late, at(10), at(40))
            .await
            .unwrap()
    );
    assert!(
        leases
            .take_refresh_lease(identity.id, current, at(50), at(80))
            .await
            .unwrap()
    );

    // Act
    let finished = leases
        .finish_refresh(identity.id, late, Some(b"stale tokens"), false)
        .await;

    // Assert: nothing stored, and the current holder still holds the lease.
    assert!(!finished.unwrap());
    let found = stores.identities.find_identity("github", "gh-1").await;
    assert_eq!(found.unwrap(), Some(identity.clone()));
    let third = leases.take_refresh_lease(identity.id, Uuid::new_v4(), at(79), at(109));
    assert!(!third.await.unwrap());
}

async fn finishing_a_refresh_stores_the_tokens_counts_a_version_and_frees_the_lease(
    db: &TestDatabase,
) {
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let identity = identity_of(ada.id, "github", "gh-1", at(0));
    stores.identities.link_identity(&identity).await.unwrap();
    let holder = Uuid::new_v4();
    let leases = &stores.identities;
    let taken = leases.take_refresh_lease(identity.id, holder, at(10), at(40));
    assert!(taken.await.unwrap());

    let finished = leases
        .finish_refresh(identity.id, holder, Some(b"fresh tokens"), false)
        .await;

    assert!(finished.unwrap());
    let refreshed = StoredIdentity {
        sealed_tokens: Some(b"fresh tokens".to_vec()),
        tokens_version: identity.tokens_version + 1,
        needs_login: false,
        ..identity.clone()
    };
    let found = stores.identities.find_identity("github", "gh-1").await;
    assert_eq!(found.unwrap(), Some(refreshed.clone()));
    // The lease is free before it would have run out, and finishing again is refused.
    let again = leases.finish_refresh(identity.id, holder, None, true).await;
    assert!(!again.unwrap());
    let next = Uuid::new_v4();
    let retaken = leases.take_refresh_lease(identity.id, next, at(11), at(41));
    assert!(retaken.await.unwrap());
    // A refused refresh keeps the tokens it had and asks for a login.
    let refused = leases.finish_refresh(identity.id, next, None, true).await;
    assert!(refused.unwrap());
    let found = stores.identities.find_identity("github", "gh-1").await;
    let expected = StoredIdentity {
        tokens_version: refreshed.tokens_version + 1,
        needs_login: true,
        ..refreshed
    };
    assert_eq!(found.unwrap(), Some(expected));
}

async fn storing_login_tokens_clears_needs_login_counts_a_version_and_ends_the_lease(
    db: &TestDatabase,
) {
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let identity = identity_of(ada.id, "github", "gh-1", at(0));
    stores.identities.link_identity(&identity).await.unwrap();
    let holder = Uuid::new_v4();
    let taken = stores
        .identities
        .take_refresh_lease(identity.id, holder, at(10), at(40));
    assert!(taken.await.unwrap());

    let version = stores
        .identities
        .store_login_tokens(
            identity.id,
            Some("new@github.example.test"),
            b"login tokens",
        )
        .await;

    assert_eq!(version.unwrap(), Some(identity.tokens_version + 1));
    let expected = StoredIdentity {
        email: Some("new@github.example.test".to_owned()),
        sealed_tokens: Some(b"login tokens".to_vec()),
        tokens_version: identity.tokens_version + 1,
        needs_login: false,
        ..identity.clone()
    };
    let found = stores.identities.find_identity("github", "gh-1").await;
    assert_eq!(found.unwrap(), Some(expected));
    // The lease ended with it: a refresh begun before the login can no longer store what it
    // got over the login's tokens.
    let stale = stores
        .identities
        .finish_refresh(identity.id, holder, Some(b"stale tokens"), true);
    assert!(!stale.await.unwrap());
    let found = stores.identities.find_identity("github", "gh-1").await;
    assert_eq!(
        found.unwrap().unwrap().sealed_tokens.as_deref(),
        Some(&b"login tokens"[..])
    );
    let unknown = stores
        .identities
        .store_login_tokens(Uuid::new_v4(), None, b"login tokens")
        .await;
    assert_eq!(unknown.unwrap(), None);
}

async fn unlinking_unproven_identities_removes_those_of_that_user_only(db: &TestDatabase) {
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let bob = passwordless_user(&stores, "bob@example.test").await;
    let unproven = identity_of(ada.id, "spotify", "sp-1", at(0));
    let proven = StoredIdentity {
        email_proven: true,
        ..identity_of(ada.id, "github", "gh-1", at(1))
    };
    let bobs = identity_of(bob.id, "spotify", "sp-2", at(2));
    for identity in [&unproven, &proven, &bobs] {
        stores.identities.link_identity(identity).await.unwrap();
    }

    let removed = stores.identities.unlink_unproven(ada.id).await;

    assert_eq!(removed.unwrap(), vec![unproven]);
    assert_eq!(
        stores.identities.user_identities(ada.id).await.unwrap(),
        vec![proven]
    );
    assert_eq!(
        stores.identities.user_identities(bob.id).await.unwrap(),
        vec![bobs]
    );
    assert!(
        stores
            .identities
            .unlink_unproven(ada.id)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn deleting_a_user_deletes_their_identities(db: &TestDatabase) {
    let stores = db.open().await;
    let doomed = passwordless_user(&stores, "doomed@example.test").await;
    let other = passwordless_user(&stores, "other@example.test").await;
    for provider in ["github", "google"] {
        let identity = identity_of(doomed.id, provider, &format!("{provider}-doomed"), at(0));
        stores.identities.link_identity(&identity).await.unwrap();
    }
    let kept = identity_of(other.id, "github", "github-other", at(0));
    stores.identities.link_identity(&kept).await.unwrap();

    assert!(stores.users.delete_user(doomed.id).await.unwrap());

    let left = stores.identities.user_identities(doomed.id).await.unwrap();
    assert_eq!(left, []);
    let gone = stores
        .identities
        .find_identity("github", "github-doomed")
        .await;
    assert_eq!(gone.unwrap(), None);
    let others = stores.identities.user_identities(other.id).await.unwrap();
    assert_eq!(others, [kept]);
    // The subject is free again for a new account.
    let again = new_user("doomed@example.test");
    let relinked = identity_of(again.id, "github", "github-doomed", at(10));
    stores
        .identities
        .create_user_with_identity(&again, &relinked)
        .await
        .unwrap();
}

/// `user`'s passkey with `credential_id`, registered at `created_at` and used a minute later,
/// so that a round trip shows every field is kept.
fn passkey_of(user: UserId, credential_id: &[u8], created_at: OffsetDateTime) -> StoredPasskey {
    StoredPasskey {
        id: Uuid::new_v4(),
        user,
        credential_id: credential_id.to_vec(),
        credential: counted_credential(credential_id, 1),
        name: "Ada's security key".to_owned(),
        created_at,
        last_used_at: Some(created_at + Duration::minutes(1)),
    }
}

/// A stand-in for the WebAuthn library's JSON after `counter` signatures: the store only
/// compares and keeps it.
fn counted_credential(credential_id: &[u8], counter: u32) -> String {
    format!(r#"{{"cred_id":{credential_id:?},"counter":{counter}}}"#)
}

/// A user without a password whose only way in is `identity`'s provider.
async fn user_with_identity(stores: &Stores, address: &str) -> (NewUser, StoredIdentity) {
    let user = passwordless_user(stores, address).await;
    let identity = identity_of(user.id, "github", &format!("gh-{address}"), at(0));
    stores.identities.link_identity(&identity).await.unwrap();
    (user, identity)
}

async fn added_passkeys_are_listed_oldest_first_and_found_by_credential_id_with_every_field(
    db: &TestDatabase,
) {
    // Arrange: the newer passkey is added first, so the listing's order is the store's doing.
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let newer = passkey_of(ada.id, &[0, 1, 2, 254, 255], at(20));
    let older = StoredPasskey {
        last_used_at: None,
        ..passkey_of(ada.id, b"older", at(10))
    };

    // Act
    stores.passkeys.add_passkey(&newer).await.unwrap();
    stores.passkeys.add_passkey(&older).await.unwrap();

    // Assert
    let listed = stores.passkeys.user_passkeys(ada.id).await.unwrap();
    assert_eq!(listed, [older.clone(), newer.clone()]);
    let found = stores.passkeys.find_passkey(&[0, 1, 2, 254, 255]).await;
    assert_eq!(found.unwrap(), Some(newer));
    let found = stores.passkeys.find_passkey(b"older").await;
    assert_eq!(found.unwrap(), Some(older));
    let unknown = stores.passkeys.find_passkey(&[0, 1, 2]).await;
    assert_eq!(unknown.unwrap(), None);
    let nobody = stores.passkeys.user_passkeys(UserId::new()).await;
    assert_eq!(nobody.unwrap(), []);
}

async fn adding_a_passkey_with_a_registered_credential_id_is_a_passkey_conflict_and_writes_nothing(
    db: &TestDatabase,
) {
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let bob = passwordless_user(&stores, "bob@example.test").await;
    let first = passkey_of(ada.id, b"shared", at(10));
    stores.passkeys.add_passkey(&first).await.unwrap();

    let second = stores
        .passkeys
        .add_passkey(&passkey_of(bob.id, b"shared", at(20)))
        .await;

    assert!(is_conflict(&second, Conflict::Passkey), "{second:?}");
    let found = stores.passkeys.find_passkey(b"shared").await;
    assert_eq!(found.unwrap(), Some(first));
    let bobs = stores.passkeys.user_passkeys(bob.id).await.unwrap();
    assert_eq!(bobs, []);
}

async fn adding_a_passkey_with_a_taken_id_is_an_id_conflict(db: &TestDatabase) {
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let first = passkey_of(ada.id, b"first", at(10));
    stores.passkeys.add_passkey(&first).await.unwrap();

    let second = stores
        .passkeys
        .add_passkey(&StoredPasskey {
            id: first.id,
            ..passkey_of(ada.id, b"second", at(20))
        })
        .await;

    assert!(is_conflict(&second, Conflict::Id), "{second:?}");
    let adas = stores.passkeys.user_passkeys(ada.id).await.unwrap();
    assert_eq!(adas, [first]);
}

async fn a_passkey_use_is_recorded_only_over_the_credential_it_read(db: &TestDatabase) {
    // Arrange
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let passkey = StoredPasskey {
        last_used_at: None,
        ..passkey_of(ada.id, b"key", at(0))
    };
    stores.passkeys.add_passkey(&passkey).await.unwrap();
    let read = passkey.credential.clone();
    let (second, third) = (counted_credential(b"key", 2), counted_credential(b"key", 3));

    // Act: two logins read the same credential; the second to store loses.
    let first_login = stores
        .passkeys
        .record_passkey_use(passkey.id, &read, &second, at(10))
        .await;
    let stale_login = stores
        .passkeys
        .record_passkey_use(passkey.id, &read, &third, at(20))
        .await;
    let unknown = stores
        .passkeys
        .record_passkey_use(Uuid::new_v4(), &second, &third, at(20))
        .await;

    // Assert
    assert!(first_login.unwrap());
    assert!(!stale_login.unwrap());
    assert!(!unknown.unwrap());
    let found = stores.passkeys.find_passkey(b"key").await.unwrap();
    let recorded = StoredPasskey {
        credential: second,
        last_used_at: Some(at(10)),
        ..passkey
    };
    assert_eq!(found, Some(recorded));
}

async fn renaming_a_passkey_returns_it_and_leaves_another_users_passkey_alone(db: &TestDatabase) {
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let bob = passwordless_user(&stores, "bob@example.test").await;
    let adas = passkey_of(ada.id, b"ada-key", at(0));
    stores.passkeys.add_passkey(&adas).await.unwrap();

    let renamed = stores
        .passkeys
        .rename_passkey(ada.id, adas.id, "Work laptop")
        .await;
    let by_bob = stores
        .passkeys
        .rename_passkey(bob.id, adas.id, "Mine now")
        .await;
    let unknown = stores
        .passkeys
        .rename_passkey(ada.id, Uuid::new_v4(), "Nothing")
        .await;

    let expected = StoredPasskey {
        name: "Work laptop".to_owned(),
        ..adas
    };
    assert_eq!(renamed.unwrap(), Some(expected.clone()));
    assert_eq!(by_bob.unwrap(), None);
    assert_eq!(unknown.unwrap(), None);
    let found = stores.passkeys.find_passkey(b"ada-key").await;
    assert_eq!(found.unwrap(), Some(expected));
}

async fn removing_a_passkey_of_a_user_with_a_password_removes_it(db: &TestDatabase) {
    let stores = db.open().await;
    let ada = new_user("ada@example.test");
    stores
        .users
        .create_user(&ada, Some(ARGON2_HASH))
        .await
        .unwrap();
    let passkey = passkey_of(ada.id, b"key", at(10));
    stores.passkeys.add_passkey(&passkey).await.unwrap();

    let removed = stores.passkeys.remove_passkey(ada.id, passkey.id).await;

    assert_eq!(removed.unwrap(), PasskeyRemoved::Removed(passkey));
    let left = stores.passkeys.user_passkeys(ada.id).await.unwrap();
    assert_eq!(left, []);
    let found = stores.passkeys.find_passkey(b"key").await;
    assert_eq!(found.unwrap(), None);
}

async fn removing_the_last_way_to_log_in_is_refused_and_keeps_the_passkey(db: &TestDatabase) {
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let only = passkey_of(ada.id, b"only", at(10));
    stores.passkeys.add_passkey(&only).await.unwrap();

    let removed = stores.passkeys.remove_passkey(ada.id, only.id).await;

    assert_eq!(removed.unwrap(), PasskeyRemoved::LastMethod);
    let kept = stores.passkeys.user_passkeys(ada.id).await.unwrap();
    assert_eq!(kept, [only]);
}

async fn removing_a_passkey_of_a_user_with_another_removes_it_and_keeps_the_last(
    db: &TestDatabase,
) {
    let stores = db.open().await;
    let ada = passwordless_user(&stores, "ada@example.test").await;
    let laptop = passkey_of(ada.id, b"laptop", at(10));
    let phone = passkey_of(ada.id, b"phone", at(20));
    stores.passkeys.add_passkey(&laptop).await.unwrap();
    stores.passkeys.add_passkey(&phone).await.unwrap();

    let first = stores.passkeys.remove_passkey(ada.id, laptop.id).await;
    let second = stores.passkeys.remove_passkey(ada.id, phone.id).await;

    assert_eq!(first.unwrap(), PasskeyRemoved::Removed(laptop));
    assert_eq!(second.unwrap(), PasskeyRemoved::LastMethod);
    let left = stores.passkeys.user_passkeys(ada.id).await.unwrap();
    assert_eq!(left, [phone]);
}

async fn removing_a_passkey_the_user_does_not_have_finds_nothing(db: &TestDatabase) {
    let stores = db.open().await;
    let ada = new_user("ada@example.test");
    stores
        .users
        .create_user(&ada, Some(ARGON2_HASH))
        .await
        .unwrap();
    let bob = new_user("bob@example.test");
    stores
        .users
        .create_user(&bob, Some(ARGON2_HASH))
        .await
        .unwrap();
    let bobs = passkey_of(bob.id, b"bob-key", at(10));
    stores.passkeys.add_passkey(&bobs).await.unwrap();

    let unknown_id = stores.passkeys.remove_passkey(ada.id, Uuid::new_v4()).await;
    let another_users = stores.passkeys.remove_passkey(ada.id, bobs.id).await;
    let unknown_user = stores.passkeys.remove_passkey(UserId::new(), bobs.id).await;

    assert_eq!(unknown_id.unwrap(), PasskeyRemoved::NotFound);
    assert_eq!(another_users.unwrap(), PasskeyRemoved::NotFound);
    assert_eq!(unknown_user.unwrap(), PasskeyRemoved::NotFound);
    let kept = stores.passkeys.find_passkey(b"bob-key").await;
    assert_eq!(kept.unwrap(), Some(bobs));
}

async fn removing_a_passkey_leaves_an_identity_that_is_then_the_last_way_in(db: &TestDatabase) {
    let stores = db.open().await;
    let (ada, identity) = user_with_identity(&stores, "ada@example.test").await;
    let passkey = passkey_of(ada.id, b"key", at(10));
    stores.passkeys.add_passkey(&passkey).await.unwrap();

    let removed = stores.passkeys.remove_passkey(ada.id, passkey.id).await;
    let unlinked = stores.identities.unlink_identity(ada.id, "github").await;

    assert_eq!(removed.unwrap(), PasskeyRemoved::Removed(passkey));
    assert_eq!(unlinked.unwrap(), Unlinked::LastMethod);
    let identities = stores.identities.user_identities(ada.id).await.unwrap();
    assert_eq!(identities, [identity]);
}

async fn unlinking_an_identity_leaves_a_passkey_that_is_then_the_last_way_in(db: &TestDatabase) {
    let stores = db.open().await;
    let (ada, identity) = user_with_identity(&stores, "ada@example.test").await;
    let passkey = passkey_of(ada.id, b"key", at(10));
    stores.passkeys.add_passkey(&passkey).await.unwrap();

    let unlinked = stores.identities.unlink_identity(ada.id, "github").await;
    let removed = stores.passkeys.remove_passkey(ada.id, passkey.id).await;

    assert_eq!(unlinked.unwrap(), Unlinked::Removed(identity));
    assert_eq!(removed.unwrap(), PasskeyRemoved::LastMethod);
    let passkeys = stores.passkeys.user_passkeys(ada.id).await.unwrap();
    assert_eq!(passkeys, [passkey]);
}

async fn of_two_concurrent_removals_of_a_users_last_two_passkeys_exactly_one_succeeds(
    db: &TestDatabase,
) {
    // Arrange: several password-less users with two passkeys each, so the race is run
    // several times; each removal runs on its own pooled connection.
    let stores = db.open().await;
    let mut users = Vec::new();
    for n in 0..10 {
        let user = passwordless_user(&stores, &format!("race{n}@example.test")).await;
        let laptop = passkey_of(user.id, format!("laptop-{n}").as_bytes(), at(n));
        let phone = passkey_of(user.id, format!("phone-{n}").as_bytes(), at(n));
        for passkey in [&laptop, &phone] {
            stores.passkeys.add_passkey(passkey).await.unwrap();
        }
        users.push((user, laptop, phone));
    }

    for (user, laptop, phone) in users {
        // Act
        let (laptop, phone) = tokio::join!(
            stores.passkeys.remove_passkey(user.id, laptop.id),
            stores.passkeys.remove_passkey(user.id, phone.id),
        );

        // Assert
        let outcomes = [laptop.unwrap(), phone.unwrap()];
        let removed = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, PasskeyRemoved::Removed(_)))
            .count();
        let refused = outcomes
            .iter()
            .filter(|outcome| **outcome == PasskeyRemoved::LastMethod)
            .count();
        assert_eq!((removed, refused), (1, 1), "{outcomes:?}");
        let left = stores.passkeys.user_passkeys(user.id).await.unwrap();
        assert_eq!(left.len(), 1, "{left:?}");
    }
}

async fn of_a_concurrent_passkey_removal_and_unlink_of_a_users_last_two_ways_in_exactly_one_succeeds(
    db: &TestDatabase,
) {
    // Arrange: several password-less users with an identity and a passkey each.
    let stores = db.open().await;
    let mut users = Vec::new();
    for n in 0..10 {
        let (user, _) = user_with_identity(&stores, &format!("race{n}@example.test")).await;
        let passkey = passkey_of(user.id, format!("key-{n}").as_bytes(), at(n));
        stores.passkeys.add_passkey(&passkey).await.unwrap();
        users.push((user, passkey));
    }

    for (user, passkey) in users {
        // Act
        let (removed, unlinked) = tokio::join!(
            stores.passkeys.remove_passkey(user.id, passkey.id),
            stores.identities.unlink_identity(user.id, "github"),
        );

        // Assert
        let outcomes = (removed.unwrap(), unlinked.unwrap());
        let one_removed_one_refused = matches!(
            outcomes,
            (PasskeyRemoved::Removed(_), Unlinked::LastMethod)
                | (PasskeyRemoved::LastMethod, Unlinked::Removed(_))
        );
        assert!(one_removed_one_refused, "{outcomes:?}");
        let passkeys = stores.passkeys.user_passkeys(user.id).await.unwrap();
        let identities = stores.identities.user_identities(user.id).await.unwrap();
        assert_eq!(passkeys.len() + identities.len(), 1);
    }
}

async fn deleting_a_user_deletes_their_passkeys(db: &TestDatabase) {
    let stores = db.open().await;
    let doomed = passwordless_user(&stores, "doomed@example.test").await;
    let other = passwordless_user(&stores, "other@example.test").await;
    for name in ["laptop", "phone"] {
        let passkey = passkey_of(doomed.id, format!("{name}-doomed").as_bytes(), at(0));
        stores.passkeys.add_passkey(&passkey).await.unwrap();
    }
    let kept = passkey_of(other.id, b"laptop-other", at(0));
    stores.passkeys.add_passkey(&kept).await.unwrap();

    assert!(stores.users.delete_user(doomed.id).await.unwrap());

    let left = stores.passkeys.user_passkeys(doomed.id).await.unwrap();
    assert_eq!(left, []);
    let gone = stores.passkeys.find_passkey(b"laptop-doomed").await;
    assert_eq!(gone.unwrap(), None);
    let others = stores.passkeys.user_passkeys(other.id).await.unwrap();
    assert_eq!(others, [kept]);
    // The credential id is free again for a new account.
    let again = passwordless_user(&stores, "doomed@example.test").await;
    let registered = passkey_of(again.id, b"laptop-doomed", at(10));
    stores.passkeys.add_passkey(&registered).await.unwrap();
}

async fn ping_succeeds_on_an_open_database(db: &TestDatabase) {
    let stores = db.open().await;

    let ping = stores.health.ping().await;

    assert!(ping.is_ok(), "{ping:?}");
}

async fn reopening_a_database_keeps_its_data(db: &TestDatabase) {
    let new = new_user("durable@example.test");
    {
        let stores = db.open().await;
        stores
            .users
            .create_user(&new, Some(ARGON2_HASH))
            .await
            .unwrap();
    }

    let reopened = db.open().await;

    let found = reopened.users.find_by_email(&new.email).await.unwrap();
    assert_eq!(found.unwrap().password_hash.as_deref(), Some(ARGON2_HASH));
}

async fn several_processes_opening_a_new_database_at_once_all_succeed(db: &TestDatabase) {
    // Pools opened in parallel tasks stand in for processes: each runs the migrations against
    // the same, still empty database; the losers must wait and then find nothing to apply.
    // Spawning also proves that `open` is `Send`, as the server needs.
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let (url, data_dir) = (db.url.clone(), db.data_dir().to_owned());
            tokio::spawn(async move { tessera_store::open(&url, &data_dir).await })
        })
        .collect();
    let mut opened = Vec::new();
    for opener in openers {
        opened.push(opener.await.unwrap().expect("every opener succeeds"));
    }

    let new = new_user("shared@example.test");
    opened[0].users.create_user(&new, None).await.unwrap();
    for stores in &opened {
        let seen = stores.users.find_by_id(new.id).await.unwrap();
        assert_eq!(seen.map(|found| found.user.id), Some(new.id));
    }
}

mod sqlite_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sqlite_url_opens_the_same_file_as_the_data_directory_default() {
        let db = TestDatabase::sqlite().await;
        let stores = db.open().await;
        let new = new_user("file@example.test");
        stores.users.create_user(&new, None).await.unwrap();
        let url = format!("sqlite://{}", db.data_dir().join("tessera.db").display());

        let by_url = tessera_store::open(&url, db.data_dir()).await.unwrap();

        let found = by_url.users.find_by_id(new.id).await.unwrap();
        assert_eq!(found.map(|found| found.user.id), Some(new.id));
    }
}

mod postgres_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_database_that_went_away_reports_unavailable_instead_of_hanging() {
        let db = TestDatabase::postgres().await;
        let stores = db.open().await;
        db.drop_postgres_database();

        let ping = stores.health.ping().await;
        let find = stores.users.find_by_id(UserId::new()).await;

        assert!(matches!(ping, Err(StoreError::Unavailable(_))), "{ping:?}");
        assert!(matches!(find, Err(StoreError::Unavailable(_))), "{find:?}");
    }
}
