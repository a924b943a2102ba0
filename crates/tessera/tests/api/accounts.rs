//! Signup, login, profile, password change and deletion.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use tessera_core::{SessionId, UserId};

use crate::helpers::{Backend, TestApp, assert_problem, spawn_app, spawn_app_with};

both_backends!(
    signup_returns_a_token_response_and_a_session,
    emails_are_unique_case_insensitively_after_trimming,
    login_with_unknown_email_looks_like_wrong_password,
    login_accepts_the_oauth2_password_form,
    me_returns_the_caller,
    patching_me_changes_the_name_trimmed,
    a_name_over_200_characters_is_a_validation_error_on_the_name_field,
    changing_the_password_with_a_wrong_current_password_is_invalid_credentials,
    changing_to_a_weak_password_is_refused_and_keeps_the_old_one,
    changing_the_password_replaces_it_and_ends_the_other_sessions,
    deleting_the_account_with_a_wrong_password_is_refused_and_keeps_it,
    deleting_the_account_revokes_its_token_and_frees_its_email,
    signup_refuses_short_common_and_over_long_passwords,
    a_256_character_password_is_accepted_and_logs_in,
    signup_honours_the_configured_minimum_password_length,
    signup_reports_a_bad_email_on_the_email_field,
    signup_reports_a_missing_password_on_the_password_field,
    signup_with_malformed_json_is_a_validation_error,
    login_with_a_10000_character_password_is_a_validation_error,
    a_disabled_user_cannot_log_in_and_their_token_is_revoked,
    a_login_session_records_device_name_user_agent_and_ip,
    a_login_in_flight_during_a_password_change_never_outlives_it,
    look_alike_emails_are_one_account_whose_address_is_kept_as_typed,
);

async fn signup_returns_a_token_response_and_a_session(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    // Act
    let response = app
        .post_signup(&json!({ "email": "  Ada@Example.COM ", "password": "correct horse battery", "name": "Ada" }))
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["session_id"].is_string());
    assert!(body["refresh_token"].as_str().unwrap().len() >= 43);
    assert_eq!(body["refresh_expires_in"], 30 * 86_400);
    let user = &body["user"];
    assert_eq!(user["email"], "Ada@Example.COM", "trimmed, as typed");
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["roles"], json!([]));
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["mfa_enabled"], false);
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
}

async fn emails_are_unique_case_insensitively_after_trimming(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app
        .post_signup(&json!({ "email": "bob@example.com", "password": "correct horse battery" }))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);

    let second = app
        .post_signup(&json!({ "email": " BOB@example.com", "password": "another good password" }))
        .await;

    assert_problem(second, 409, "email_taken").await;
}

async fn look_alike_emails_are_one_account_whose_address_is_kept_as_typed(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let password = "correct horse battery";
    let first = app
        .post_signup(&json!({ "email": "Kate@Example.com", "password": password }))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();

    // Act: full-width letters, another case.
    let look_alike = app
        .post_signup(
            &json!({ "email": "ｋａｔｅ@example.com", "password": "another good password" }),
        )
        .await;
    let login = app
        .post_login(&json!({ "email": "ｋａｔｅ@EXAMPLE.com", "password": password }))
        .await;

    // Assert
    assert_problem(look_alike, 409, "email_taken").await;
    assert_eq!(login.status(), StatusCode::OK);
    let login: Value = login.json().await.unwrap();
    assert_eq!(login["user"]["id"], first["user"]["id"]);
    assert_eq!(
        login["user"]["email"], "Kate@Example.com",
        "the address as typed"
    );
}

