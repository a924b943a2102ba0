//! Administration (`/admin/*`): only for the `admin` role; searching, inspecting, changing and
//! deleting users, ending their sessions, and the audit trail every change leaves.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_core::Clock;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_problem, jwt_claims, spawn_app, text};

both_backends!(
    a_caller_without_the_admin_role_is_forbidden_on_every_admin_route,
    admin_routes_without_a_token_are_token_missing,
    listing_users_shows_every_user_field_and_disabled,
    the_query_matches_email_or_name_case_insensitively_as_a_substring,
    pages_follow_the_cursor_without_overlap_and_end_with_a_null_cursor,
    the_page_size_defaults_to_50_and_is_capped_at_200,
    a_malformed_cursor_or_limit_is_a_validation_error,
    getting_a_user_by_id_and_unknown_or_malformed_ids_are_not_found,
    patching_roles_replaces_them_and_they_reach_tokens_at_the_next_refresh,
    an_invalid_role_name_is_refused_on_the_roles_field_and_changes_nothing,
    patching_the_name_sets_and_clears_it,
    a_change_made_by_another_process_shows_on_users_me_within_a_second,
    disabling_ends_every_session_at_once_and_enabling_lets_the_user_back_in,
    deleting_a_user_revokes_their_tokens_and_forgets_them,
    an_admin_lists_and_ends_a_users_sessions,
    every_admin_change_is_audited_with_who_what_and_when,
    a_demoted_admin_is_refused_at_once_and_cannot_undo_the_demotion,
    a_user_re_enabled_and_logging_in_within_the_same_second_gets_a_working_token,
    a_token_issued_before_a_revocation_in_the_same_second_is_refused,
);

const ADMIN_PASSWORD: &str = "a sturdy admin passphrase";

/// An administrator made by the CLI, as the first admin is, and logged in.
struct Admin {
    id: String,
    access_token: String,
    refresh_token: String,
}

async fn make_admin(app: &TestApp) -> Admin {
    let email = format!("admin-{:08x}@example.com", rand::random::<u32>());
    let id = app
        .cli_create_user(&email, ADMIN_PASSWORD, &["admin"])
        .await;
    let response = app
        .post_login(&json!({ "email": email, "password": ADMIN_PASSWORD }))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "admin login");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["roles"], json!(["admin"]));
    Admin {
        id,
        access_token: text(&body, "access_token").to_owned(),
        refresh_token: text(&body, "refresh_token").to_owned(),
    }
}

/// Imports users through `tessera import` (no password hashing, so many are quick to make).
async fn import_users(app: &TestApp, users: &[Value]) {
    let hash = bcrypt::hash("an imported password", 4).unwrap();
    let lines: Vec<String> = users
        .iter()
        .map(|user| {
            let mut line = user.clone();
            line["password_hash"] = json!(hash);
            line.to_string()
        })
        .collect();
    let file = app
        .data_dir
        .path()
        .join(format!("import-{:08x}.jsonl", rand::random::<u32>()));
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let output = app.cli(&["import", file.to_str().unwrap()]).await;
    assert!(output.status.success(), "{output:?}");
}

/// The ids of a page of `GET /admin/users`, asserting 200; and its `next_cursor`.
async fn page(app: &TestApp, admin: &Admin, query: &str) -> (Vec<String>, Value) {
    let response = app.get_admin_users(&admin.access_token, query).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "GET /admin/users?{query}"
    );
    let body: Value = response.json().await.unwrap();
    let ids = body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {body}"))
        .iter()
        .map(|user| text(user, "id").to_owned())
        .collect();
    (ids, body["next_cursor"].clone())
}

