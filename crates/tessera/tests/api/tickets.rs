//! WebSocket tickets: issuing them for an access token, redeeming them once with a service key,
//! the `/ws/echo` upgrade they admit, and single use across instances sharing Redis.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::Message;

use crate::both_backends;
use crate::helpers::{
    Backend, PgDatabase, TestApp, TestUser, assert_problem, spawn_app, spawn_app_with, text,
};

both_backends!(
    a_ticket_is_issued_for_an_access_token_and_not_cached,
    a_ticket_is_not_an_access_token,
    the_ticket_lifetime_follows_the_configuration,
    a_ticket_is_redeemed_once_for_the_user_session_and_roles,
    redeeming_needs_the_service_key_and_a_refused_key_does_not_spend_the_ticket,
    an_expired_ticket_is_refused,
    a_ticket_of_a_session_logged_out_before_redemption_is_revoked,
    a_ticket_traded_for_a_token_issued_before_a_role_removal_is_revoked,
    the_echo_socket_admits_a_ticket_once_and_echoes,
    the_echo_upgrade_without_a_ticket_is_refused_with_401,
    the_echo_upgrade_with_an_expired_ticket_is_refused_with_401,
    a_plain_get_with_a_ticket_is_refused_and_does_not_spend_it,
    the_echo_upgrade_from_a_foreign_page_is_refused_and_does_not_spend_the_ticket,
    an_open_socket_is_closed_when_its_session_is_logged_out,
);

const SERVICE_KEY: &str = "a-service-key-of-enough-length";

async fn spawn_with_service_key(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.service_keys = vec![SERVICE_KEY.into()]).await
}

/// A ticket for `token`, asserting 200.
async fn ticket(app: &TestApp, token: &str) -> String {
    let response = app.post_ws_ticket(Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK, "POST /auth/ws-ticket");
    let body: Value = response.json().await.unwrap();
    text(&body, "ticket").to_owned()
}

/// `ws://…/ws/echo`, with `?ticket=` when given.
fn echo_url(app: &TestApp, ticket: Option<&str>) -> String {
    let base = app.address.replacen("http://", "ws://", 1);
    match ticket {
        Some(ticket) => format!("{base}/ws/echo?ticket={ticket}"),
        None => format!("{base}/ws/echo"),
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, ticket: Option<&str>) -> Result<Socket, tungstenite::Error> {
    tokio_tungstenite::connect_async(echo_url(app, ticket))
        .await
        .map(|(socket, _)| socket)
}

/// Asserts the upgrade was refused with an HTTP 401 problem of `code`, before any upgrade.
fn assert_refused_upgrade(result: Result<Socket, tungstenite::Error>, code: &str) {
    let Err(tungstenite::Error::Http(response)) = result else {
        panic!("expected the upgrade to be refused with an HTTP status, got {result:?}");
    };
    assert_eq!(response.status().as_u16(), 401, "{response:?}");
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"),
        "{response:?}"
    );
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default())
        .unwrap_or_else(|e| panic!("not a JSON problem ({e}): {response:?}"));
    assert_eq!(body["code"], code, "{body}");
}

/// A `WWW-Authenticate: Bearer` challenge without an error attribute (a missing token).
fn assert_bare_challenge(response: &reqwest::Response) {
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer") && !challenge.contains("error="),
        "{challenge}"
    );
}

/// Sends `text` and expects it back.
async fn assert_echoes(socket: &mut Socket, text: &str) {
    socket.send(Message::text(text)).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("an echo within 10 s")
        .expect("the socket stays open")
        .unwrap();
    assert_eq!(reply, Message::text(text));
}