async fn login_with_unknown_email_looks_like_wrong_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    let wrong_password = app
        .post_login(&json!({ "email": user.email, "password": "not the password" }))
        .await;
    let unknown_email = app
        .post_login(&json!({ "email": "nobody@example.com", "password": "not the password" }))
        .await;

    let headers = (
        wrong_password.headers().clone(),
        unknown_email.headers().clone(),
    );
    let a = assert_problem(wrong_password, 401, "invalid_credentials").await;
    let b = assert_problem(unknown_email, 401, "invalid_credentials").await;
    assert_eq!(a, b, "identical bodies");
    assert_eq!(headers.0["www-authenticate"], headers.1["www-authenticate"]);
    assert!(
        headers.0["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

async fn login_accepts_the_oauth2_password_form(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    let response = app
        .post_login_form(&user.email.to_uppercase(), &user.password)
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["id"], user.id.as_str());
    assert_ne!(
        body["session_id"],
        user.session_id.as_str(),
        "each login is a new session"
    );
}

async fn me_returns_the_caller(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    let response = app.get_me(&user.access_token).await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], user.id.as_str());
    assert_eq!(body["email"], user.email.as_str());
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> u16 {
    app.post_login(&json!({ "email": email, "password": password }))
        .await
        .status()
        .as_u16()
}

async fn patching_me_changes_the_name_trimmed(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let response = app
        .patch_me(&user.access_token, &json!({ "name": "  Grace Hopper \t" }))
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], "Grace Hopper");
    assert_eq!(body["id"], user.id.as_str());
    let me: Value = app.get_me(&user.access_token).await.json().await.unwrap();
    assert_eq!(me["name"], "Grace Hopper");
}

async fn a_name_over_200_characters_is_a_validation_error_on_the_name_field(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let exactly_200 = "é".repeat(200);

    // Act
    let too_long = app
        .patch_me(&user.access_token, &json!({ "name": "n".repeat(201) }))
        .await;
    let at_the_limit = app
        .patch_me(&user.access_token, &json!({ "name": exactly_200 }))
        .await;

    // Assert
    let body = assert_problem(too_long, 422, "validation_error").await;
    assert_eq!(body["errors"][0]["field"], "name", "{body}");
    assert!(body["errors"][0]["message"].is_string());
    assert_eq!(at_the_limit.status(), StatusCode::OK);
    let body: Value = at_the_limit.json().await.unwrap();
    assert_eq!(body["name"], exactly_200.as_str());
}

async fn changing_the_password_with_a_wrong_current_password_is_invalid_credentials(
    backend: Backend,
) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let response = app
        .post_password(
            &user.access_token,
            &json!({ "current_password": "not my password", "new_password": "a brand new passphrase" }),
        )
        .await;

    // Assert
    assert_problem(response, 401, "invalid_credentials").await;
    assert_eq!(login_status(&app, &user.email, &user.password).await, 200);
    assert_eq!(
        login_status(&app, &user.email, "a brand new passphrase").await,
        401
    );
}

async fn changing_to_a_weak_password_is_refused_and_keeps_the_old_one(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let too_short = app
        .post_password(
            &user.access_token,
            &json!({ "current_password": user.password, "new_password": "short" }),
        )
        .await;
    let too_common = app
        .post_password(
            &user.access_token,
            &json!({ "current_password": user.password, "new_password": "password1" }),
        )
        .await;

    // Assert
    assert_problem(too_short, 422, "weak_password").await;
    assert_problem(too_common, 422, "weak_password").await;
    assert_eq!(login_status(&app, &user.email, &user.password).await, 200);
}

async fn changing_the_password_replaces_it_and_ends_the_other_sessions(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let other: Value = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await
        .json()
        .await
        .unwrap();
    let other_session: SessionId = other["session_id"].as_str().unwrap().parse().unwrap();
    let other_token = other["access_token"].as_str().unwrap().to_owned();
    let new_password = "a brand new passphrase";

    // Act
    let response = app
        .post_password(
            &user.access_token,
            &json!({ "current_password": user.password, "new_password": new_password }),
        )
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let old = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;
    assert_problem(old, 401, "invalid_credentials").await;
    assert_eq!(login_status(&app, &user.email, new_password).await, 200);
    let stores = app.open_stores().await;
    let current: SessionId = user.session_id.parse().unwrap();
    let kept = stores
        .sessions
        .find_session(current)
        .await
        .unwrap()
        .unwrap();
    assert!(
        kept.revoked_at.is_none(),
        "the session that changed the password lives on"
    );
    let ended = stores
        .sessions
        .find_session(other_session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ended.revoke_reason.as_deref(),
        Some("password_changed"),
        "every other session ends"
    );
    assert_eq!(
        app.get_me(&user.access_token).await.status(),
        StatusCode::OK
    );
    assert_problem(app.get_me(&other_token).await, 401, "token_revoked").await;
}

