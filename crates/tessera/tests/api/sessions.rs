//! Sessions: refresh rotation with its grace window and reuse detection, idle and absolute
//! lifetimes, logout, the per-device list, concurrency, restarts and disabled users.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_core::Clock;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::both_backends;
use crate::helpers::{
    Backend, TestApp, assert_problem, eventually, jwt_claims, spawn_app, spawn_app_pruning_every,
    spawn_app_with, text,
};

both_backends!(
    login_and_signup_return_a_url_safe_refresh_token_and_its_lifetime,
    a_refresh_rotates_the_refresh_token_and_issues_a_working_access_token,
    the_previous_token_inside_the_grace_window_gets_the_same_successor,
    reusing_the_previous_token_after_the_grace_window_ends_the_session,
    a_token_two_generations_old_is_reuse_even_inside_the_grace_window,
    with_a_zero_grace_window_the_previous_token_is_reuse_at_once,
    garbage_truncated_and_unknown_refresh_tokens_are_invalid_and_end_nothing,
    a_session_unused_for_its_idle_lifetime_ends,
    a_refresh_extends_the_idle_lifetime,
    a_session_ends_at_its_absolute_lifetime_however_recently_refreshed,
    logout_ends_only_the_current_session,
    logout_all_ends_every_session_of_the_user,
    sessions_are_listed_newest_first_with_the_callers_marked_current,
    a_user_can_end_another_of_their_own_sessions,
    ending_another_users_session_is_not_found_and_it_keeps_working,
    ending_an_unknown_or_malformed_session_id_is_not_found,
    fifty_concurrent_refreshes_with_one_token_all_get_the_same_successor,
    a_restart_keeps_keys_sessions_and_revocations,
    disabling_a_user_revokes_their_tokens_and_ends_their_refresh,
    ended_sessions_and_moot_revocations_are_pruned_while_live_ones_stay,
);

// ---------------------------------------------------------------------------------------------
// Rotation

async fn login_and_signup_return_a_url_safe_refresh_token_and_its_lifetime(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let login = app.login_again(&user).await;

    // Assert
    for token in [user.refresh_token.as_str(), text(&login, "refresh_token")] {
        assert!(token.len() >= 43, "at least 256 bits: {token}");
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "URL-safe: {token}"
        );
    }
    assert_ne!(text(&login, "refresh_token"), user.refresh_token);
    assert_eq!(login["refresh_expires_in"], 30 * 86_400);
    assert_eq!(login["token_type"], "Bearer");
}

async fn a_refresh_rotates_the_refresh_token_and_issues_a_working_access_token(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    app.advance(Duration::from_secs(60));

    // Act
    let response = app
        .post_refresh(&json!({ "refresh_token": user.refresh_token }))
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let next = text(&body, "refresh_token");
    assert_ne!(next, user.refresh_token, "rotated");
    assert!(next.len() >= 43);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_lifetime(&body, 30 * 86_400);
    assert_eq!(body["session_id"], user.session_id.as_str());
    assert_eq!(body["user"]["id"], user.id.as_str());
    let access = text(&body, "access_token");
    assert_ne!(access, user.access_token);
    let claims = jwt_claims(access);
    assert_eq!(claims["sid"], user.session_id.as_str());
    assert_eq!(claims["iat"], app.clock.unix());
    let me = app.get_me(access).await;
    assert_eq!(me.status(), StatusCode::OK);
    // The old token is no longer the current one: once its successor has been rotated too,
    // presenting it is reuse.
    let after = app.refresh(next).await;
    assert_ne!(text(&after, "refresh_token"), next);
    let old = app
        .post_refresh(&json!({ "refresh_token": user.refresh_token }))
        .await;
    assert_problem(old, 401, "refresh_reused").await;
}