/// The emails matching `query`, following every page.
async fn emails_matching(app: &TestApp, admin: &Admin, query: &str) -> BTreeSet<String> {
    let response = app
        .get_admin_users(&admin.access_token, &format!("query={query}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(body["next_cursor"].is_null(), "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| text(user, "email").to_owned())
        .collect()
}

/// `token_revoked` on `/users/me` (which reads the account) and on `/auth/ws-ticket` (which
/// trusts the token alone: the revocation must be in the deny-set).
async fn assert_token_revoked(app: &TestApp, token: &str) {
    assert_problem(app.get_me(token).await, 401, "token_revoked").await;
    assert_problem(app.post_ws_ticket(Some(token)).await, 401, "token_revoked").await;
}

// ---------------------------------------------------------------------------------------------
// Access

async fn a_caller_without_the_admin_role_is_forbidden_on_every_admin_route(backend: Backend) {
    // Arrange: a plain user and one with another role, both trying everything on a target.
    let app = spawn_app(backend).await;
    let target = app.signup_test_user().await;
    let plain = app.signup_test_user().await;
    let editor_email = format!("editor-{:08x}@example.com", rand::random::<u32>());
    app.cli_create_user(&editor_email, ADMIN_PASSWORD, &["editor", "support"])
        .await;
    let editor = app
        .post_login(&json!({ "email": editor_email, "password": ADMIN_PASSWORD }))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let editor_token = text(&editor, "access_token").to_owned();
    let user_path = format!("/admin/users/{}", target.id);
    let sessions_path = format!("/admin/users/{}/sessions", target.id);
    let routes = [
        (Method::GET, "/admin/users".to_owned(), None),
        (Method::GET, user_path.clone(), None),
        (
            Method::PATCH,
            user_path.clone(),
            Some(json!({ "roles": ["admin"], "disabled": true })),
        ),
        (Method::DELETE, user_path.clone(), None),
        (Method::GET, sessions_path.clone(), None),
        (Method::DELETE, sessions_path.clone(), None),
    ];

    for token in [&plain.access_token, &editor_token] {
        for (method, path, body) in &routes {
            // Act
            let response = app
                .send_with_token(method.clone(), path, Some(token), body.as_ref())
                .await;

            // Assert
            let problem = assert_problem(response, 403, "forbidden").await;
            assert_eq!(problem["title"], "Forbidden", "{method} {path}");
        }
    }

    // Nothing happened to the target: still enabled, no admin role, sessions alive.
    let me = app.get_me(&target.access_token).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["roles"], json!([]));
    app.refresh(&target.refresh_token).await;
}

async fn admin_routes_without_a_token_are_token_missing(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let target = app.signup_test_user().await;
    let user_path = format!("/admin/users/{}", target.id);
    let sessions_path = format!("/admin/users/{}/sessions", target.id);
    let routes = [
        (Method::GET, "/admin/users".to_owned(), None),
        (Method::GET, user_path.clone(), None),
        (
            Method::PATCH,
            user_path.clone(),
            Some(json!({ "disabled": true })),
        ),
        (Method::DELETE, user_path.clone(), None),
        (Method::GET, sessions_path.clone(), None),
        (Method::DELETE, sessions_path.clone(), None),
    ];

    for (method, path, body) in &routes {
        // Act
        let response = app
            .send_with_token(method.clone(), path, None, body.as_ref())
            .await;

        // Assert: a bare challenge, without an error attribute.
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer") && !challenge.contains("error="),
            "{method} {path}: {challenge}"
        );
        assert_problem(response, 401, "token_missing").await;
    }
    assert_eq!(app.get_me(&target.access_token).await.status(), 200);
}

// ---------------------------------------------------------------------------------------------
// Listing

async fn listing_users_shows_every_user_field_and_disabled(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;
    let signed_up = app
        .post_signup(&json!({ "email": "Grace@Example.com", "password": "correct horse battery", "name": "Grace Hopper" }))
        .await;
    assert_eq!(signed_up.status(), StatusCode::CREATED);
    let signed_up: Value = signed_up.json().await.unwrap();
    let grace = &signed_up["user"];

    // Act
    let response = app.get_admin_users(&admin.access_token, "").await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(body["next_cursor"].is_null(), "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{body}");
    let listed = items
        .iter()
        .find(|u| u["id"] == grace["id"])
        .unwrap_or_else(|| panic!("grace not listed: {body}"));
    let mut expected = grace.clone();
    expected["disabled"] = json!(false);
    assert_eq!(listed, &expected);
    let mut keys: Vec<&str> = listed
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "disabled",
            "email",
            "email_verified",
            "id",
            "mfa_enabled",
            "name",
            "roles"
        ]
    );
    let me = items.iter().find(|u| u["id"] == admin.id.as_str()).unwrap();
    assert_eq!(me["roles"], json!(["admin"]));
    assert_eq!(me["disabled"], false);
}