async fn deleting_the_account_with_a_wrong_password_is_refused_and_keeps_it(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let response = app
        .delete_me(
            &user.access_token,
            &json!({ "password": "not my password" }),
        )
        .await;

    // Assert
    assert_problem(response, 401, "invalid_credentials").await;
    assert_eq!(
        app.get_me(&user.access_token).await.status(),
        StatusCode::OK
    );
    assert_eq!(login_status(&app, &user.email, &user.password).await, 200);
}

async fn deleting_the_account_revokes_its_token_and_frees_its_email(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let response = app
        .delete_me(&user.access_token, &json!({ "password": user.password }))
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get_me(&user.access_token).await, 401, "token_revoked").await;
    let login = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;
    assert_problem(login, 401, "invalid_credentials").await;
    let again = app
        .post_signup(&json!({ "email": user.email, "password": "a different passphrase" }))
        .await;
    assert_eq!(again.status(), StatusCode::CREATED);
    let body: Value = again.json().await.unwrap();
    assert_ne!(body["user"]["id"], user.id.as_str(), "a new account");
}

async fn signup_refuses_short_common_and_over_long_passwords(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let too_long = format!("{}!", "x7".repeat(128));
    assert_eq!(too_long.chars().count(), 257);
    let cases = [
        ("seven c", "shorter than 8"),
        ("password1", "on the common list"),
        ("PassWord1", "on the common list in another case"),
        (too_long.as_str(), "257 characters"),
    ];

    for (index, (password, why)) in cases.iter().enumerate() {
        // Act
        let response = app
            .post_signup(
                &json!({ "email": format!("weak-{index}@example.com"), "password": password }),
            )
            .await;

        // Assert
        assert_eq!(response.status().as_u16(), 422, "{why}");
        let body = assert_problem(response, 422, "weak_password").await;
        assert!(body["detail"].is_string(), "{why}: {body}");
    }
}

async fn a_256_character_password_is_accepted_and_logs_in(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let password: String = "Tessera-256!".chars().cycle().take(256).collect();
    assert_eq!(password.chars().count(), 256);

    // Act
    let signup = app
        .post_signup(&json!({ "email": "long@example.com", "password": password }))
        .await;

    // Assert
    assert_eq!(signup.status(), StatusCode::CREATED);
    assert_eq!(login_status(&app, "long@example.com", &password).await, 200);
}

async fn signup_honours_the_configured_minimum_password_length(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, |s| s.passwords.min_length = 12).await;

    // Act
    let eleven = app
        .post_signup(&json!({ "email": "eleven@example.com", "password": "tessera-p11" }))
        .await;
    let twelve = app
        .post_signup(&json!({ "email": "twelve@example.com", "password": "tessera-p012" }))
        .await;

    // Assert
    let body = assert_problem(eleven, 422, "weak_password").await;
    assert!(body["detail"].as_str().unwrap().contains("12"), "{body}");
    assert_eq!(twelve.status(), StatusCode::CREATED);
}

async fn signup_reports_a_bad_email_on_the_email_field(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    // Act
    let response = app
        .post_signup(&json!({ "email": "not-an-email", "password": "correct horse battery" }))
        .await;

    // Assert
    let body = assert_problem(response, 422, "validation_error").await;
    assert_eq!(body["errors"][0]["field"], "email", "{body}");
}

async fn signup_reports_a_missing_password_on_the_password_field(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    // Act
    let response = app
        .post_signup(&json!({ "email": "ada@example.com" }))
        .await;

    // Assert
    let body = assert_problem(response, 422, "validation_error").await;
    assert_eq!(body["errors"][0]["field"], "password", "{body}");
}