async fn the_previous_token_inside_the_grace_window_gets_the_same_successor(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let first = app.refresh(&user.refresh_token).await;
    app.advance(Duration::from_secs(5));

    // Act
    let again = app
        .post_refresh(&json!({ "refresh_token": user.refresh_token }))
        .await;

    // Assert
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["cache-control"], "no-store");
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        again["refresh_token"], first["refresh_token"],
        "the same successor, so concurrent tabs do not fork the session"
    );
    let access = text(&again, "access_token");
    assert_ne!(
        jwt_claims(access)["jti"],
        jwt_claims(text(&first, "access_token"))["jti"],
        "a fresh access token"
    );
    assert_eq!(app.get_me(access).await.status(), StatusCode::OK);
    // The session did not fork: the successor rotates normally.
    let next = app.refresh(text(&first, "refresh_token")).await;
    assert_ne!(next["refresh_token"], first["refresh_token"]);
    assert_eq!(
        app.get_me(text(&next, "access_token")).await.status(),
        StatusCode::OK
    );
}

async fn reusing_the_previous_token_after_the_grace_window_ends_the_session(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let second = app.refresh(&user.refresh_token).await;
    let reuses_before = reuse_count(&app).await;
    app.advance(Duration::from_secs(11));

    // Act
    let reuse = app
        .post_refresh(&json!({ "refresh_token": user.refresh_token }))
        .await;

    // Assert
    assert_problem(reuse, 401, "refresh_reused").await;
    let current = app
        .post_refresh(&json!({ "refresh_token": second["refresh_token"] }))
        .await;
    assert_problem(current, 401, "refresh_invalid").await;
    for access in [user.access_token.as_str(), text(&second, "access_token")] {
        assert_problem(app.get_me(access).await, 401, "token_revoked").await;
    }
    let reuses_after = reuse_count(&app).await;
    assert!(
        reuses_after > reuses_before,
        "tessera_refresh_reuse_total went from {reuses_before} to {reuses_after}"
    );
}

async fn a_token_two_generations_old_is_reuse_even_inside_the_grace_window(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let second = app.refresh(&user.refresh_token).await;
    let third = app.refresh(text(&second, "refresh_token")).await;

    // Act
    let reuse = app
        .post_refresh(&json!({ "refresh_token": user.refresh_token }))
        .await;

    // Assert
    assert_problem(reuse, 401, "refresh_reused").await;
    let current = app
        .post_refresh(&json!({ "refresh_token": third["refresh_token"] }))
        .await;
    assert_problem(current, 401, "refresh_invalid").await;
    assert_problem(
        app.get_me(text(&third, "access_token")).await,
        401,
        "token_revoked",
    )
    .await;
}

async fn with_a_zero_grace_window_the_previous_token_is_reuse_at_once(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, |s| s.tokens.refresh_reuse_grace = Duration::ZERO).await;
    let user = app.signup_test_user().await;
    let second = app.refresh(&user.refresh_token).await;

    // Act
    let reuse = app
        .post_refresh(&json!({ "refresh_token": user.refresh_token }))
        .await;

    // Assert
    assert_problem(reuse, 401, "refresh_reused").await;
    assert_problem(
        app.get_me(text(&second, "access_token")).await,
        401,
        "token_revoked",
    )
    .await;
}