async fn the_query_matches_email_or_name_case_insensitively_as_a_substring(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;
    import_users(
        &app,
        &[
            json!({ "email": "ada.lovelace@example.com", "name": "Countess of Lovelace" }),
            json!({ "email": "grace@navy.example", "name": "Grace Hopper" }),
            json!({ "email": "alan@example.org", "name": "Alan Turing" }),
            json!({ "email": "edsger@example.net" }),
            json!({ "email": "under_score@example.net", "name": "100% sure" }),
            json!({ "email": "emile@example.fr", "name": "ÉMILE ZOLA" }),
            json!({ "email": "ΣΟΦΊΑ@example.gr", "name": "Sofia" }),
        ],
    )
    .await;
    let set =
        |emails: &[&str]| -> BTreeSet<String> { emails.iter().map(|e| (*e).to_owned()).collect() };

    // Act + Assert: email, either case, in the middle.
    assert_eq!(
        emails_matching(&app, &admin, "LOVELACE").await,
        set(&["ada.lovelace@example.com"])
    );
    assert_eq!(
        emails_matching(&app, &admin, "NAVY").await,
        set(&["grace@navy.example"])
    );
    // The name, in another case, and a match on one field is enough.
    assert_eq!(
        emails_matching(&app, &admin, "hOpPeR").await,
        set(&["grace@navy.example"])
    );
    assert_eq!(
        emails_matching(&app, &admin, "countess").await,
        set(&["ada.lovelace@example.com"])
    );
    // Case beyond ASCII, in a name and in an email.
    assert_eq!(
        emails_matching(&app, &admin, "émile z").await,
        set(&["emile@example.fr"])
    );
    assert_eq!(
        emails_matching(&app, &admin, "σοφία@").await,
        set(&["ΣΟΦΊΑ@example.gr"])
    );
    // A substring of several.
    assert_eq!(
        emails_matching(&app, &admin, "example.n").await,
        set(&["edsger@example.net", "under_score@example.net"])
    );
    // Characters that are wildcards in SQL LIKE are taken literally.
    assert_eq!(
        emails_matching(&app, &admin, "_").await,
        set(&["under_score@example.net"])
    );
    assert_eq!(
        emails_matching(&app, &admin, "100%25").await,
        set(&["under_score@example.net"])
    );
    // No match.
    assert_eq!(emails_matching(&app, &admin, "nobody").await, set(&[]));
}

async fn pages_follow_the_cursor_without_overlap_and_end_with_a_null_cursor(backend: Backend) {
    // Arrange: the admin and five more users, six in all: three full pages of two.
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;
    let users: Vec<Value> = (0..5)
        .map(|n| json!({ "email": format!("paged-{n}@example.com") }))
        .collect();
    import_users(&app, &users).await;
    let (everyone, cursor) = page(&app, &admin, "").await;
    assert_eq!(everyone.len(), 6);
    assert!(cursor.is_null());

    // Act
    let mut seen = Vec::new();
    let mut query = "limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (ids, next) = page(&app, &admin, &query).await;
        pages += 1;
        assert!(pages <= 3, "more than three pages of two for six users");
        assert_eq!(ids.len(), 2, "page {pages}: {ids:?}");
        seen.extend(ids);
        if next.is_null() {
            break;
        }
        query = format!("limit=2&cursor={}", next.as_str().unwrap());
    }

    // Assert: three pages, no user twice, everyone once, in the same order as one big page.
    assert_eq!(pages, 3);
    assert_eq!(seen, everyone);

    // A query narrows what the pages walk over.
    let (first, next) = page(&app, &admin, "query=paged-&limit=3").await;
    assert_eq!(first.len(), 3);
    let (second, last) = page(
        &app,
        &admin,
        &format!("query=paged-&limit=3&cursor={}", next.as_str().unwrap()),
    )
    .await;
    assert_eq!(second.len(), 2);
    assert!(last.is_null());
    assert!(first.iter().all(|id| !second.contains(id)));
    assert!(!first.contains(&admin.id) && !second.contains(&admin.id));
}

async fn the_page_size_defaults_to_50_and_is_capped_at_200(backend: Backend) {
    // Arrange: 251 users and the admin.
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;
    let users: Vec<Value> = (0..251)
        .map(|n| json!({ "email": format!("many-{n:03}@example.com") }))
        .collect();
    import_users(&app, &users).await;

    // Act
    let (default, default_next) = page(&app, &admin, "").await;
    let (capped, capped_next) = page(&app, &admin, "limit=1000").await;
    let (rest, rest_next) = page(
        &app,
        &admin,
        &format!("limit=1000&cursor={}", capped_next.as_str().unwrap()),
    )
    .await;

    // Assert
    assert_eq!(default.len(), 50);
    assert_eq!(default_next.as_str(), Some(default[49].as_str()));
    assert_eq!(capped.len(), 200);
    assert_eq!(capped[..50], default[..]);
    assert_eq!(rest.len(), 52);
    assert!(rest_next.is_null());
    let all: BTreeSet<&String> = capped.iter().chain(&rest).collect();
    assert_eq!(all.len(), 252);
}

