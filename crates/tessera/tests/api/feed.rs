//! What resource servers use: token introspection (RFC 7662), the revocation feed and its
//! Server-Sent Events stream, all behind a service key.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tessera_core::Clock;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_problem, jwt_claims, spawn_app_with, text};

both_backends!(
    introspection_requires_the_service_key,
    introspecting_a_live_access_token_is_active_with_its_claims,
    introspecting_a_logged_out_access_token_is_inactive,
    introspecting_a_current_refresh_token_is_active_as_a_refresh_token,
    introspecting_garbage_is_inactive,
    the_revocation_feed_and_stream_require_the_service_key,
    the_feed_lists_revocations_oldest_first_with_increasing_cursors,
    the_feed_refuses_a_cursor_that_is_not_a_number,
    feed_entries_disappear_once_their_tokens_have_expired,
    the_stream_starts_live_and_sends_a_logout_with_its_cursor_as_id,
    reconnecting_with_last_event_id_replays_what_came_after_it,
);

const SERVICE_KEY: &str = "resource-server-key-0123456789";

async fn spawn_feed_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.service_keys = vec![SERVICE_KEY.into()]).await
}

// ---------------------------------------------------------------------------------------------
// Introspection

async fn introspection_requires_the_service_key(backend: Backend) {
    // Arrange
    let app = spawn_feed_app(backend).await;
    let user = app.signup_test_user().await;
    let form = [("token", user.access_token.as_str())];

    // Act
    let missing = app
        .post_form_with_key("/auth/introspect", None, &form)
        .await;
    let wrong = app
        .post_form_with_key("/auth/introspect", Some("not-the-service-key-000"), &form)
        .await;
    let user_token = app
        .post_form_with_key("/auth/introspect", Some(&user.access_token), &form)
        .await;

    // Assert
    let challenge = header(&missing, "www-authenticate");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");
    assert_problem(missing, 401, "token_missing").await;
    assert!(header(&wrong, "www-authenticate").starts_with("Bearer"));
    assert_problem(wrong, 401, "token_invalid").await;
    assert_problem(user_token, 401, "token_invalid").await;
}

async fn introspecting_a_live_access_token_is_active_with_its_claims(backend: Backend) {
    // Arrange
    let app = spawn_feed_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let response = introspect(&app, &user.access_token).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "access_token");
    assert_eq!(body["sub"], user.id.as_str());
    assert_eq!(body["sid"], user.session_id.as_str());
    assert_eq!(body["exp"], jwt_claims(&user.access_token)["exp"]);
    assert_eq!(body["exp"], app.clock.unix() + 900);
    assert_eq!(body["roles"], json!([]));
}

async fn introspecting_a_logged_out_access_token_is_inactive(backend: Backend) {
    // Arrange
    let app = spawn_feed_app(backend).await;
    let user = app.signup_test_user().await;
    assert_eq!(
        app.post_logout(&user.access_token).await.status(),
        StatusCode::NO_CONTENT
    );

    // Act
    let response = introspect(&app, &user.access_token).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "active": false }));
    let refresh: Value = introspect(&app, &user.refresh_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(refresh, json!({ "active": false }));
}