async fn garbage_truncated_and_unknown_refresh_tokens_are_invalid_and_end_nothing(
    backend: Backend,
) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let real = URL_SAFE_NO_PAD.decode(&user.refresh_token).unwrap();
    let mut wrong_secret = real.clone();
    *wrong_secret.last_mut().unwrap() ^= 1;
    let mut later_generation = real.clone();
    later_generation[23] = later_generation[23].wrapping_add(1);
    let unknown: Vec<u8> = (0..real.len()).map(|_| rand::random::<u8>()).collect();
    let cases = [
        ("garbage".to_owned(), "garbage"),
        (String::new(), "empty"),
        (
            user.refresh_token[..user.refresh_token.len() - 4].to_owned(),
            "truncated",
        ),
        (format!("{}A", user.refresh_token), "one character longer"),
        (URL_SAFE_NO_PAD.encode(&unknown), "unknown session"),
        (
            URL_SAFE_NO_PAD.encode(&wrong_secret),
            "this session, wrong secret",
        ),
        (
            URL_SAFE_NO_PAD.encode(&later_generation),
            "this session, a generation never issued",
        ),
        ("A".repeat(10_000), "10,000 characters"),
        (user.access_token.clone(), "an access token"),
    ];

    for (token, why) in &cases {
        // Act
        let response = app.post_refresh(&json!({ "refresh_token": token })).await;

        // Assert
        assert_eq!(response.status().as_u16(), 401, "{why}");
        let body = assert_problem(response, 401, "refresh_invalid").await;
        assert!(!body.to_string().contains(token.as_str()) || token.is_empty());
    }
    assert_eq!(
        app.get_me(&user.access_token).await.status(),
        StatusCode::OK,
        "nothing ended"
    );
    let next = app.refresh(&user.refresh_token).await;
    assert_eq!(
        app.get_me(text(&next, "access_token")).await.status(),
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------------
// Lifetimes

async fn a_session_unused_for_its_idle_lifetime_ends(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, |s| {
        s.tokens.refresh_idle_ttl = Duration::from_secs(3_600);
    })
    .await;
    let user = app.signup_test_user().await;
    app.advance(Duration::from_secs(61 * 60));

    // Act
    let response = app
        .post_refresh(&json!({ "refresh_token": user.refresh_token }))
        .await;

    // Assert
    assert_problem(response, 401, "refresh_invalid").await;
    let listed = sessions_of(&app, &app.login_again(&user).await).await;
    assert_eq!(
        listed.len(),
        1,
        "the idle session is not listed: {listed:?}"
    );
}

async fn a_refresh_extends_the_idle_lifetime(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, |s| {
        s.tokens.refresh_idle_ttl = Duration::from_secs(3_600);
    })
    .await;
    let user = app.signup_test_user().await;
    app.advance(Duration::from_secs(50 * 60));
    let second = app.refresh(&user.refresh_token).await;
    assert_lifetime(&second, 3_600);

    // Act: 100 minutes after login, 50 after the last refresh
    app.advance(Duration::from_secs(50 * 60));
    let response = app
        .post_refresh(&json!({ "refresh_token": second["refresh_token"] }))
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let third: Value = response.json().await.unwrap();
    assert_eq!(
        app.get_me(text(&third, "access_token")).await.status(),
        StatusCode::OK
    );
    app.advance(Duration::from_secs(61 * 60));
    let expired = app
        .post_refresh(&json!({ "refresh_token": third["refresh_token"] }))
        .await;
    assert_problem(expired, 401, "refresh_invalid").await;
}

async fn a_session_ends_at_its_absolute_lifetime_however_recently_refreshed(backend: Backend) {
    // Arrange: idle 1 h, absolute 2 h; refreshed at 50, 100 and 110 minutes
    let app = spawn_app_with(backend, |s| {
        s.tokens.refresh_idle_ttl = Duration::from_secs(3_600);
        s.tokens.refresh_absolute_ttl = Duration::from_secs(7_200);
    })
    .await;
    let user = app.signup_test_user().await;
    let created = jwt_claims(&user.access_token)["iat"].as_i64().unwrap();
    let end = created + 7_200;
    let mut token = user.refresh_token.clone();
    let mut last = Value::Null;
    for minutes in [50, 50, 10] {
        app.advance(Duration::from_secs(minutes * 60));
        last = app.refresh(&token).await;
        token = text(&last, "refresh_token").to_owned();
        let exp = jwt_claims(text(&last, "access_token"))["exp"]
            .as_i64()
            .unwrap();
        assert!(
            exp <= end,
            "an access token never outlives its session: exp {exp}, end {end}"
        );
    }
    assert_eq!(
        jwt_claims(text(&last, "access_token"))["exp"],
        end,
        "refreshed 10 minutes before the end, the access token ends with the session"
    );
    // The idle lifetime is capped by the absolute end.
    assert_lifetime(&last, 600);

    // Act: 2 h and 1 s after login, 10 minutes after the last refresh
    app.advance(Duration::from_secs(10 * 60 + 1));
    let response = app.post_refresh(&json!({ "refresh_token": token })).await;

    // Assert
    assert_problem(response, 401, "refresh_invalid").await;
}

// ---------------------------------------------------------------------------------------------
// Logout and the list of sessions