async fn a_malformed_cursor_or_limit_is_a_validation_error(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;

    for query in ["cursor=not-a-cursor", "cursor=", "limit=ten", "limit=-1"] {
        // Act
        let response = app.get_admin_users(&admin.access_token, query).await;

        // Assert
        let problem = assert_problem(response, 422, "validation_error").await;
        assert!(problem["errors"].is_array(), "{query}: {problem}");
    }
}

// ---------------------------------------------------------------------------------------------
// One user

async fn getting_a_user_by_id_and_unknown_or_malformed_ids_are_not_found(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;
    let user = app.signup_test_user().await;

    // Act
    let found = app.get_admin_user(&admin.access_token, &user.id).await;
    let unknown = app
        .get_admin_user(&admin.access_token, &uuid::Uuid::now_v7().to_string())
        .await;
    let malformed = app.get_admin_user(&admin.access_token, "not-a-uuid").await;

    // Assert
    assert_eq!(found.status(), StatusCode::OK);
    let found: Value = found.json().await.unwrap();
    assert_eq!(found["id"], user.id.as_str());
    assert_eq!(found["email"], user.email.as_str());
    assert_eq!(found["roles"], json!([]));
    assert_eq!(found["disabled"], false);
    assert!(found["created_at"].is_string());
    assert_problem(unknown, 404, "not_found").await;
    assert_problem(malformed, 404, "not_found").await;
    for (method, path) in [
        (Method::PATCH, "/admin/users/not-a-uuid"),
        (Method::DELETE, "/admin/users/not-a-uuid"),
        (Method::GET, "/admin/users/not-a-uuid/sessions"),
        (Method::DELETE, "/admin/users/not-a-uuid/sessions"),
    ] {
        let body = json!({ "name": "x" });
        let response = app
            .send_with_token(method, path, Some(&admin.access_token), Some(&body))
            .await;
        assert_problem(response, 404, "not_found").await;
    }
    let unknown_id = uuid::Uuid::now_v7().to_string();
    let patch = app
        .patch_admin_user(&admin.access_token, &unknown_id, &json!({ "name": "x" }))
        .await;
    assert_problem(patch, 404, "not_found").await;
    let delete = app
        .delete_admin_user(&admin.access_token, &unknown_id)
        .await;
    assert_problem(delete, 404, "not_found").await;
}

async fn patching_roles_replaces_them_and_they_reach_tokens_at_the_next_refresh(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;
    let user = app.signup_test_user().await;
    let first = app
        .patch_admin_user(
            &admin.access_token,
            &user.id,
            &json!({ "roles": ["editor"] }),
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);

    // Act: replace the list (unsorted, with a duplicate), adding a role and removing none.
    let response = app
        .patch_admin_user(
            &admin.access_token,
            &user.id,
            &json!({ "roles": ["editor", "admin", "editor"] }),
        )
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["roles"], json!(["admin", "editor"]), "{body}");
    assert_eq!(body["id"], user.id.as_str());
    let fetched: Value = app
        .get_admin_user(&admin.access_token, &user.id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["roles"], json!(["admin", "editor"]));
    // The token in hand keeps the roles it was issued with, and still works...
    assert_eq!(jwt_claims(&user.access_token)["roles"], json!([]));
    assert_eq!(app.get_me(&user.access_token).await.status(), 200);
    assert_problem(
        app.get_admin_users(&user.access_token, "").await,
        403,
        "forbidden",
    )
    .await;
    // ...the next refresh carries the new ones, and they take effect.
    let refreshed = app.refresh(&user.refresh_token).await;
    assert_eq!(refreshed["user"]["roles"], json!(["admin", "editor"]));
    let token = text(&refreshed, "access_token");
    assert_eq!(jwt_claims(token)["roles"], json!(["admin", "editor"]));
    assert_eq!(app.get_admin_users(token, "").await.status(), 200);

    // Emptying the list takes admin away from the next token.
    let emptied = app
        .patch_admin_user(&admin.access_token, &user.id, &json!({ "roles": [] }))
        .await;
    assert_eq!(emptied.status(), StatusCode::OK);
    let emptied: Value = emptied.json().await.unwrap();
    assert_eq!(emptied["roles"], json!([]));
    assert_problem(app.get_admin_users(token, "").await, 401, "token_revoked").await;
    let again = app.refresh(text(&refreshed, "refresh_token")).await;
    assert_eq!(jwt_claims(text(&again, "access_token"))["roles"], json!([]));
}