async fn introspecting_a_current_refresh_token_is_active_as_a_refresh_token(backend: Backend) {
    // Arrange
    let app = spawn_feed_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let response = introspect(&app, &user.refresh_token).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["sub"], user.id.as_str());
    assert_eq!(body["sid"], user.session_id.as_str());
    assert!(body["exp"].as_i64().unwrap() > app.clock.unix());

    // A rotated-away token is inactive, and asking about it ends nothing.
    let next = app.refresh(&user.refresh_token).await;
    app.advance(Duration::from_secs(11));
    let old: Value = introspect(&app, &user.refresh_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(old, json!({ "active": false }));
    let current: Value = introspect(&app, text(&next, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(current["active"], true, "{current}");
    app.refresh(text(&next, "refresh_token")).await;
}

async fn introspecting_garbage_is_inactive(backend: Backend) {
    // Arrange
    let app = spawn_feed_app(backend).await;
    let user = app.signup_test_user().await;
    let truncated = &user.access_token[..user.access_token.len() - 3];

    for token in ["garbage", "", "a.b.c", truncated, SERVICE_KEY] {
        // Act
        let response = introspect(&app, token).await;

        // Assert
        assert_eq!(response.status(), StatusCode::OK, "{token}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "active": false }), "{token}");
    }
}

// ---------------------------------------------------------------------------------------------
// The feed

async fn the_revocation_feed_and_stream_require_the_service_key(backend: Backend) {
    // Arrange
    let app = spawn_feed_app(backend).await;
    let user = app.signup_test_user().await;

    for path in ["/auth/revocations", "/auth/revocations/stream"] {
        // Act
        let missing = app.get_with_key(path, None).await;
        let wrong = app
            .get_with_key(path, Some("not-the-service-key-000"))
            .await;
        let user_token = app.get_with_key(path, Some(&user.access_token)).await;

        // Assert
        assert_eq!(missing.status().as_u16(), 401, "{path}");
        assert_problem(missing, 401, "token_missing").await;
        assert_problem(wrong, 401, "token_invalid").await;
        assert_problem(user_token, 401, "token_invalid").await;
    }
}

async fn the_feed_lists_revocations_oldest_first_with_increasing_cursors(backend: Backend) {
    // Arrange
    let app = spawn_feed_app(backend).await;
    let user = app.signup_test_user().await;
    let other = app.login_again(&user).await;
    logout(&app, &user.access_token).await;
    logout(&app, text(&other, "access_token")).await;

    // Act
    let page = feed(&app, "/auth/revocations").await;

    // Assert
    let items = page["items"].as_array().unwrap();
    let sids: Vec<&str> = items.iter().map(|i| text(i, "sid")).collect();
    assert_eq!(
        sids,
        [user.session_id.as_str(), text(&other, "session_id")],
        "oldest first: {page}"
    );
    let (first, second) = (cursor(&items[0]), cursor(&items[1]));
    assert!(first < second, "{page}");
    assert_eq!(page["cursor"], second, "{page}");
    let now = app.clock.unix();
    for item in items {
        let until = item["until"].as_i64().unwrap();
        assert!(
            until >= now + 900,
            "until covers the access tokens' lifetime: {item}"
        );
    }

    let after_first = feed(&app, &format!("/auth/revocations?since={first}")).await;
    let items = after_first["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{after_first}");
    assert_eq!(items[0]["sid"], text(&other, "session_id"));
    assert_eq!(after_first["cursor"], second);

    let after_second = feed(&app, &format!("/auth/revocations?since={second}")).await;
    assert_eq!(after_second["items"], json!([]), "{after_second}");
    assert_eq!(after_second["cursor"], second, "{after_second}");
}

async fn the_feed_refuses_a_cursor_that_is_not_a_number(backend: Backend) {
    // Arrange
    let app = spawn_feed_app(backend).await;

    // Act
    let response = app
        .get_with_key("/auth/revocations?since=abc", Some(SERVICE_KEY))
        .await;

    // Assert
    let body = assert_problem(response, 422, "validation_error").await;
    assert_eq!(body["errors"][0]["field"], "since", "{body}");
}

async fn feed_entries_disappear_once_their_tokens_have_expired(backend: Backend) {
    // Arrange
    let app = spawn_feed_app(backend).await;
    let user = app.signup_test_user().await;
    logout(&app, &user.access_token).await;
    let before = feed(&app, "/auth/revocations").await;
    assert_eq!(before["items"].as_array().unwrap().len(), 1, "{before}");
    let until = before["items"][0]["until"].as_i64().unwrap();

    // Act: past the access token's lifetime and the leeway
    app.advance(Duration::from_secs(15 * 60 + 30 + 1));

    // Assert
    assert!(app.clock.unix() >= until, "the clock passed until");
    let after = feed(&app, "/auth/revocations").await;
    assert_eq!(after["items"], json!([]), "{after}");
}

async fn the_stream_starts_live_and_sends_a_logout_with_its_cursor_as_id(backend: Backend) {
    // Arrange: a first subscriber sees one logout, so it has gone out live before the second
    // subscriber connects
    let app = spawn_feed_app(backend).await;
    let user = app.signup_test_user().await;
    let other = app.login_again(&user).await;
    let mut early = EventStream::open(&app, None).await;
    logout(&app, &user.access_token).await;
    let first = early.next().await;
    assert_eq!(first.data["sid"], user.session_id.as_str(), "{first:?}");
    let mut late = EventStream::open(&app, None).await;

    // Act
    logout(&app, text(&other, "access_token")).await;

    // Assert
    let event = late.next().await;
    assert_eq!(
        event.data["sid"],
        text(&other, "session_id"),
        "without Last-Event-ID the stream starts live: {event:?}"
    );
    assert_eq!(event.event.as_deref(), Some("revocation"));
    let page = feed(&app, "/auth/revocations").await;
    let listed = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["sid"] == text(&other, "session_id"))
        .unwrap()
        .clone();
    assert_eq!(event.id, cursor(&listed).to_string(), "{event:?}");
    assert_eq!(event.data["cursor"], listed["cursor"]);
    assert_eq!(event.data["until"], listed["until"]);
    let second = early.next().await;
    assert_eq!(second.id, event.id, "every subscriber gets it: {second:?}");
}

async fn reconnecting_with_last_event_id_replays_what_came_after_it(backend: Backend) {
    // Arrange: an event seen, then the connection lost while a second logout happens
    let app = spawn_feed_app(backend).await;
    let user = app.signup_test_user().await;
    let second = app.login_again(&user).await;
    let third = app.login_again(&user).await;
    let mut stream = EventStream::open(&app, None).await;
    logout(&app, &user.access_token).await;
    let seen = stream.next().await;
    assert_eq!(seen.data["sid"], user.session_id.as_str(), "{seen:?}");
    drop(stream);
    logout(&app, text(&second, "access_token")).await;

    // Act
    let mut stream = EventStream::open(&app, Some(&seen.id)).await;
    logout(&app, text(&third, "access_token")).await;

    // Assert
    let replayed = stream.next().await;
    assert_eq!(
        replayed.data["sid"],
        text(&second, "session_id"),
        "the missed revocation comes first: {replayed:?}"
    );
    assert!(
        replayed.id.parse::<i64>().unwrap() > seen.id.parse::<i64>().unwrap(),
        "{replayed:?} after {seen:?}"
    );
    let live = stream.next().await;
    assert_eq!(
        live.data["sid"],
        text(&third, "session_id"),
        "then live ones: {live:?}"
    );
    assert!(live.id.parse::<i64>().unwrap() > replayed.id.parse::<i64>().unwrap());
}

// ---------------------------------------------------------------------------------------------
// Helpers

async fn introspect(app: &TestApp, token: &str) -> Response {
    app.post_form_with_key("/auth/introspect", Some(SERVICE_KEY), &[("token", token)])
        .await
}

async fn logout(app: &TestApp, access_token: &str) {
    assert_eq!(
        app.post_logout(access_token).await.status(),
        StatusCode::NO_CONTENT
    );
}

/// A page of the feed at `path`, asserting 200.
async fn feed(app: &TestApp, path: &str) -> Value {
    let response = app.get_with_key(path, Some(SERVICE_KEY)).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

fn cursor(item: &Value) -> i64 {
    item["cursor"]
        .as_i64()
        .unwrap_or_else(|| panic!("no integer cursor in {item}"))
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// One Server-Sent Event.
#[derive(Debug)]
struct SseEvent {
    id: String,
    event: Option<String>,
    data: Value,
}

/// A connection to `/auth/revocations/stream`, read event by event.
struct EventStream {
    response: Response,
    buffer: String,
}

impl EventStream {
    /// How long an event may take to arrive.
    const WAIT: Duration = Duration::from_secs(5);

    async fn open(app: &TestApp, last_event_id: Option<&str>) -> Self {
        let mut request = app
            .client
            .get(app.url("/auth/revocations/stream"))
            .bearer_auth(SERVICE_KEY);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = header(&response, "content-type");
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event that carries data (keep-alive comments are skipped), within `WAIT`.
    async fn next(&mut self) -> SseEvent {
        tokio::time::timeout(Self::WAIT, async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    if let Some(event) = parse_event(&block) {
                        return event;
                    }
                    continue;
                }
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .unwrap()
                    .expect("the stream stays open");
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no event within {:?}", Self::WAIT))
    }
}

fn parse_event(block: &str) -> Option<SseEvent> {
    let (mut id, mut event, mut data) = (None, None, Vec::new());
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.to_owned()),
            "event" => event = Some(value.to_owned()),
            "data" => data.push(value),
            _ => {}
        }
    }
    if data.is_empty() {
        return None;
    }
    let data = serde_json::from_str(&data.join("\n")).expect("event data is JSON");
    Some(SseEvent {
        id: id.expect("every event has an id"),
        event,
        data,
    })
}
