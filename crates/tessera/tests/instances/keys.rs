//! Signing-key rotation across instances: a key rotated in is published everywhere before any
//! instance signs with it, so no instance ever refuses a token of the new key as unknown.

use std::time::Duration;

use base64::Engine;
use serde_json::Value;
use tessera_testkit::redis::shared_redis_url;
use tokio::time::Instant;

use crate::support::server::Deployment;

/// The `kid` in an access token's header.
fn kid_of(token: &str) -> String {
    let header = token.split('.').next().expect("a JWT has a header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url");
    let header: Value = serde_json::from_slice(&bytes).expect("a JSON header");
    header["kid"].as_str().expect("a kid").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_signs_only_once_every_instance_knows_it() {
    // Arrange: two instances, a session on each
    let deployment = Deployment::new(&shared_redis_url()).await;
    let instances = deployment.start_all(&["a", "b"]).await;
    let (a, b) = (&instances[0], &instances[1]);
    let mut on_a = a.signup().await;
    let mut on_b = b.signup().await;
    let old_kid = kid_of(&on_a.access_token);
    assert_eq!(kid_of(&on_b.access_token), old_kid);

    // Act: an operator rotates the key from the command line
    let rotated = deployment.cli(&["keys", "rotate"]).await;
    assert!(rotated.status.success(), "{rotated:?}");
    let started = Instant::now();

    // Assert: until both sign with the new key, every fresh token from one instance is
    // accepted by the other
    let (mut a_switched, mut b_switched) = (None, None);
    let mut checked = 0;
    while a_switched.is_none() || b_switched.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "still signing with the old key after 15 s (a: {a_switched:?}, b: {b_switched:?})"
        );
        on_a = a.refresh(&on_a.refresh_token).await;
        on_b = b.refresh(&on_b.refresh_token).await;
        b.assert_accepts(&on_a.access_token).await;
        a.assert_accepts(&on_b.access_token).await;
        checked += 2;
        if kid_of(&on_a.access_token) != old_kid {
            a_switched.get_or_insert(started.elapsed());
        }
        if kid_of(&on_b.access_token) != old_kid {
            b_switched.get_or_insert(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "new key signing on a after {a_switched:?}, on b after {b_switched:?}; {checked} tokens crossed over"
    );
    let latest = a_switched.max(b_switched).unwrap_or_default();
    assert!(latest <= Duration::from_secs(10), "took {latest:?}");
    // It is published for a while before it signs: that is what keeps the other instance ready.
    let earliest = a_switched.min(b_switched).unwrap_or_default();
    assert!(
        earliest >= Duration::from_secs(3),
        "signed after only {earliest:?}"
    );
}