/// A user made by the CLI with `roles`, logged in.
async fn user_with_roles(app: &TestApp, roles: &[&str]) -> TestUser {
    let email = format!("ticket-{:08x}@example.com", rand::random::<u32>());
    let password = "correct horse battery staple".to_owned();
    let id = app.cli_create_user(&email, &password, roles).await;
    let response = app
        .post_login(&json!({ "email": email, "password": password }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    TestUser {
        email,
        password,
        access_token: text(&body, "access_token").to_owned(),
        session_id: text(&body, "session_id").to_owned(),
        id,
        refresh_token: text(&body, "refresh_token").to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Issuing

async fn a_ticket_is_issued_for_an_access_token_and_not_cached(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let response = app.post_ws_ticket(Some(&user.access_token)).await;
    let missing = app.post_ws_ticket(None).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 30);
    let first = text(&body, "ticket");
    assert!(first.len() >= 32, "{first}");
    let second = ticket(&app, &user.access_token).await;
    assert_ne!(first, second, "every ticket is new");
    assert_bare_challenge(&missing);
    assert_problem(missing, 401, "token_missing").await;
    app.post_logout(&user.access_token).await;
    assert_problem(
        app.post_ws_ticket(Some(&user.access_token)).await,
        401,
        "token_revoked",
    )
    .await;
}

async fn a_ticket_is_not_an_access_token(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let ticket = ticket(&app, &user.access_token).await;

    // Act
    let me = app.get_me(&ticket).await;
    let another = app.post_ws_ticket(Some(&ticket)).await;

    // Assert
    assert_problem(me, 401, "token_invalid").await;
    assert_problem(another, 401, "token_invalid").await;
}

async fn the_ticket_lifetime_follows_the_configuration(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, |s| {
        s.tokens.ws_ticket_ttl = Duration::from_secs(45);
        s.service_keys = vec![SERVICE_KEY.into()];
    })
    .await;
    let user = app.signup_test_user().await;

    // Act
    let response = app.post_ws_ticket(Some(&user.access_token)).await;

    // Assert
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 45);
    // Still good after the default 30 s.
    app.advance(Duration::from_secs(40));
    let redeemed = app
        .post_ticket_redeem(Some(SERVICE_KEY), text(&body, "ticket"))
        .await;
    assert_eq!(redeemed.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Redeeming

async fn a_ticket_is_redeemed_once_for_the_user_session_and_roles(backend: Backend) {
    // Arrange
    let app = spawn_with_service_key(backend).await;
    let user = user_with_roles(&app, &["support", "editor"]).await;
    let ticket = ticket(&app, &user.access_token).await;

    // Act
    let first = app.post_ticket_redeem(Some(SERVICE_KEY), &ticket).await;
    let second = app.post_ticket_redeem(Some(SERVICE_KEY), &ticket).await;

    // Assert
    assert_eq!(first.status(), StatusCode::OK);
    let body: Value = first.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "user_id": user.id, "session_id": user.session_id, "roles": ["editor", "support"] })
    );
    let problem = assert_problem(second, 401, "token_invalid").await;
    assert!(!problem.to_string().contains(&ticket), "echoes the ticket");
    let unknown = app
        .post_ticket_redeem(Some(SERVICE_KEY), "no-such-ticket")
        .await;
    assert_problem(unknown, 401, "token_invalid").await;
}

async fn redeeming_needs_the_service_key_and_a_refused_key_does_not_spend_the_ticket(
    backend: Backend,
) {
    // Arrange
    let app = spawn_with_service_key(backend).await;
    let user = app.signup_test_user().await;
    let ticket = ticket(&app, &user.access_token).await;

    // Act
    let missing = app.post_ticket_redeem(None, &ticket).await;
    let wrong = app
        .post_ticket_redeem(Some("a-wrong-service-key-of-length"), &ticket)
        .await;
    let access_token = app
        .post_ticket_redeem(Some(&user.access_token), &ticket)
        .await;

    // Assert
    assert_bare_challenge(&missing);
    assert_problem(missing, 401, "token_missing").await;
    assert_problem(wrong, 401, "token_invalid").await;
    assert_problem(access_token, 401, "token_invalid").await;
    let redeemed = app.post_ticket_redeem(Some(SERVICE_KEY), &ticket).await;
    assert_eq!(redeemed.status(), StatusCode::OK);
}

async fn an_expired_ticket_is_refused(backend: Backend) {
    // Arrange
    let app = spawn_with_service_key(backend).await;
    let user = app.signup_test_user().await;
    let fresh = ticket(&app, &user.access_token).await;
    let stale = ticket(&app, &user.access_token).await;

    // Act + Assert: within its 30 s it works...
    app.advance(Duration::from_secs(29));
    let in_time = app.post_ticket_redeem(Some(SERVICE_KEY), &fresh).await;
    assert_eq!(in_time.status(), StatusCode::OK);
    // ...past them it does not.
    app.advance(Duration::from_secs(2));
    let late = app.post_ticket_redeem(Some(SERVICE_KEY), &stale).await;
    assert_problem(late, 401, "token_invalid").await;
}

