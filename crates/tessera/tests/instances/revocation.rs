//! Revocation across instances (API.md §5): a logout on one instance makes the session's access
//! tokens fail with `token_revoked` on every other within a second, over a Redis server or a
//! Redis Cluster; with Redis down, logout answers 503 but is still recorded, and every instance
//! catches up from the database; Redis coming back needs no restart.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_testkit::eventually;
use tessera_testkit::redis::{RedisCluster, RedisServer, redis_cli, shared_redis_url};
use tokio::time::Instant;

use crate::support::server::{Deployment, assert_problem};
use crate::support::{PROPAGATION_BOUND, millis, percentile};

/// How long a poll for a revocation goes on before it gives up (well past the bound, so that a
/// slow propagation is measured and reported rather than cut off).
const POLL_PATIENCE: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_instance_revokes_the_access_token_on_every_other_within_a_second() {
    // Arrange
    let deployment = Deployment::new(&shared_redis_url()).await;
    let instances = deployment.start_all(&["a", "b", "c"]).await;
    let (a, b, c) = (&instances[0], &instances[1], &instances[2]);
    let mut sessions = Vec::new();
    for index in 0..20 {
        sessions.push(instances[index % 3].signup().await);
    }
    for session in &sessions {
        for instance in &instances {
            instance.assert_accepts(&session.access_token).await;
        }
    }

    // Act and assert, one session at a time: b and c are polled from the moment the logout is
    // sent, so each delay is from that moment to the first refusal (to within ~5 ms)
    let mut delays = Vec::new();
    for (index, session) in sessions.iter().enumerate() {
        let (logged_out, refused) = a
            .log_out_and_watch(&session.access_token, &[b, c], POLL_PATIENCE)
            .await;
        println!(
            "session {index:2}: logout on a answered 204 after {}; token_revoked on b after {}, on c after {}",
            millis(logged_out),
            millis(refused[0]),
            millis(refused[1])
        );
        assert_problem(a.get_me(&session.access_token).await, 401, "token_revoked").await;
        delays.extend(refused);
    }

    println!(
        "propagation a → b, c from sending the logout, {} measurements: p50 {}, p99 {}, max {}",
        delays.len(),
        millis(percentile(&delays, 50)),
        millis(percentile(&delays, 99)),
        millis(percentile(&delays, 100)),
    );
    let slowest = percentile(&delays, 100);
    assert!(
        slowest <= PROPAGATION_BOUND,
        "a revocation took {} to reach another instance",
        millis(slowest)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_removed_on_one_instance_revokes_earlier_tokens_on_every_other_within_a_second() {
    // Arrange: an admin made by the command line, and a user who is an editor.
    let deployment = Deployment::new(&shared_redis_url()).await;
    let instances = deployment.start_all(&["a", "b", "c"]).await;
    let (a, b, c) = (&instances[0], &instances[1], &instances[2]);
    let admin_token = &deployment.admin_token(a).await;
    let user = b.signup().await;
    let me: Value = b.get_me(&user.access_token).await.json().await.unwrap();
    let id = me["id"].as_str().unwrap();
    a.patch_user(admin_token, id, &json!({ "roles": ["editor"] }))
        .await;
    let editor = c.refresh(&user.refresh_token).await;
    for instance in &instances {
        instance.assert_accepts(&editor.access_token).await;
    }

    // Act
    let no_roles = json!({ "roles": [] });
    let watchers = [b, c];
    let since = Instant::now();
    let (_, refused) = tokio::join!(
        a.patch_user(admin_token, id, &no_roles),
        crate::support::server::times_until_revoked(
            &watchers,
            &editor.access_token,
            since,
            POLL_PATIENCE
        ),
    );

    // Assert: refused everywhere within the bound; the session lives on without the role.
    println!(
        "role removal on a: token_revoked on b after {}, on c after {}",
        millis(refused[0]),
        millis(refused[1])
    );
    assert!(
        refused.iter().all(|delay| *delay <= PROPAGATION_BOUND),
        "{refused:?}"
    );
    assert_problem(a.get_me(&editor.access_token).await, 401, "token_revoked").await;
    let demoted = b.refresh(&editor.refresh_token).await;
    for instance in &instances {
        instance.assert_accepts(&demoted.access_token).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_disabled_and_enabled_again_logs_in_at_once_with_a_token_every_instance_accepts() {
    // Arrange: real clocks, and the start of a second, so that the disable, the enable and
    // the login all happen within one second.
    let deployment = Deployment::new(&shared_redis_url()).await;
    let instances = deployment.start_all(&["a", "b"]).await;
    let (a, b) = (&instances[0], &instances[1]);
    let admin_token = &deployment.admin_token(a).await;
    let email = format!("user-{:08x}@example.com", rand::random::<u32>());
    let user_password = "correct horse battery staple";
    let signup = b
        .post_signup(&json!({ "email": email, "password": user_password }))
        .await;
    let signup: Value = signup.json().await.unwrap();
    let id = signup["user"]["id"].as_str().unwrap().to_owned();
    wait_for_the_start_of_a_second().await;

    // Act
    a.patch_user(admin_token, &id, &json!({ "disabled": true }))
        .await;
    a.patch_user(admin_token, &id, &json!({ "disabled": false }))
        .await;
    let login = b.login(&email, user_password).await;

    // Assert
    let token = login["access_token"].as_str().unwrap();
    for instance in &instances {
        instance.assert_accepts(token).await;
    }
    let stale = signup["access_token"].as_str().unwrap();
    for instance in &instances {
        assert_problem(instance.get_me(stale).await, 401, "token_revoked").await;
    }
}

/// Sleeps until the wall clock is in the first 50 ms of a second.
async fn wait_for_the_start_of_a_second() {
    use tessera_core::Clock;
    let subsec = tessera_core::SystemClock.now().millisecond();
    if subsec >= 50 {
        tokio::time::sleep(Duration::from_millis(u64::from(1_000 - subsec))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revocation_stream_delivers_concurrent_revocations_of_two_instances_in_cursor_order() {
    // Arrange: a resource server follows c's stream while a and b revoke at the same time.
    let mut deployment = Deployment::new(&shared_redis_url()).await;
    let service_key = "a-service-key-of-enough-length";
    deployment.set("TESSERA_SERVICE_KEYS", service_key);
    // Forty signups from one address: past the signup limit, which is not under test here.
    deployment.set("TESSERA_RATE_LIMITS__ENABLED", "false");
    let instances = deployment.start_all(&["a", "b", "c"]).await;
    let (a, b, c) = (&instances[0], &instances[1], &instances[2]);
    let mut sessions = Vec::new();
    for index in 0..40 {
        sessions.push(instances[index % 2].signup().await);
    }
    let mut stream = c
        .process_client()
        .get(c.url("/auth/revocations/stream"))
        .bearer_auth(service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);

    // Act: every logout at once, half on a, half on b.
    let logouts = sessions.iter().enumerate().map(|(index, session)| {
        let instance = if index % 2 == 0 { a } else { b };
        instance.logout(&session.access_token)
    });
    futures_util::future::join_all(logouts).await;

    // Assert: every session's revocation, ids strictly increasing.
    let mut ids = Vec::new();
    let mut sids = std::collections::BTreeSet::new();
    let mut buffer = String::new();
    let deadline = Instant::now() + POLL_PATIENCE;
    while sids.len() < sessions.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, stream.chunk())
            .await
            .expect("every revocation within the patience")
            .unwrap()
            .expect("the stream stays open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|line| line.strip_prefix(name).map(str::trim))
                    .map(str::to_owned)
            };
            let (Some(id), Some(data)) = (field("id:"), field("data:")) else {
                continue;
            };
            ids.push(id.parse::<i64>().unwrap());
            let item: Value = serde_json::from_str(&data).unwrap();
            sids.insert(item["sid"].as_str().unwrap().to_owned());
        }
    }
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "ids out of order: {ids:?}"
    );
    let expected: std::collections::BTreeSet<String> =
        sessions.iter().map(|s| s.session_id.clone()).collect();
    assert_eq!(sids, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_logout_answers_503_yet_takes_effect_and_redis_coming_back_needs_no_restart()
 {
    // Arrange: a Redis of this test's own, that it can stop
    let mut redis = RedisServer::start().await;
    let deployment = Deployment::new(&redis.url()).await;
    let instances = deployment.start_all(&["a", "b"]).await;
    let (a, b) = (&instances[0], &instances[1]);
    let ended_during_outage = a.signup().await;
    let kept = b.signup().await;
    let ended_after_outage = a.signup().await;
    for session in [&ended_during_outage, &kept, &ended_after_outage] {
        b.assert_accepts(&session.access_token).await;
    }

    // Act: Redis goes away
    redis.kill();

    // Assert: not ready, logout refused with 503, verification goes on from memory
    for instance in &instances {
        let response = eventually(
            Duration::from_secs(5),
            &format!("{} answers /readyz with 503", instance.name),
            || async move {
                let response = instance.get_readyz().await.ok()?;
                (response.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(response)
            },
        )
        .await;
        assert_problem(response, 503, "unavailable").await;
    }
    let since = Instant::now();
    let ((logout, answered), caught_up) = tokio::join!(
        async {
            let logout = a.post_logout(&ended_during_outage.access_token).await;
            (logout, since.elapsed())
        },
        b.time_until_revoked(&ended_during_outage.access_token, since, POLL_PATIENCE),
    );
    assert_problem(logout, 503, "unavailable").await;
    for instance in &instances {
        instance.assert_accepts(&kept.access_token).await;
    }
    // The revocation was recorded and applied on a, and b caught up from the database.
    assert_problem(
        a.get_me(&ended_during_outage.access_token).await,
        401,
        "token_revoked",
    )
    .await;
    println!(
        "with Redis down: the logout answered 503 on a after {}, b refused the token after {}",
        millis(answered),
        millis(caught_up)
    );
    assert!(
        caught_up <= Duration::from_secs(2),
        "b caught up from the database only after {}",
        millis(caught_up)
    );

    // Act: Redis comes back on the same port
    redis.restart().await;

    // Assert: ready again and propagating through Redis again, without a restart
    for instance in &instances {
        eventually(
            Duration::from_secs(15),
            &format!("{} answers /readyz with 200 again", instance.name),
            || async move {
                let response = instance.get_readyz().await.ok()?;
                (response.status() == StatusCode::OK).then_some(())
            },
        )
        .await;
    }
    wait_until_subscribed(&redis, &deployment, instances.len()).await;
    let (_, refused) = a
        .log_out_and_watch(&ended_after_outage.access_token, &[b], POLL_PATIENCE)
        .await;
    let delay = refused[0];
    println!(
        "after Redis came back: token_revoked on b {} after the logout on a",
        millis(delay)
    );
    assert!(
        delay <= PROPAGATION_BOUND,
        "took {} after Redis came back",
        millis(delay)
    );
    for instance in &instances {
        instance.assert_accepts(&kept.access_token).await;
    }
    assert_problem(
        b.post_refresh(&ended_during_outage.refresh_token).await,
        401,
        "refresh_invalid",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_redis_cluster_a_logout_on_one_instance_revokes_the_access_token_on_the_other() {
    // Arrange: fails (never skips) when the cluster cannot form
    let cluster = RedisCluster::start().await;
    let deployment = Deployment::new(&cluster.url()).await;
    let instances = deployment.start_all(&["a", "b"]).await;
    let (a, b) = (&instances[0], &instances[1]);
    let mut sessions = Vec::new();
    for _ in 0..5 {
        let session = a.signup().await;
        b.assert_accepts(&session.access_token).await;
        sessions.push(session);
    }

    // Act and assert
    let mut delays = Vec::new();
    for session in &sessions {
        let (_, refused) = a
            .log_out_and_watch(&session.access_token, &[b], POLL_PATIENCE)
            .await;
        delays.extend(refused);
    }

    println!(
        "propagation a → b over a Redis Cluster, {} sessions: p50 {}, max {}",
        delays.len(),
        millis(percentile(&delays, 50)),
        millis(percentile(&delays, 100)),
    );
    let slowest = percentile(&delays, 100);
    assert!(
        slowest <= PROPAGATION_BOUND,
        "a revocation took {} over the cluster",
        millis(slowest)
    );
}

/// Waits until `count` instances are subscribed to the deployment's revocation channel again:
/// `/readyz` checks the command connection, while the subscription comes back on its own
/// backoff (up to 2 s), and until then revocations arrive by the database read-back only.
async fn wait_until_subscribed(redis: &RedisServer, deployment: &Deployment, count: usize) {
    let channel = format!("{}revocations", deployment.redis_prefix());
    let port = redis.port();
    eventually(
        Duration::from_secs(15),
        &format!("{count} instances subscribe to {channel} again"),
        || {
            let channel = channel.clone();
            async move {
                let answer = redis_cli(port, &["PUBSUB", "NUMSUB", &channel]).await?;
                let subscribers: usize = answer.lines().nth(1)?.trim().parse().ok()?;
                (subscribers >= count).then_some(())
            }
        },
    )
    .await;
}