async fn an_invalid_role_name_is_refused_on_the_roles_field_and_changes_nothing(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;
    let user = app.signup_test_user().await;

    for roles in [
        json!(["editor", "Not Valid"]),
        json!([""]),
        json!(["x".repeat(65)]),
    ] {
        // Act: a valid name change rides along and must not happen either.
        let response = app
            .patch_admin_user(
                &admin.access_token,
                &user.id,
                &json!({ "roles": roles, "name": "Changed", "disabled": true }),
            )
            .await;

        // Assert
        let problem = assert_problem(response, 422, "validation_error").await;
        let fields: Vec<&Value> = problem["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors in {problem}"))
            .iter()
            .map(|e| &e["field"])
            .collect();
        assert_eq!(fields, [&json!("roles")], "{problem}");
    }
    let unchanged: Value = app
        .get_admin_user(&admin.access_token, &user.id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged["roles"], json!([]));
    assert_eq!(unchanged["name"], Value::Null);
    assert_eq!(unchanged["disabled"], false);
    assert_eq!(app.get_me(&user.access_token).await.status(), 200);
}

async fn patching_the_name_sets_and_clears_it(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;
    let user = app.signup_test_user().await;

    // Act: set
    let set = app
        .patch_admin_user(&admin.access_token, &user.id, &json!({ "name": "Ada" }))
        .await;

    // Assert
    assert_eq!(set.status(), StatusCode::OK);
    let set: Value = set.json().await.unwrap();
    assert_eq!(set["name"], "Ada");
    let me: Value = app.get_me(&user.access_token).await.json().await.unwrap();
    assert_eq!(me["name"], "Ada");

    // An absent name stays as it is.
    let untouched = app
        .patch_admin_user(&admin.access_token, &user.id, &json!({ "roles": ["x"] }))
        .await;
    assert_eq!(untouched.status(), StatusCode::OK);
    let untouched: Value = untouched.json().await.unwrap();
    assert_eq!(untouched["name"], "Ada");

    // `null` clears it.
    let cleared = app
        .patch_admin_user(&admin.access_token, &user.id, &json!({ "name": null }))
        .await;
    assert_eq!(cleared.status(), StatusCode::OK);
    let cleared: Value = cleared.json().await.unwrap();
    assert_eq!(cleared["name"], Value::Null);
    assert_eq!(cleared["roles"], json!(["x"]));
    let me: Value = app.get_me(&user.access_token).await.json().await.unwrap();
    assert_eq!(me["name"], Value::Null);
}

async fn a_change_made_by_another_process_shows_on_users_me_within_a_second(backend: Backend) {
    // Arrange: the server has just read the user's profile for `/users/me`.
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let me: Value = app.get_me(&user.access_token).await.json().await.unwrap();
    assert_eq!(me["roles"], json!([]));

    // Act: the command line changes the roles behind the running server's back.
    let output = app.cli(&["user", "set-roles", &user.id, "support"]).await;
    assert!(output.status.success(), "{output:?}");

    // Assert: the profile the server remembered lives at most a second of its clock.
    app.clock.advance(Duration::from_secs(1));
    let me: Value = app.get_me(&user.access_token).await.json().await.unwrap();
    assert_eq!(
        me["roles"],
        json!(["support"]),
        "the new roles on /users/me"
    );
}