async fn logout_ends_only_the_current_session(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let other = app.login_again(&user).await;

    // Act
    let response = app.post_logout(&user.access_token).await;

    // Assert
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get_me(&user.access_token).await, 401, "token_revoked").await;
    let refresh = app
        .post_refresh(&json!({ "refresh_token": user.refresh_token }))
        .await;
    assert_problem(refresh, 401, "refresh_invalid").await;
    assert_problem(
        app.post_logout(&user.access_token).await,
        401,
        "token_revoked",
    )
    .await;
    assert_eq!(
        app.get_me(text(&other, "access_token")).await.status(),
        StatusCode::OK,
        "another session of the same user keeps working"
    );
    let next = app.refresh(text(&other, "refresh_token")).await;
    assert_eq!(
        app.get_me(text(&next, "access_token")).await.status(),
        StatusCode::OK
    );
}

async fn logout_all_ends_every_session_of_the_user(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let second = app.login_again(&user).await;
    let third = app.login_again(&user).await;
    let stranger = app.signup_test_user().await;
    let sessions = [
        (user.access_token.clone(), user.refresh_token.clone()),
        (
            text(&second, "access_token").to_owned(),
            text(&second, "refresh_token").to_owned(),
        ),
        (
            text(&third, "access_token").to_owned(),
            text(&third, "refresh_token").to_owned(),
        ),
    ];

    // Act
    let response = app.post_logout_all(text(&second, "access_token")).await;

    // Assert
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for (access, refresh) in &sessions {
        assert_problem(app.get_me(access).await, 401, "token_revoked").await;
        let refreshed = app.post_refresh(&json!({ "refresh_token": refresh })).await;
        assert_problem(refreshed, 401, "refresh_invalid").await;
    }
    assert_eq!(
        app.get_me(&stranger.access_token).await.status(),
        StatusCode::OK,
        "other users keep their sessions"
    );
    app.refresh(&stranger.refresh_token).await;
}

async fn sessions_are_listed_newest_first_with_the_callers_marked_current(backend: Backend) {
    // Arrange: three logins a minute apart, the second with a device name and a user agent
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    app.advance(Duration::from_secs(60));
    let laptop: Value = app
        .client
        .post(app.url("/auth/login"))
        .header("user-agent", "TesseraTests/2.0")
        .json(&json!({ "email": user.email, "password": user.password, "device_name": "Laptop" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app.advance(Duration::from_secs(60));
    let phone = app.login_again(&user).await;

    // Act
    let response = app.get_sessions(text(&laptop, "access_token")).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let listed: Vec<Value> = response.json().await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| text(s, "id")).collect();
    assert_eq!(
        ids,
        [
            text(&phone, "session_id"),
            text(&laptop, "session_id"),
            user.session_id.as_str()
        ],
        "newest first"
    );
    let current: Vec<bool> = listed
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(
        current,
        [false, true, false],
        "only the caller's is current"
    );
    let entry = &listed[1];
    assert_eq!(entry["device_name"], "Laptop");
    assert_eq!(entry["user_agent"], "TesseraTests/2.0");
    assert_eq!(entry["ip"], "127.0.0.1");
    for session in &listed {
        for field in [
            "id",
            "device_name",
            "user_agent",
            "ip",
            "created_at",
            "last_used_at",
            "current",
        ] {
            assert!(session.get(field).is_some(), "{field} missing in {session}");
        }
        assert_eq!(
            session["last_used_at"], session["created_at"],
            "unused so far: {session}"
        );
    }
    assert_eq!(
        timestamp(&listed[1], "created_at") - timestamp(&listed[2], "created_at"),
        time::Duration::minutes(1)
    );

    // A refresh moves last_used_at; a logout removes the session from the list.
    app.advance(Duration::from_secs(5 * 60));
    app.refresh(&user.refresh_token).await;
    assert_eq!(
        app.post_logout(text(&phone, "access_token")).await.status(),
        StatusCode::NO_CONTENT
    );
    let listed = sessions_of(&app, &laptop).await;
    let ids: Vec<&str> = listed.iter().map(|s| text(s, "id")).collect();
    assert_eq!(
        ids,
        [text(&laptop, "session_id"), user.session_id.as_str()],
        "the ended session is gone"
    );
    let refreshed = &listed[1];
    assert_eq!(
        timestamp(refreshed, "last_used_at") - timestamp(refreshed, "created_at"),
        time::Duration::minutes(7),
        "{refreshed}"
    );
    assert_eq!(listed[0]["last_used_at"], listed[0]["created_at"]);
}

async fn a_user_can_end_another_of_their_own_sessions(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let other = app.login_again(&user).await;

    // Act
    let response = app
        .delete_session(&user.access_token, text(&other, "session_id"))
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get_me(text(&other, "access_token")).await,
        401,
        "token_revoked",
    )
    .await;
    let refresh = app
        .post_refresh(&json!({ "refresh_token": other["refresh_token"] }))
        .await;
    assert_problem(refresh, 401, "refresh_invalid").await;
    assert_eq!(
        app.get_me(&user.access_token).await.status(),
        StatusCode::OK
    );
    let listed = sessions_of_token(&app, &user.access_token).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], user.session_id.as_str());
    let again = app
        .delete_session(&user.access_token, text(&other, "session_id"))
        .await;
    assert_problem(again, 404, "not_found").await;
}

