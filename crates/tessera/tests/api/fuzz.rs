//! API fuzzing with Schemathesis (from the test command's Python environment): thousands of
//! generated requests, valid and not, against every operation of `/openapi.json` of a running
//! server. Every answer must be documented (status, content type, headers, body schema) and
//! none may be a server error. This is the short run; `bench/fuzz-api.sh` runs a long one.

use crate::helpers::{Backend, run_cli, spawn_app_with};

/// Examples per operation and phase: a few seconds of requests here.
const EXAMPLES: &str = "15";

/// What Schemathesis checks: nothing answered 5xx, and every answer is what the document
/// says. (Not whether the server accepts every schema-valid request: a valid-looking token or
/// code is still refused.)
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_to_every_operation_get_documented_answers_and_no_server_error() {
    // Arrange: rate limits off (thousands of requests come from one address), a signed-in
    // caller for the operations that need one.
    // On a domain, so the passkey operations are served (an IP address has no relying party).
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.rate_limits.enabled = false;
        s.public_url = "http://tessera.test".into();
    })
    .await;
    let user = app.signup_test_user().await;
    let mut command = std::process::Command::new("schemathesis");
    command.args([
        "run",
        &app.url("/openapi.json"),
        "--max-examples",
        EXAMPLES,
        "--seed",
        "20261204",
        "--checks",
        CHECKS,
        "--header",
        &format!("Authorization: Bearer {}", user.access_token),
    ]);

    // Act
    let output = run_cli(command).await;

    // Assert
    assert!(
        output.status.success(),
        "schemathesis found problems (is it installed? the test command puts it on PATH):\n{}\n{}",
        output.stdout,
        output.stderr
    );
    assert!(output.stdout.contains("passed"), "{}", output.stdout);
}

/// Raw bodies Schemathesis does not send (bytes that are not UTF-8, JSON nested deeply, the
/// wrong content type), to every endpoint that reads a body before any credential check: each
/// gets a 4xx problem, never a server error.
#[test]
fn arbitrary_bytes_to_the_unauthenticated_endpoints_get_a_client_error() {
    use proptest::prelude::*;

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(spawn_app_with(Backend::Sqlite, |s| {
        s.rate_limits.enabled = false;
        s.public_url = "http://tessera.test".into();
    }));
    let endpoints = [
        ("/auth/signup", "application/json"),
        ("/auth/login", "application/json"),
        ("/auth/login", "application/x-www-form-urlencoded"),
        ("/auth/refresh", "application/json"),
        ("/auth/login/mfa", "application/json"),
        ("/auth/password/forgot", "application/json"),
        ("/auth/magic-link/verify", "application/json"),
        ("/auth/passkey/options", "application/json"),
        ("/auth/passkey/login", "application/json"),
        ("/oauth/token", "application/x-www-form-urlencoded"),
        ("/oauth/revoke", "application/x-www-form-urlencoded"),
        ("/auth/introspect", "application/x-www-form-urlencoded"),
    ];
    let bodies = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2_000),
        // JSON nested past any sane depth.
        (1usize..5_000)
            .prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()),
        "\\PC{0,300}".prop_map(String::into_bytes),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(200));
    runner
        .run(&(0..endpoints.len(), bodies), |(index, body)| {
            let (path, content_type) = endpoints[index];
            let response = runtime.block_on(
                app.client
                    .post(app.url(path))
                    .header("content-type", content_type)
                    .body(body)
                    .send(),
            );
            let response = response.expect("the server answers");
            let status = response.status();
            prop_assert!(
                status.is_client_error() || status.is_success(),
                "{path} ({content_type}) answered {status}"
            );
            Ok(())
        })
        .unwrap();
}