async fn a_ticket_of_a_session_logged_out_before_redemption_is_revoked(backend: Backend) {
    // Arrange: tickets of two sessions of one user; one session logs out.
    let app = spawn_with_service_key(backend).await;
    let user = app.signup_test_user().await;
    let other = app.login_again(&user).await;
    let ended = ticket(&app, &user.access_token).await;
    let ended_for_socket = ticket(&app, &user.access_token).await;
    let live = ticket(&app, text(&other, "access_token")).await;
    let logout = app.post_logout(&user.access_token).await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);

    // Act
    let redeemed = app.post_ticket_redeem(Some(SERVICE_KEY), &ended).await;
    let upgrade = connect(&app, Some(&ended_for_socket)).await;

    // Assert
    assert_problem(redeemed, 401, "token_revoked").await;
    assert_refused_upgrade(upgrade, "token_revoked");
    let other_session = app.post_ticket_redeem(Some(SERVICE_KEY), &live).await;
    assert_eq!(other_session.status(), StatusCode::OK);
}

async fn a_ticket_traded_for_a_token_issued_before_a_role_removal_is_revoked(backend: Backend) {
    // Arrange: an editor's token; seconds later a ticket for it; then the role is removed.
    let app = spawn_with_service_key(backend).await;
    let admin_email = format!("admin-{:08x}@example.com", rand::random::<u32>());
    let password = "a sturdy admin passphrase";
    app.cli_create_user(&admin_email, password, &["admin"])
        .await;
    let admin = app
        .post_login(&json!({ "email": admin_email, "password": password }))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let admin_token = text(&admin, "access_token");
    let user = app.signup_test_user().await;
    let editor = json!({ "roles": ["editor"] });
    let patched = app.patch_admin_user(admin_token, &user.id, &editor).await;
    assert_eq!(patched.status(), StatusCode::OK);
    app.advance(Duration::from_millis(1));
    let token = app.refresh(&user.refresh_token).await;
    app.advance(Duration::from_secs(2));
    let minted = ticket(&app, text(&token, "access_token")).await;
    app.advance(Duration::from_millis(1));

    // Act
    let none = json!({ "roles": [] });
    let patched = app.patch_admin_user(admin_token, &user.id, &none).await;
    assert_eq!(patched.status(), StatusCode::OK);
    let redeemed = app.post_ticket_redeem(Some(SERVICE_KEY), &minted).await;

    // Assert: the ticket carried the editor role; it goes with the token it came from.
    assert_problem(redeemed, 401, "token_revoked").await;
}

// ---------------------------------------------------------------------------------------------
// /ws/echo

async fn the_echo_socket_admits_a_ticket_once_and_echoes(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let ticket = ticket(&app, &user.access_token).await;

    // Act
    let mut socket = connect(&app, Some(&ticket))
        .await
        .expect("the upgrade with a fresh ticket succeeds");

    // Assert
    assert_echoes(&mut socket, "hello, tessera").await;
    socket
        .send(Message::binary(vec![0_u8, 1, 2, 255]))
        .await
        .unwrap();
    let reply = socket.next().await.unwrap().unwrap();
    assert_eq!(reply, Message::binary(vec![0_u8, 1, 2, 255]));
    assert_echoes(&mut socket, "again").await;
    socket.close(None).await.unwrap();
    assert_refused_upgrade(connect(&app, Some(&ticket)).await, "token_invalid");
}

async fn the_echo_upgrade_without_a_ticket_is_refused_with_401(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let without = connect(&app, None).await;
    let unknown = connect(&app, Some("not-a-ticket")).await;
    let access_token = connect(&app, Some(&user.access_token)).await;

    // Assert
    assert_refused_upgrade(without, "token_missing");
    assert_refused_upgrade(unknown, "token_invalid");
    assert_refused_upgrade(access_token, "token_invalid");
}

async fn the_echo_upgrade_with_an_expired_ticket_is_refused_with_401(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let ticket = ticket(&app, &user.access_token).await;
    app.advance(Duration::from_secs(31));

    // Act
    let upgrade = connect(&app, Some(&ticket)).await;

    // Assert
    assert_refused_upgrade(upgrade, "token_invalid");
}

async fn a_plain_get_with_a_ticket_is_refused_and_does_not_spend_it(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let ticket = ticket(&app, &user.access_token).await;

    // Act
    let plain = app.get(&format!("/ws/echo?ticket={ticket}")).await;

    // Assert
    assert_problem(plain, 422, "validation_error").await;
    let mut socket = connect(&app, Some(&ticket))
        .await
        .expect("the ticket survives a request that was not an upgrade");
    assert_echoes(&mut socket, "still mine").await;
}

