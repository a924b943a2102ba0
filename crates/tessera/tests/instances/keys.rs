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
    // Arrange: two instances, a session on each; keys published 5 s ahead of signing
    let mut deployment = Deployment::new(&shared_redis_url()).await;
    deployment.set("TESSERA_TOKENS__KEY_PUBLISH_AHEAD", "5s");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emergency_rotation_signs_at_once_and_a_retired_key_is_refused_everywhere_within_a_second()
 {
    // Arrange: two instances with the default publish-ahead (60 s), a session on each.
    let deployment = Deployment::new(&shared_redis_url()).await;
    let instances = deployment.start_all(&["a", "b"]).await;
    let (a, b) = (&instances[0], &instances[1]);
    let on_a = a.signup().await;
    let on_b = b.signup().await;
    let compromised = kid_of(&on_a.access_token);

    // Act: the key is compromised; the operator withdraws it.
    let retired = deployment.cli(&["keys", "retire", &compromised]).await;
    assert!(retired.status.success(), "{retired:?}");
    let started = Instant::now();

    // Assert: its tokens are refused on both within a second (an unknown key: token_invalid).
    for (instance, token) in [(a, &on_a.access_token), (b, &on_b.access_token)] {
        loop {
            let response = instance.get_me(token).await;
            if response.status() == reqwest::StatusCode::UNAUTHORIZED {
                crate::support::server::assert_problem(response, 401, "token_invalid").await;
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{} still accepts a token of a withdrawn key",
                instance.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // A new key signs at once (no waiting the publish-ahead), and every instance accepts it.
    let refreshed = a.refresh(&on_a.refresh_token).await;
    let next = kid_of(&refreshed.access_token);
    assert_ne!(next, compromised);
    b.assert_accepts_within(&refreshed.access_token, Duration::from_secs(1))
        .await;
    let jwks: Value = b
        .process_client()
        .get(b.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|key| key["kid"].as_str())
        .collect();
    assert_eq!(
        kids,
        [next.as_str()],
        "the withdrawn key is out of the JWKS"
    );

    // And `keys rotate --now` signs at once too.
    let rotated = deployment.cli(&["keys", "rotate", "--now"]).await;
    assert!(rotated.status.success(), "{rotated:?}");
    let since = Instant::now();
    let mut session = refreshed;
    loop {
        session = b.refresh(&session.refresh_token).await;
        if kid_of(&session.access_token) != next {
            break;
        }
        assert!(
            since.elapsed() < Duration::from_secs(2),
            "no new key after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The other instance knows the key once it re-reads the keys (twice a second).
    a.assert_accepts_within(&session.access_token, Duration::from_secs(1))
        .await;
}