async fn signup_with_malformed_json_is_a_validation_error(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    // Act
    let response = app
        .client
        .post(app.url("/auth/signup"))
        .header("content-type", "application/json")
        .body(r#"{"email": "ada@example.com", "password": "correct horse"#)
        .send()
        .await
        .unwrap();

    // Assert
    let body = assert_problem(response, 422, "validation_error").await;
    assert!(body["errors"][0]["field"].is_string(), "{body}");
}

async fn login_with_a_10000_character_password_is_a_validation_error(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let response = app
        .post_login(&json!({ "email": user.email, "password": "p".repeat(10_000) }))
        .await;

    // Assert
    let body = assert_problem(response, 422, "validation_error").await;
    assert_eq!(body["errors"][0]["field"], "password", "{body}");
}

async fn a_disabled_user_cannot_log_in_and_their_token_is_revoked(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let stores = app.open_stores().await;
    let id: UserId = user.id.parse().unwrap();
    let disabled = stores.users.set_disabled(id, true).await.unwrap().unwrap();
    assert!(disabled.disabled);

    // Act
    let wrong = app
        .post_login(&json!({ "email": user.email, "password": "not my password" }))
        .await;
    let right = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;
    let me = app.get_me(&user.access_token).await;

    // Assert
    assert_problem(wrong, 401, "invalid_credentials").await;
    let body = assert_problem(right, 403, "account_disabled").await;
    assert!(body.get("access_token").is_none());
    assert_problem(me, 401, "token_revoked").await;
}

async fn a_login_session_records_device_name_user_agent_and_ip(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let response = app
        .client
        .post(app.url("/auth/login"))
        .header("user-agent", "TesseraTests/1.0 (black box)")
        .json(&json!({ "email": user.email, "password": user.password, "device_name": "  Ada's laptop " }))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let id: SessionId = body["session_id"].as_str().unwrap().parse().unwrap();
    let session = app
        .open_stores()
        .await
        .sessions
        .find_session(id)
        .await
        .unwrap()
        .expect("the login's session is stored");
    assert_eq!(session.user_id.to_string(), user.id);
    assert_eq!(session.device_name.as_deref(), Some("Ada's laptop"));
    assert_eq!(
        session.user_agent.as_deref(),
        Some("TesseraTests/1.0 (black box)")
    );
    assert_eq!(session.ip.as_deref(), Some("127.0.0.1"));
}

async fn a_login_in_flight_during_a_password_change_never_outlives_it(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let mut refused_logins = 0;
    // A password change hashes twice (the current password, then the new one); a login with
    // the old password hashes once. Starting the login later and later across one hash's time
    // makes it check the old password before the change is stored and finish after it.
    for attempt in 0..6u32 {
        let user = app.signup_test_user().await;
        let started = std::time::Instant::now();
        app.login_again(&user).await;
        let delay = started.elapsed() * attempt / 3;
        let change =
            json!({ "current_password": user.password, "new_password": "a brand new passphrase" });
        let old = json!({ "email": user.email, "password": user.password });

        // Act
        let (changed, login) =
            tokio::join!(app.post_password(&user.access_token, &change), async {
                tokio::time::sleep(delay).await;
                app.post_login(&old).await
            });

        // Assert: the change went through; a login with the old password either was refused
        // or got a session the change then ended.
        assert_eq!(
            changed.status(),
            StatusCode::NO_CONTENT,
            "attempt {attempt}"
        );
        if login.status() != StatusCode::OK {
            assert_problem(login, 401, "invalid_credentials").await;
            refused_logins += 1;
            continue;
        }
        let body: Value = login.json().await.unwrap();
        let refresh = json!({ "refresh_token": body["refresh_token"] });
        let refreshed = app.post_refresh(&refresh).await;
        assert_problem(refreshed, 401, "refresh_invalid").await;
        let access = body["access_token"].as_str().unwrap();
        assert_problem(app.get_me(access).await, 401, "token_revoked").await;
    }
    assert!(
        refused_logins > 0,
        "no login ran into the change: the test did not race"
    );
}