async fn disabling_ends_every_session_at_once_and_enabling_lets_the_user_back_in(backend: Backend) {
    // Arrange: two sessions of the user.
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;
    let user = app.signup_test_user().await;
    let other = app.login_again(&user).await;
    assert_eq!(app.get_me(&user.access_token).await.status(), 200);

    // Act
    let disabled = app
        .patch_admin_user(&admin.access_token, &user.id, &json!({ "disabled": true }))
        .await;

    // Assert: at once, on this instance, with no clock movement.
    assert_eq!(disabled.status(), StatusCode::OK);
    let disabled: Value = disabled.json().await.unwrap();
    assert_eq!(disabled["disabled"], true);
    assert_token_revoked(&app, &user.access_token).await;
    assert_token_revoked(&app, text(&other, "access_token")).await;
    for refresh_token in [user.refresh_token.as_str(), text(&other, "refresh_token")] {
        let refused = app
            .post_refresh(&json!({ "refresh_token": refresh_token }))
            .await;
        assert_problem(refused, 401, "refresh_invalid").await;
    }
    let login = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;
    assert_problem(login, 403, "account_disabled").await;
    let sessions: Value = app
        .get_admin_user_sessions(&admin.access_token, &user.id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions, json!([]));
    let listed: Value = app
        .get_admin_user(&admin.access_token, &user.id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["disabled"], true);

    // Act: enable again, a second later. (Revocations of a user cover tokens issued up to and
    // including the second of the revocation: `iat` has no finer resolution.)
    app.advance(Duration::from_secs(1));
    let enabled = app
        .patch_admin_user(&admin.access_token, &user.id, &json!({ "disabled": false }))
        .await;

    // Assert: the user logs in and the new token works; the old ones stay dead.
    assert_eq!(enabled.status(), StatusCode::OK);
    let enabled: Value = enabled.json().await.unwrap();
    assert_eq!(enabled["disabled"], false);
    let back = app.login_again(&user).await;
    let me = app.get_me(text(&back, "access_token")).await;
    assert_eq!(me.status(), StatusCode::OK);
    app.refresh(text(&back, "refresh_token")).await;
    assert_token_revoked(&app, &user.access_token).await;
    let refused = app
        .post_refresh(&json!({ "refresh_token": user.refresh_token }))
        .await;
    assert_problem(refused, 401, "refresh_invalid").await;
    assert_eq!(app.get_me(&admin.access_token).await.status(), 200);
}

async fn deleting_a_user_revokes_their_tokens_and_forgets_them(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;
    let user = app.signup_test_user().await;
    let bystander = app.signup_test_user().await;

    // Act
    let deleted = app.delete_admin_user(&admin.access_token, &user.id).await;

    // Assert
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_token_revoked(&app, &user.access_token).await;
    let refused = app
        .post_refresh(&json!({ "refresh_token": user.refresh_token }))
        .await;
    assert_problem(refused, 401, "refresh_invalid").await;
    assert_problem(
        app.get_admin_user(&admin.access_token, &user.id).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.delete_admin_user(&admin.access_token, &user.id).await,
        404,
        "not_found",
    )
    .await;
    let login = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;
    assert_problem(login, 401, "invalid_credentials").await;
    let (ids, _) = page(&app, &admin, "").await;
    assert!(!ids.contains(&user.id));
    assert!(ids.contains(&bystander.id));
    assert_eq!(app.get_me(&bystander.access_token).await.status(), 200);
}