/// Opens `/ws/echo` with `ticket` as a page of `origin` would.
async fn connect_from(
    app: &TestApp,
    ticket: &str,
    origin: &str,
) -> Result<Socket, tungstenite::Error> {
    use tungstenite::client::IntoClientRequest;
    let mut request = echo_url(app, Some(ticket)).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

async fn the_echo_upgrade_from_a_foreign_page_is_refused_and_does_not_spend_the_ticket(
    backend: Backend,
) {
    // Arrange
    let app = spawn_app_with(backend, |s| {
        s.public_url = "http://auth.example.test".into();
    })
    .await;
    let user = app.signup_test_user().await;
    let ticket = ticket(&app, &user.access_token).await;

    // Act
    let foreign = connect_from(&app, &ticket, "https://evil.example").await;
    let own = connect_from(&app, &ticket, "http://auth.example.test").await;

    // Assert
    let Err(tungstenite::Error::Http(response)) = foreign else {
        panic!("a foreign page's upgrade must be refused: {foreign:?}");
    };
    assert_eq!(response.status().as_u16(), 403, "{response:?}");
    let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
    assert!(body.contains("csrf_failed"), "{body}");
    let mut socket = own.expect("a page of the server's own origin opens it");
    assert_echoes(&mut socket, "from home").await;
}

async fn an_open_socket_is_closed_when_its_session_is_logged_out(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let other = app.login_again(&user).await;
    let ticket_of_other = ticket(&app, text(&other, "access_token")).await;
    let mut kept = connect(&app, Some(&ticket_of_other)).await.unwrap();
    let ticket = ticket(&app, &user.access_token).await;
    let mut socket = connect(&app, Some(&ticket)).await.unwrap();
    assert_echoes(&mut socket, "before").await;

    // Act
    assert_eq!(app.post_logout(&user.access_token).await.status(), 204);

    // Assert: closed with a policy violation within a second; the other session's socket
    // stays open.
    let closed = tokio::time::timeout(Duration::from_secs(1), socket.next())
        .await
        .expect("closed within a second");
    let Some(Ok(Message::Close(Some(frame)))) = closed else {
        panic!("expected a close frame, got {closed:?}");
    };
    assert_eq!(u16::from(frame.code), 1008);
    assert_eq!(frame.reason.as_str(), "session revoked");
    assert_echoes(&mut kept, "still open").await;
}

// ---------------------------------------------------------------------------------------------
// Across instances

/// One of several instances sharing `database` and Redis under `prefix`, as API.md §5 asks:
/// the same issuer, public URL and master key.
async fn instance(database: &PgDatabase, prefix: &str, master_key: &str) -> TestApp {
    let (url, prefix, master_key) = (database.url(), prefix.to_owned(), master_key.to_owned());
    // The settings start as SQLite's (no database of their own); the shared one replaces it.
    spawn_app_with(Backend::Sqlite, move |s| {
        s.database_url = url.into();
        s.redis_url = "redis://127.0.0.1:6379".into();
        s.redis_prefix = prefix;
        s.master_key = master_key.into();
        s.issuer = "http://tessera.test".into();
        s.public_url = "http://tessera.test".into();
        s.service_keys = vec![SERVICE_KEY.into()];
    })
    .await
}

#[tokio::test]
async fn a_ticket_issued_on_one_instance_is_redeemed_once_across_instances() {
    // Arrange
    use base64::Engine;
    let database = PgDatabase::create().await;
    let prefix = format!("tessera-test:{:016x}:", rand::random::<u64>());
    let master_key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let a = instance(&database, &prefix, &master_key).await;
    let b = instance(&database, &prefix, &master_key).await;
    let user = a.signup_test_user().await;
    let first = ticket(&a, &user.access_token).await;
    let second = ticket(&a, &user.access_token).await;

    // Act
    let on_b = b.post_ticket_redeem(Some(SERVICE_KEY), &first).await;
    let again_on_a = a.post_ticket_redeem(Some(SERVICE_KEY), &first).await;
    let again_on_b = b.post_ticket_redeem(Some(SERVICE_KEY), &first).await;

    // Assert
    assert_eq!(on_b.status(), StatusCode::OK);
    let body: Value = on_b.json().await.unwrap();
    assert_eq!(body["user_id"], user.id.as_str());
    assert_eq!(body["session_id"], user.session_id.as_str());
    assert_problem(again_on_a, 401, "token_invalid").await;
    assert_problem(again_on_b, 401, "token_invalid").await;
    // The upgrade path shares the same store: a ticket spent by a socket on B is gone on A.
    let mut socket = connect(&b, Some(&second)).await.expect("upgrade on B");
    assert_echoes(&mut socket, "across").await;
    assert_refused_upgrade(connect(&a, Some(&second)).await, "token_invalid");
}
