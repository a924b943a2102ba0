//! The store contract: one suite written against the core's port traits and run, case by
//! case, for SQLite and PostgreSQL. Every test gets its own fresh database.
// The cases are plain async fns called by generated tests, which clippy does not see as tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod databases;

use std::collections::BTreeSet;

use databases::TestDatabase;
use tessera_core::account::{Email, NewUser, Role, User};
use tessera_core::ports::StoredKey;
use tessera_core::session::Session;
use tessera_core::{Conflict, SessionId, StoreError, UserId};
use time::{Duration, OffsetDateTime};

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
    creating_a_user_with_a_taken_id_is_an_id_conflict,
    unknown_emails_and_ids_find_nothing,
    timestamps_keep_microseconds_and_drop_nanoseconds,
    set_name_returns_the_updated_user_and_none_for_an_unknown_id,
    set_roles_returns_the_updated_user_with_roles_in_the_given_order,
    set_disabled_returns_the_updated_user_and_none_for_an_unknown_id,
    set_password_hash_gives_a_user_without_a_password_one,
    set_password_hash_replaces_an_existing_hash,
    set_password_hash_for_an_unknown_user_creates_nothing,
    a_password_hash_that_is_neither_argon2_nor_bcrypt_is_refused,
    deleting_a_user_deletes_their_sessions_and_password,
    deleting_an_unknown_user_reports_false,
    list_users_pages_through_users_in_id_order_after_the_given_id,
    a_created_session_is_found_with_every_field,
    creating_a_session_with_a_taken_id_is_an_id_conflict,
    revoking_a_users_sessions_keeps_the_given_one_and_returns_the_others,
    revoking_with_nothing_to_keep_ends_every_live_session_of_the_user,
    revoked_sessions_are_not_found_and_not_revoked_again,
    adding_a_signing_key_retires_the_others_at_its_creation_time,
    adding_a_signing_key_with_a_taken_kid_is_an_id_conflict_and_retires_nothing,
    pruning_deletes_only_keys_retired_before_the_cutoff,
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
    }
}

fn signing_key(kid: &str, created_at: OffsetDateTime) -> StoredKey {
    StoredKey {
        kid: kid.to_owned(),
        algorithm: "EdDSA".to_owned(),
        sealed_private_key: vec![0, 1, 2, 254, 255, kid.len() as u8],
        public_jwk: format!(r#"{{"kty":"OKP","crv":"Ed25519","kid":"{kid}","x":"AAAA"}}"#),
        created_at,
        retired_at: None,
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
        .create_session(&doomed_session)
        .await
        .unwrap();
    stores
        .sessions
        .create_session(&other_session)
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
    let first = stores.users.list_users(None, 2).await.unwrap();
    let second = stores.users.list_users(Some(ids[1]), 2).await.unwrap();
    let last = stores.users.list_users(Some(ids[3]), 2).await.unwrap();
    let past_the_end = stores.users.list_users(Some(ids[4]), 2).await.unwrap();
    let everything = stores.users.list_users(None, 100).await.unwrap();

    // Assert
    assert_eq!(ids_of(first), ids[0..2]);
    assert_eq!(ids_of(second), ids[2..4]);
    assert_eq!(ids_of(last), ids[4..5]);
    assert!(past_the_end.is_empty());
    assert_eq!(ids_of(everything), ids);
}

async fn a_created_session_is_found_with_every_field(db: &TestDatabase) {
    let stores = db.open().await;
    let user = new_user("sessions@example.test");
    stores.users.create_user(&user, None).await.unwrap();
    let session = session_of(user.id, at(30));
    let bare = Session {
        device_name: None,
        user_agent: None,
        ip: None,
        ..session_of(user.id, at(40))
    };

    stores.sessions.create_session(&session).await.unwrap();
    stores.sessions.create_session(&bare).await.unwrap();

    let found = stores.sessions.find_session(session.id).await.unwrap();
    assert_eq!(found, Some(session));
    let found = stores.sessions.find_session(bare.id).await.unwrap();
    assert_eq!(found, Some(bare));
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
    stores.sessions.create_session(&session).await.unwrap();

    let again = stores.sessions.create_session(&session).await;

    assert!(is_conflict(&again, Conflict::Id), "{again:?}");
}

async fn revoking_a_users_sessions_keeps_the_given_one_and_returns_the_others(db: &TestDatabase) {
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
        stores.sessions.create_session(session).await.unwrap();
    }

    // Act
    let revoked = stores
        .sessions
        .revoke_user_sessions(ada.id, Some(current.id), "password_changed", at(100))
        .await
        .unwrap();

    // Assert
    let revoked: BTreeSet<SessionId> = revoked.into_iter().collect();
    assert_eq!(revoked, BTreeSet::from([laptop.id, phone.id]));
    let find = |id| stores.sessions.find_session(id);
    assert_eq!(find(current.id).await.unwrap(), Some(current.clone()));
    assert_eq!(find(bobs.id).await.unwrap(), Some(bobs.clone()));
    assert!(find(laptop.id).await.unwrap().is_none());
    assert!(find(phone.id).await.unwrap().is_none());
}

async fn revoking_with_nothing_to_keep_ends_every_live_session_of_the_user(db: &TestDatabase) {
    let stores = db.open().await;
    let user = new_user("everywhere@example.test");
    stores.users.create_user(&user, None).await.unwrap();
    let sessions = [session_of(user.id, at(1)), session_of(user.id, at(2))];
    for session in &sessions {
        stores.sessions.create_session(session).await.unwrap();
    }

    let revoked = stores
        .sessions
        .revoke_user_sessions(user.id, None, "logout_all", at(100))
        .await
        .unwrap();

    let revoked: BTreeSet<SessionId> = revoked.into_iter().collect();
    assert_eq!(revoked, sessions.iter().map(|s| s.id).collect());
    for session in &sessions {
        assert!(
            stores
                .sessions
                .find_session(session.id)
                .await
                .unwrap()
                .is_none()
        );
    }
}

async fn revoked_sessions_are_not_found_and_not_revoked_again(db: &TestDatabase) {
    let stores = db.open().await;
    let user = new_user("revoked@example.test");
    stores.users.create_user(&user, None).await.unwrap();
    let session = session_of(user.id, at(1));
    stores.sessions.create_session(&session).await.unwrap();
    let first = stores
        .sessions
        .revoke_user_sessions(user.id, None, "disabled", at(100))
        .await
        .unwrap();

    let second = stores
        .sessions
        .revoke_user_sessions(user.id, None, "disabled", at(200))
        .await
        .unwrap();

    assert_eq!(first, vec![session.id]);
    assert!(second.is_empty());
    assert!(
        stores
            .sessions
            .find_session(session.id)
            .await
            .unwrap()
            .is_none()
    );
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