async fn an_admin_lists_and_ends_a_users_sessions(backend: Backend) {
    // Arrange: two sessions, the second a minute later from a named device.
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;
    let user = app.signup_test_user().await;
    app.advance(Duration::from_secs(60));
    let second = app
        .client
        .post(app.url("/auth/login"))
        .header("user-agent", "admin-test/1.0")
        .json(&json!({ "email": user.email, "password": user.password, "device_name": "Laptop" }))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    let second: Value = second.json().await.unwrap();

    // Act
    let listed = app
        .get_admin_user_sessions(&admin.access_token, &user.id)
        .await;

    // Assert: newest first, the fields of GET /auth/sessions but no `current`.
    assert_eq!(listed.status(), StatusCode::OK);
    let listed: Value = listed.json().await.unwrap();
    let sessions = listed.as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{listed}");
    assert_eq!(sessions[0]["id"], second["session_id"]);
    assert_eq!(sessions[1]["id"], user.session_id.as_str());
    assert_eq!(sessions[0]["device_name"], "Laptop");
    assert_eq!(sessions[0]["user_agent"], "admin-test/1.0");
    assert_eq!(sessions[0]["ip"], "127.0.0.1");
    for session in sessions {
        let mut keys: Vec<&str> = session
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "created_at",
                "device_name",
                "id",
                "ip",
                "last_used_at",
                "user_agent"
            ]
        );
        assert_eq!(session["last_used_at"], session["created_at"]);
    }
    let own: Value = app
        .get_sessions(&user.access_token)
        .await
        .json()
        .await
        .unwrap();
    let own_ids: Vec<&Value> = own.as_array().unwrap().iter().map(|s| &s["id"]).collect();
    let admin_ids: Vec<&Value> = sessions.iter().map(|s| &s["id"]).collect();
    assert_eq!(own_ids, admin_ids);

    // Act: end them all.
    let ended = app
        .delete_admin_user_sessions(&admin.access_token, &user.id)
        .await;

    // Assert
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_token_revoked(&app, &user.access_token).await;
    assert_token_revoked(&app, text(&second, "access_token")).await;
    let refused = app
        .post_refresh(&json!({ "refresh_token": second["refresh_token"] }))
        .await;
    assert_problem(refused, 401, "refresh_invalid").await;
    let after: Value = app
        .get_admin_user_sessions(&admin.access_token, &user.id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after, json!([]));
    // The account itself is untouched: the user logs in again, and the admin's session lives.
    let back = app.login_again(&user).await;
    assert_eq!(app.get_me(text(&back, "access_token")).await.status(), 200);
    assert_eq!(app.get_me(&admin.access_token).await.status(), 200);
    assert_problem(
        app.get_admin_user_sessions(&admin.access_token, &uuid::Uuid::now_v7().to_string())
            .await,
        404,
        "not_found",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Audit trail

/// One row of `audit_events`, read straight from the server's database.
#[derive(Debug, PartialEq, Eq)]
struct AuditRow {
    actor: Option<String>,
    action: String,
    target: Option<String>,
    /// Seconds since the Unix epoch.
    at: i64,
}

/// Every row of `audit_events` about `target`, oldest first.
async fn audit_rows(app: &TestApp, target: &str) -> Vec<AuditRow> {
    use sqlx::{Connection, Row};
    if app.settings.database_url.is_empty() {
        let path = app.settings.data_dir.join("tessera.db");
        let url = format!("sqlite://{}?mode=ro", path.display());
        let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let rows = sqlx::query(
            "SELECT actor_user_id, action, target, at / 1000000 AS at FROM audit_events \
             WHERE target = ?1 ORDER BY at, id",
        )
        .bind(target)
        .fetch_all(&mut connection)
        .await
        .unwrap();
        connection.close().await.unwrap();
        rows.iter()
            .map(|row| AuditRow {
                actor: row.get("actor_user_id"),
                action: row.get("action"),
                target: row.get("target"),
                at: row.get("at"),
            })
            .collect()
    } else {
        let mut connection = sqlx::PgConnection::connect(app.settings.database_url.expose_secret())
            .await
            .unwrap();
        let rows = sqlx::query(
            "SELECT actor_user_id::text AS actor_user_id, action, target, \
             floor(extract(epoch FROM at))::bigint AS at FROM audit_events \
             WHERE target = $1 ORDER BY at, id",
        )
        .bind(target)
        .fetch_all(&mut connection)
        .await
        .unwrap();
        connection.close().await.unwrap();
        rows.iter()
            .map(|row| AuditRow {
                actor: row.get("actor_user_id"),
                action: row.get("action"),
                target: row.get("target"),
                at: row.get("at"),
            })
            .collect()
    }
}

async fn every_admin_change_is_audited_with_who_what_and_when(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;
    let user = app.signup_test_user().await;
    let token = &admin.access_token;
    let mut times = Vec::new();

    // Act: three changes a minute apart, with reads and a refused change in between.
    app.advance(Duration::from_secs(60));
    times.push(app.clock.unix());
    let patched = app
        .patch_admin_user(token, &user.id, &json!({ "roles": ["editor"] }))
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let refused = app
        .patch_admin_user(token, &user.id, &json!({ "roles": ["Bad Role"] }))
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get_admin_user(token, &user.id).await.status(), 200);
    app.advance(Duration::from_secs(60));
    times.push(app.clock.unix());
    let ended = app.delete_admin_user_sessions(token, &user.id).await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_admin_user_sessions(token, &user.id).await.status(),
        200
    );
    app.advance(Duration::from_secs(60));
    times.push(app.clock.unix());
    let deleted = app.delete_admin_user(token, &user.id).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    // Assert
    let rows = audit_rows(&app, &user.id).await;
    let expected: Vec<AuditRow> = ["user.update", "user.sessions.end", "user.delete"]
        .iter()
        .zip(&times)
        .map(|(action, at)| AuditRow {
            actor: Some(admin.id.clone()),
            action: (*action).to_owned(),
            target: Some(user.id.clone()),
            at: *at,
        })
        .collect();
    assert_eq!(rows, expected);
}

