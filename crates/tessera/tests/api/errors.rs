//! The error contract (API.md §1): problem+json everywhere, body limits, bearer challenges,
//! back-pressure, and no secret ever echoed.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_problem, spawn_app, spawn_app_with};

both_backends!(
    unknown_routes_answer_404_problem_json,
    a_wrong_method_on_a_known_route_answers_405_problem_json,
    a_1_mib_body_with_content_length_is_payload_too_large,
    a_1_mib_chunked_body_without_content_length_is_payload_too_large,
    me_without_a_token_is_token_missing_with_a_bare_bearer_challenge,
    me_with_a_garbage_token_is_token_invalid_with_an_invalid_token_challenge,
    me_with_a_basic_scheme_is_token_missing,
    a_full_hashing_queue_answers_503_unavailable_with_retry_after,
    error_responses_never_echo_a_password_or_a_token,
);

const ONE_MIB: usize = 1024 * 1024;

/// A JSON body of about 1 MiB whose password alone is over the limit: without the limit it
/// would be a 422 or a 401, never a 413.
fn one_mib_credentials() -> Vec<u8> {
    let password = "p".repeat(ONE_MIB);
    serde_json::to_vec(&json!({ "email": "big@example.com", "password": password })).unwrap()
}

/// What a raw request got back.
struct RawAnswer {
    status: u16,
    content_type: String,
    body: Value,
}

/// POSTs `body` as JSON over a plain TCP connection, with `Content-Length` or chunked, writing
/// while reading the answer. A server that refuses mid-upload answers and closes at once; the
/// hyper client then reports only the broken pipe of its unfinished write, so the answer is
/// read here directly.
async fn post_raw(app: &TestApp, path: &str, body: Vec<u8>, chunked: bool) -> RawAnswer {
    let host = app.address.trim_start_matches("http://").to_owned();
    let stream = TcpStream::connect(&host).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {}", body.len())
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nConnection: close\r\n{framing}\r\n\r\n"
    );
    let writing = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        for chunk in body.chunks(16 * 1024) {
            if chunked {
                writer
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                writer.write_all(chunk).await?;
                writer.write_all(b"\r\n").await?;
            } else {
                writer.write_all(chunk).await?;
            }
        }
        if chunked {
            writer.write_all(b"0\r\n\r\n").await?;
        }
        std::io::Result::Ok(())
    });
    let mut received = Vec::new();
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buffer = [0_u8; 8192];
        loop {
            if let Some(answer) = parse_answer(&received) {
                return answer;
            }
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => panic!(
                    "the connection ended before a full answer: {}",
                    String::from_utf8_lossy(&received)
                ),
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .expect("an answer within 10 s");
    writing.abort();
    answer
}

/// A complete HTTP/1.1 answer with a `Content-Length` body, or `None` if more is needed.
fn parse_answer(received: &[u8]) -> Option<RawAnswer> {
    let text = std::str::from_utf8(received).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let header = |name: &str| {
        head.lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_owned())
    };
    let length: usize = header("content-length")?.parse().ok()?;
    if body.len() < length {
        return None;
    }
    Some(RawAnswer {
        status,
        content_type: header("content-type").unwrap_or_default(),
        body: serde_json::from_str(&body[..length]).unwrap(),
    })
}

async fn get_me_with_authorization(app: &TestApp, authorization: Option<&str>) -> Response {
    let mut request = app.client.get(app.url("/users/me"));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.unwrap()
}

fn challenge(response: &Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .expect("a 401 carries WWW-Authenticate")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Every header value and the body, for searching a response for a secret.
async fn full_text(response: Response) -> String {
    let mut text = format!("{}\n", response.status());
    for (name, value) in response.headers() {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    text.push_str(&response.text().await.unwrap());
    text
}

async fn unknown_routes_answer_404_problem_json(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    // Act
    let get = app.get("/no/such/route").await;
    let post = app.post_json("/auth/nowhere", &json!({})).await;

    // Assert
    let body = assert_problem(get, 404, "not_found").await;
    assert_eq!(body["type"], "about:blank");
    assert_eq!(body["title"], "Not Found");
    assert!(body["detail"].is_string());
    assert_problem(post, 404, "not_found").await;
}

async fn a_wrong_method_on_a_known_route_answers_405_problem_json(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    // Act
    let get_signup = app.get("/auth/signup").await;
    let delete_healthz = app.client.delete(app.url("/healthz")).send().await.unwrap();

    // Assert
    let allow = get_signup.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("POST"), "RFC 9110 asks for Allow: {allow}");
    let body = assert_problem(get_signup, 405, "method_not_allowed").await;
    assert_eq!(body["title"], "Method Not Allowed");
    assert_problem(delete_healthz, 405, "method_not_allowed").await;
}

async fn a_1_mib_body_with_content_length_is_payload_too_large(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    for path in ["/auth/signup", "/auth/login"] {
        // Act
        let answer = post_raw(&app, path, one_mib_credentials(), false).await;

        // Assert
        assert_payload_too_large(&answer, path);
    }
}

async fn a_1_mib_chunked_body_without_content_length_is_payload_too_large(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    for path in ["/auth/signup", "/auth/login"] {
        // Act
        let answer = post_raw(&app, path, one_mib_credentials(), true).await;

        // Assert
        assert_payload_too_large(&answer, path);
    }
}

fn assert_payload_too_large(answer: &RawAnswer, path: &str) {
    assert_eq!(answer.status, 413, "{path}: {}", answer.body);
    assert_eq!(answer.content_type, "application/problem+json", "{path}");
    assert_eq!(answer.body["code"], "payload_too_large", "{path}");
    assert_eq!(answer.body["status"], 413, "{path}");
}

async fn me_without_a_token_is_token_missing_with_a_bare_bearer_challenge(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    // Act
    let response = get_me_with_authorization(&app, None).await;

    // Assert
    let challenge = challenge(&response);
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");
    assert_problem(response, 401, "token_missing").await;
}

async fn me_with_a_garbage_token_is_token_invalid_with_an_invalid_token_challenge(
    backend: Backend,
) {
    // Arrange
    let app = spawn_app(backend).await;

    for token in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        // Act
        let response = app.get_me(token).await;

        // Assert
        let challenge = challenge(&response);
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{token}: {challenge}"
        );
        assert_problem(response, 401, "token_invalid").await;
    }
}