async fn ending_another_users_session_is_not_found_and_it_keeps_working(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let victim = app.signup_test_user().await;
    let attacker = app.signup_test_user().await;

    // Act
    let response = app
        .delete_session(&attacker.access_token, &victim.session_id)
        .await;

    // Assert
    assert_problem(response, 404, "not_found").await;
    assert_eq!(
        app.get_me(&victim.access_token).await.status(),
        StatusCode::OK
    );
    app.refresh(&victim.refresh_token).await;
}

async fn ending_an_unknown_or_malformed_session_id_is_not_found(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let unknown = uuid::Uuid::now_v7().to_string();

    for id in [unknown.as_str(), "not-a-session-id", "1", "%20"] {
        // Act
        let response = app.delete_session(&user.access_token, id).await;

        // Assert
        assert_eq!(response.status().as_u16(), 404, "{id}");
        assert_problem(response, 404, "not_found").await;
    }
    assert_eq!(
        app.get_me(&user.access_token).await.status(),
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency, restarts, disabled users

async fn fifty_concurrent_refreshes_with_one_token_all_get_the_same_successor(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let url = app.url("/auth/refresh");

    // Act
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let client = app.client.clone();
            let url = url.clone();
            let body = json!({ "refresh_token": user.refresh_token });
            tokio::spawn(async move {
                let response = client.post(url).json(&body).send().await.unwrap();
                let status = response.status();
                (status, response.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }

    // Assert
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
    }
    let successor = text(&answers[0].1, "refresh_token").to_owned();
    assert_ne!(successor, user.refresh_token);
    for (_, body) in &answers {
        assert_eq!(body["refresh_token"], successor.as_str(), "no fork");
        assert_eq!(body["session_id"], user.session_id.as_str());
    }
    assert_eq!(
        app.get_me(text(&answers[49].1, "access_token"))
            .await
            .status(),
        StatusCode::OK
    );
    let next = app.refresh(&successor).await;
    assert_ne!(next["refresh_token"], successor.as_str());
    assert_eq!(
        app.get_me(text(&next, "access_token")).await.status(),
        StatusCode::OK
    );
}

async fn a_restart_keeps_keys_sessions_and_revocations(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let leaver = app.signup_test_user().await;
    assert_eq!(
        app.post_logout(&leaver.access_token).await.status(),
        StatusCode::NO_CONTENT
    );

    // Act
    let app = app.restart().await;

    // Assert
    assert_eq!(
        app.get_me(&user.access_token).await.status(),
        StatusCode::OK,
        "the signing keys come back from the database"
    );
    let next = app.refresh(&user.refresh_token).await;
    assert_eq!(
        app.get_me(text(&next, "access_token")).await.status(),
        StatusCode::OK
    );
    assert_problem(
        app.get_sessions(&leaver.access_token).await,
        401,
        "token_revoked",
    )
    .await;
    let refresh = app
        .post_refresh(&json!({ "refresh_token": leaver.refresh_token }))
        .await;
    assert_problem(refresh, 401, "refresh_invalid").await;
}

async fn disabling_a_user_revokes_their_tokens_and_ends_their_refresh(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let bystander = app.signup_test_user().await;

    // Act: another process (the CLI) disables the user
    let disabled = app.cli(&["user", "disable", &user.id]).await;

    // Assert
    assert!(disabled.status.success(), "{disabled:?}");
    // `/auth/sessions` checks only the in-memory deny-set, which learns of the disable from the
    // feed the server reads back every second.
    eventually(Duration::from_secs(5), "the token is revoked", || {
        let (app, token) = (&app, user.access_token.as_str());
        async move {
            let status = app.get_sessions(token).await.status();
            (status == StatusCode::UNAUTHORIZED).then_some(())
        }
    })
    .await;
    assert_problem(
        app.get_sessions(&user.access_token).await,
        401,
        "token_revoked",
    )
    .await;
    assert_problem(app.get_me(&user.access_token).await, 401, "token_revoked").await;
    let refresh = app
        .post_refresh(&json!({ "refresh_token": user.refresh_token }))
        .await;
    assert_problem(refresh, 401, "refresh_invalid").await;
    assert_eq!(
        app.get_sessions(&bystander.access_token).await.status(),
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The live sessions as seen with the access token of `login` (a token response).
async fn sessions_of(app: &TestApp, login: &Value) -> Vec<Value> {
    sessions_of_token(app, text(login, "access_token")).await
}

async fn sessions_of_token(app: &TestApp, access_token: &str) -> Vec<Value> {
    let response = app.get_sessions(access_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// `refresh_expires_in` of a token response is `seconds`, give or take the sub-second part
/// lost to the database's microsecond timestamps.
fn assert_lifetime(response: &Value, seconds: i64) {
    let lifetime = response["refresh_expires_in"].as_i64().unwrap();
    assert!(
        (seconds - 1..=seconds).contains(&lifetime),
        "refresh_expires_in {lifetime}, expected {seconds}"
    );
}

fn timestamp(value: &Value, field: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text(value, field), &Rfc3339)
        .unwrap_or_else(|e| panic!("{field} is not RFC 3339 in {value}: {e}"))
}

/// `tessera_refresh_reuse_total` from `/metrics` (0 before the first reuse anywhere).
async fn reuse_count(app: &TestApp) -> f64 {
    let metrics = app.get("/metrics").await.text().await.unwrap();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("tessera_refresh_reuse_total "))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

async fn ended_sessions_and_moot_revocations_are_pruned_while_live_ones_stay(backend: Backend) {
    // Arrange: a server pruning every 50 ms; users who logged out, and one still signed in.
    let app = spawn_app_pruning_every(backend, Duration::from_millis(50)).await;
    let mut ended = Vec::new();
    for _ in 0..5 {
        let user = app.signup_test_user().await;
        assert_eq!(app.post_logout(&user.access_token).await.status(), 204);
        ended.push(user);
    }
    let signed_in = app.signup_test_user().await;
    let stores = app.open_stores().await;
    let feed_len = || async {
        let feed = stores
            .revocations
            .revocations_after(0, i64::MIN, 1_000)
            .await;
        feed.unwrap().len()
    };
    assert_eq!(feed_len().await, 5);

    // Act: an access token's lifetime (and its leeway) passes.
    app.advance(Duration::from_secs(15 * 60 + 31));

    // Assert
    eventually(Duration::from_secs(5), "the feed pruned", || async {
        (feed_len().await == 0).then_some(())
    })
    .await;
    for user in &ended {
        let id = user.session_id.parse().unwrap();
        let found = stores.sessions.find_session(id).await.unwrap();
        assert!(found.is_none(), "an ended session is deleted");
    }
    let refreshed = app.refresh(&signed_in.refresh_token).await;
    assert_eq!(
        app.get_me(text(&refreshed, "access_token")).await.status(),
        200
    );
}