async fn a_demoted_admin_is_refused_at_once_and_cannot_undo_the_demotion(backend: Backend) {
    // Arrange: two admins; the second will be demoted by the first.
    let app = spawn_app(backend).await;
    let first = make_admin(&app).await;
    let second = make_admin(&app).await;
    let sessions_before = app
        .get_admin_user_sessions(&first.access_token, &second.id)
        .await
        .json::<Value>()
        .await
        .unwrap();

    // Act
    let demoted = app
        .patch_admin_user(&first.access_token, &second.id, &json!({ "roles": [] }))
        .await;

    // Assert: the token in hand no longer opens /admin/*, not even to undo the change or to
    // strike back, and everything it tried changed nothing.
    assert_eq!(demoted.status(), StatusCode::OK);
    let undo = app
        .patch_admin_user(
            &second.access_token,
            &second.id,
            &json!({ "roles": ["admin"] }),
        )
        .await;
    assert_problem(undo, 401, "token_revoked").await;
    let strike = app
        .patch_admin_user(
            &second.access_token,
            &first.id,
            &json!({ "disabled": true }),
        )
        .await;
    assert_problem(strike, 401, "token_revoked").await;
    assert_problem(app.get_me(&second.access_token).await, 401, "token_revoked").await;
    let first_now: Value = app
        .get_admin_user(&first.access_token, &first.id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first_now["disabled"], json!(false));
    let second_now: Value = app
        .get_admin_user(&first.access_token, &second.id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second_now["roles"], json!([]));
    // The session stays; its next token carries the roles as they are now.
    let sessions_after = app
        .get_admin_user_sessions(&first.access_token, &second.id)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(sessions_after, sessions_before);
    // (The server's clock moves only when told: a millisecond passes.)
    app.advance(Duration::from_millis(1));
    let refreshed = app.refresh(&second.refresh_token).await;
    let token = text(&refreshed, "access_token");
    assert_eq!(jwt_claims(token)["roles"], json!([]));
    assert_eq!(app.get_me(token).await.status(), StatusCode::OK);
    assert_problem(app.get_admin_users(token, "").await, 403, "forbidden").await;
}

async fn a_user_re_enabled_and_logging_in_within_the_same_second_gets_a_working_token(
    backend: Backend,
) {
    // Arrange: the server's clock at the start of a second, so that everything below happens
    // within it.
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;
    let user = app.signup_test_user().await;
    let subsec = app.clock.now().nanosecond();
    app.advance(Duration::from_nanos(u64::from(1_000_000_000 - subsec)));
    let second = app.clock.now().unix_timestamp();
    let disable = json!({ "disabled": true });
    let patched = app
        .patch_admin_user(&admin.access_token, &user.id, &disable)
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let enable = json!({ "disabled": false });
    let patched = app
        .patch_admin_user(&admin.access_token, &user.id, &enable)
        .await;
    assert_eq!(patched.status(), StatusCode::OK);

    // Act: a login a few milliseconds later, in the same second.
    app.advance(Duration::from_millis(5));
    let login = app.login_again(&user).await;

    // Assert
    let token = text(&login, "access_token");
    assert_eq!(jwt_claims(token)["iat"], json!(second), "the same second");
    assert_eq!(app.get_me(token).await.status(), StatusCode::OK);
    let refreshed = app.refresh(text(&login, "refresh_token")).await;
    let token = text(&refreshed, "access_token");
    assert_eq!(app.get_me(token).await.status(), StatusCode::OK);
}

async fn a_token_issued_before_a_revocation_in_the_same_second_is_refused(backend: Backend) {
    // Arrange: a token issued early in a second; its user is demoted later in that second.
    let app = spawn_app(backend).await;
    let admin = make_admin(&app).await;
    let user = app.signup_test_user().await;
    let roles = json!({ "roles": ["editor"] });
    let patched = app
        .patch_admin_user(&admin.access_token, &user.id, &roles)
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let subsec = app.clock.now().nanosecond();
    app.advance(Duration::from_nanos(u64::from(1_000_000_000 - subsec)));
    let early = app.refresh(&user.refresh_token).await;
    let early_token = text(&early, "access_token");
    assert_eq!(jwt_claims(early_token)["roles"], json!(["editor"]));

    // Act
    app.advance(Duration::from_millis(900));
    let removed = json!({ "roles": [] });
    let patched = app
        .patch_admin_user(&admin.access_token, &user.id, &removed)
        .await;
    assert_eq!(patched.status(), StatusCode::OK);

    // Assert
    assert_problem(app.get_me(early_token).await, 401, "token_revoked").await;
}