async fn me_with_a_basic_scheme_is_token_missing(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let basic = get_me_with_authorization(&app, Some("Basic dXNlcjpwYXNzd29yZA==")).await;
    let basic_with_a_real_token =
        get_me_with_authorization(&app, Some(&format!("Basic {}", user.access_token))).await;

    // Assert
    for response in [basic, basic_with_a_real_token] {
        let challenge = challenge(&response);
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert!(!challenge.contains("error="), "{challenge}");
        assert_problem(response, 401, "token_missing").await;
    }
}

async fn a_full_hashing_queue_answers_503_unavailable_with_retry_after(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, |s| {
        s.passwords.hash_threads = 1;
        s.passwords.hash_queue = 1;
        // Concurrent logins of one account from one address would otherwise meet its limit,
        // which reserves an attempt before hashing; this test is about the queue.
        s.rate_limits.enabled = false;
    })
    .await;
    let user = app.signup_test_user().await;

    // Act
    let attempts: Vec<_> = (0..12)
        .map(|_| {
            let request = app
                .client
                .post(app.url("/auth/login"))
                .json(&json!({ "email": user.email, "password": user.password }));
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                let content_type = response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let body: Value = response.json().await.unwrap();
                (status, retry_after, content_type, body)
            })
        })
        .collect();
    let mut results = Vec::new();
    for attempt in attempts {
        results.push(attempt.await.unwrap());
    }

    // Assert
    let statuses: Vec<u16> = results.iter().map(|r| r.0).collect();
    assert!(
        statuses.iter().all(|s| [200, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200), "some logins succeed: {statuses:?}");
    let busy: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    assert!(!busy.is_empty(), "a full queue refuses: {statuses:?}");
    for (_, retry_after, content_type, body) in busy {
        let seconds: u64 = retry_after
            .as_deref()
            .expect("a 503 carries Retry-After")
            .parse()
            .expect("Retry-After in seconds");
        assert!(seconds >= 1);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["code"], "unavailable", "{body}");
        assert_eq!(body["status"], 503);
    }
    let after = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;
    assert_eq!(after.status(), StatusCode::OK, "the pool recovers");
}

async fn error_responses_never_echo_a_password_or_a_token(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let wrong_password = "Wr0ng-Secret-7781";
    let short_password = "Sh0rt!x";
    let long_password = "Zz9-Secret-".repeat(30);
    let numeric_password = 86_753_091_u64;
    let garbage_token = "not-a-jwt-but-secret-4471";

    // Act
    let responses = vec![
        (
            wrong_password.to_owned(),
            app.post_login(&json!({ "email": user.email, "password": wrong_password }))
                .await,
        ),
        (
            short_password.to_owned(),
            app.post_signup(&json!({ "email": "short@example.com", "password": short_password }))
                .await,
        ),
        (
            "Zz9-Secret-Zz9".to_owned(),
            app.post_signup(&json!({ "email": "long@example.com", "password": long_password }))
                .await,
        ),
        (
            numeric_password.to_string(),
            app.post_login(&json!({ "email": user.email, "password": numeric_password }))
                .await,
        ),
        (
            wrong_password.to_owned(),
            app.post_password(
                &user.access_token,
                &json!({ "current_password": wrong_password, "new_password": "another passphrase" }),
            )
            .await,
        ),
        (
            short_password.to_owned(),
            app.post_password(
                &user.access_token,
                &json!({ "current_password": user.password, "new_password": short_password }),
            )
            .await,
        ),
        (
            wrong_password.to_owned(),
            app.delete_me(&user.access_token, &json!({ "password": wrong_password }))
                .await,
        ),
        (garbage_token.to_owned(), app.get_me(garbage_token).await),
        (
            user.access_token.clone(),
            get_me_with_authorization(&app, Some(&format!("Token {}", user.access_token)))
                .await,
        ),
    ];

    // Assert
    for (secret, response) in responses {
        let status = response.status();
        assert!(status.is_client_error(), "{secret}: {status}");
        let text = full_text(response).await;
        assert!(
            text.contains("application/problem+json"),
            "an error answer: {text}"
        );
        assert!(
            !text.contains(&secret),
            "the response echoes {secret:?}: {text}"
        );
    }
}
