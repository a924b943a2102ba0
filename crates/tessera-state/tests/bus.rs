//! The revocation buses against real backends: the shared Redis on 6379 with a unique prefix per
//! test, and Redis servers and a three-node Cluster that tests start, kill and restart themselves.

mod support;

use std::time::Duration;

use std::sync::Arc;
use tessera_core::ports::RevocationBus;
use tessera_core::session::{Revocation, RevocationTarget};

use tessera_core::{Clock, StateError, SystemClock, UserId};
use tessera_state::{MemoryBus, RedisBus};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use support::{PATIENCE, RECOVERY_PATIENCE, init_logs, next_revocation, session_revocation};
use tessera_testkit::redis::{RedisCluster, RedisServer, shared_redis_url, unique_prefix};
use tessera_testkit::{eventually, free_port};

#[tokio::test]
async fn the_memory_bus_delivers_every_revocation_to_every_subscriber() {
    // Arrange
    let bus = MemoryBus::new();
    let mut first = bus.subscribe();
    let mut second = bus.subscribe();
    let revocations = [session_revocation(1), user_revocation(2)];

    // Act
    bus.publish(&revocations).await.expect("in-process publish");

    // Assert
    for receiver in [&mut first, &mut second] {
        assert_eq!(next_revocation(receiver).await, revocations[0]);
        assert_eq!(next_revocation(receiver).await, revocations[1]);
    }
    bus.ping().await.expect("the memory bus always answers");
}

#[tokio::test]
async fn open_without_a_url_gives_the_in_process_bus() {
    let bus = tessera_state::open("", "ignored:", clock())
        .await
        .expect("no Redis needed")
        .bus;
    let mut receiver = bus.subscribe();
    let revocation = session_revocation(1);

    bus.publish(&[revocation])
        .await
        .expect("in-process publish");

    assert_eq!(next_revocation(&mut receiver).await, revocation);
}

#[tokio::test]
async fn a_revocation_published_on_one_instance_reaches_every_instance_with_the_same_prefix() {
    init_logs();
    // Arrange
    let prefix = unique_prefix();
    let a = RedisBus::connect(&shared_redis_url(), &prefix)
        .await
        .expect("connect a");
    let b = tessera_state::open(&shared_redis_url(), &prefix, clock())
        .await
        .expect("connect b")
        .bus;
    let (mut on_a, mut on_b) = (a.subscribe(), b.subscribe());
    let revocations = [session_revocation(41), user_revocation(42)];

    // Act
    a.publish(&revocations).await.expect("publish");

    // Assert
    for receiver in [&mut on_a, &mut on_b] {
        assert_eq!(next_revocation(receiver).await, revocations[0]);
        assert_eq!(next_revocation(receiver).await, revocations[1]);
    }
    a.ping().await.expect("ping a");
    b.ping().await.expect("ping b");
}

#[tokio::test]
async fn instances_with_different_prefixes_do_not_hear_each_other() {
    init_logs();
    // Arrange
    let (first_prefix, second_prefix) = (unique_prefix(), unique_prefix());
    let first = RedisBus::connect(&shared_redis_url(), &first_prefix)
        .await
        .expect("connect");
    let second = RedisBus::connect(&shared_redis_url(), &second_prefix)
        .await
        .expect("connect");
    let (mut on_first, mut on_second) = (first.subscribe(), second.subscribe());
    let (for_first, for_second) = (session_revocation(1), session_revocation(2));

    // Act: Redis delivers in publish order, so had the other prefix's message reached a
    // subscriber, it would arrive before the one it is waiting for.
    first.publish(&[for_first]).await.expect("publish first");
    second.publish(&[for_second]).await.expect("publish second");
    let then_first = session_revocation(3);
    first
        .publish(&[then_first])
        .await
        .expect("publish first again");

    // Assert
    assert_eq!(next_revocation(&mut on_second).await, for_second);
    assert_eq!(next_revocation(&mut on_first).await, for_first);
    assert_eq!(next_revocation(&mut on_first).await, then_first);
}

#[tokio::test]
async fn a_malformed_message_on_the_channel_is_ignored() {
    init_logs();
    // Arrange
    let prefix = unique_prefix();
    let bus = RedisBus::connect(&shared_redis_url(), &prefix)
        .await
        .expect("connect");
    let mut receiver = bus.subscribe();
    let client = redis::Client::open(shared_redis_url()).expect("valid url");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("raw connection");
    let valid = session_revocation(7);

    // Act
    let _: i64 = redis::cmd("PUBLISH")
        .arg(format!("{prefix}revocations"))
        .arg(r#"{"cursor":"not a number"}"#)
        .query_async(&mut raw)
        .await
        .expect("raw publish");
    bus.publish(&[valid]).await.expect("publish");

    // Assert
    assert_eq!(next_revocation(&mut receiver).await, valid);
}

#[tokio::test]
async fn dropping_every_clone_of_the_bus_ends_its_subscription() {
    init_logs();
    // Arrange
    let prefix = unique_prefix();
    let channel = format!("{prefix}revocations");
    let bus = RedisBus::connect(&shared_redis_url(), &prefix)
        .await
        .expect("connect");
    let clone = bus.clone();
    let mut receiver = bus.subscribe();
    let client = redis::Client::open(shared_redis_url()).expect("valid url");
    assert_eq!(subscribers(&client, &channel).await, Some(1));

    // Act
    drop(bus);
    clone.ping().await.expect("a remaining clone still works");
    drop(clone);

    // Assert
    let closed = tokio::time::timeout(PATIENCE, receiver.recv()).await;
    assert!(matches!(closed, Ok(Err(RecvError::Closed))), "{closed:?}");
    eventually(PATIENCE, "Redis counts no subscriber", || {
        let (client, channel) = (client.clone(), channel.clone());
        async move { (subscribers(&client, &channel).await == Some(0)).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn connecting_to_a_redis_that_is_not_running_fails_as_unavailable() {
    init_logs();
    let url = format!("redis://127.0.0.1:{}", free_port());

    let result = tokio::time::timeout(PATIENCE, RedisBus::connect(&url, &unique_prefix()))
        .await
        .expect("connect gives up in time");

    assert!(
        matches!(result, Err(StateError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_invalid_url_is_refused_without_repeating_its_password() {
    let result = tessera_state::open("http://admin:hunter2@localhost:6379", "p:", clock()).await;

    let Err(error) = result.map(|_| ()) else {
        panic!("http:// is not a Redis URL");
    };
    assert!(matches!(error, StateError::Unavailable(_)));
    let source = std::error::Error::source(&error).expect("the cause is kept");
    assert!(source.is::<tessera_state::UrlError>());
    assert!(!format!("{error:?}").contains("hunter2"));
}

#[tokio::test]
async fn while_redis_is_down_publish_and_ping_fail_fast_and_both_recover_when_it_returns() {
    init_logs();
    // Arrange
    let server = RedisServer::start().await;
    let port = server.port();
    let bus = RedisBus::connect(&server.url(), &unique_prefix())
        .await
        .expect("connect");
    let mut receiver = bus.subscribe();
    let before = session_revocation(1);
    bus.publish(&[before]).await.expect("publish while up");
    assert_eq!(next_revocation(&mut receiver).await, before);

    // Act: Redis dies.
    drop(server);

    // Assert: requests get an error, not a hang.
    let publish = tokio::time::timeout(PATIENCE, bus.publish(&[session_revocation(2)]))
        .await
        .expect("publish returns while Redis is down");
    assert!(
        matches!(publish, Err(StateError::Unavailable(_))),
        "{publish:?}"
    );
    let ping = tokio::time::timeout(PATIENCE, bus.ping())
        .await
        .expect("ping returns while Redis is down");
    assert!(matches!(ping, Err(StateError::Unavailable(_))), "{ping:?}");

    // Act: Redis comes back on the same port.
    let _server = RedisServer::start_on(port).await;

    // Assert: the same bus publishes and hears again. Messages published before the
    // subscription is back are lost (the database catch-up heals that), so keep publishing.
    let published = publish_until_heard(&bus, &mut receiver).await;
    let after = session_revocation(1_000);
    bus.publish(&[after]).await.expect("publish after recovery");
    skip_until(&mut receiver, after, &published).await;
    bus.ping().await.expect("ping after recovery");
}

#[tokio::test]
async fn a_redis_cluster_carries_revocations_between_instances() {
    init_logs();
    // Arrange
    let cluster = RedisCluster::start().await;
    let [p1, p2, p3] = <[u16; 3]>::try_from(cluster.ports()).expect("three nodes");
    let nobody = free_port();
    let a_url = format!("redis+cluster://127.0.0.1:{p1},127.0.0.1:{p2},127.0.0.1:{p3}");
    // B lists a dead node first and then another order, so it subscribes on another node than A:
    // delivery then relies on the cluster bus, and B shows it moves past an unreachable node.
    let b_url =
        format!("redis+cluster://127.0.0.1:{nobody},127.0.0.1:{p2},127.0.0.1:{p3},127.0.0.1:{p1}");
    let prefix = unique_prefix();
    let a = RedisBus::connect(&a_url, &prefix).await.expect("connect a");
    let b = RedisBus::connect(&b_url, &prefix).await.expect("connect b");
    let (mut on_a, mut on_b) = (a.subscribe(), b.subscribe());
    let revocations = [session_revocation(1), user_revocation(2)];

    // Act
    a.publish(&revocations).await.expect("publish on a");
    let from_b = session_revocation(3);
    b.publish(&[from_b]).await.expect("publish on b");

    // Assert
    for receiver in [&mut on_a, &mut on_b] {
        let mut heard = vec![
            next_revocation(receiver).await,
            next_revocation(receiver).await,
            next_revocation(receiver).await,
        ];
        // Different nodes may relay the two publishes in either order.
        heard.sort_by_key(|revocation| revocation.cursor);
        assert_eq!(heard, [revocations[0], revocations[1], from_b]);
    }
    a.ping().await.expect("ping a");
    b.ping().await.expect("ping b");
}

fn user_revocation(cursor: i64) -> Revocation {
    Revocation {
        target: RevocationTarget::User(UserId::new()),
        ..session_revocation(cursor)
    }
}
#[tokio::test]
async fn after_redis_returns_the_bus_is_ready_only_once_it_listens_again() {
    init_logs();
    // Arrange: a bus that is up, then Redis dies, and a first ping says so.
    let server = RedisServer::start().await;
    let port = server.port();
    let prefix = unique_prefix();
    let bus = RedisBus::connect(&server.url(), &prefix)
        .await
        .expect("connect");
    let client = redis::Client::open(server.url()).unwrap();
    let channel = format!("{prefix}revocations");
    drop(server);
    let down = tokio::time::timeout(PATIENCE, bus.ping())
        .await
        .expect("ping returns");
    assert!(matches!(down, Err(StateError::Unavailable(_))), "{down:?}");

    // Act: Redis stays away long enough for the subscription's retries to space out (up to
    // 2 s apart), then comes back; wait for the first ping that succeeds.
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let _server = RedisServer::start_on(port).await;
    let deadline = Instant::now() + RECOVERY_PATIENCE;
    while bus.ping().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the bus never became ready again"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Assert: by then the subscription is back (ready means no revocation is missed).
    assert_eq!(subscribers(&client, &channel).await, Some(1));
}

/// Publishes fresh revocations until one comes back; returns all that were accepted.
async fn publish_until_heard(
    bus: &RedisBus,
    receiver: &mut tokio::sync::broadcast::Receiver<Revocation>,
) -> Vec<Revocation> {
    let deadline = Instant::now() + RECOVERY_PATIENCE;
    let mut published = Vec::new();
    for cursor in 100.. {
        assert!(
            Instant::now() < deadline,
            "the bus did not recover after Redis restarted"
        );
        let revocation = session_revocation(cursor);
        if bus.publish(&[revocation]).await.is_ok() {
            published.push(revocation);
        }
        if let Ok(heard) = tokio::time::timeout(Duration::from_millis(200), receiver.recv()).await {
            let heard = heard.expect("the bus is open and the receiver did not lag");
            assert!(published.contains(&heard), "unexpected {heard:?}");
            return published;
        }
    }
    unreachable!("the loop returns or fails")
}

/// Receives until `wanted`, allowing only late copies of `earlier` before it.
async fn skip_until(
    receiver: &mut tokio::sync::broadcast::Receiver<Revocation>,
    wanted: Revocation,
    earlier: &[Revocation],
) {
    loop {
        let heard = next_revocation(receiver).await;
        if heard == wanted {
            return;
        }
        assert!(earlier.contains(&heard), "unexpected {heard:?}");
    }
}

/// How many connections Redis counts on `channel`.
async fn subscribers(client: &redis::Client, channel: &str) -> Option<i64> {
    let mut connection = client.get_multiplexed_async_connection().await.ok()?;
    let (_, count): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(&mut connection)
        .await
        .ok()?;
    Some(count)
}

#[tokio::test]
async fn a_single_use_value_is_taken_once_across_instances() {
    let prefix = unique_prefix();
    let a = tessera_state::open(&shared_redis_url(), &prefix, clock())
        .await
        .expect("connect a");
    let b = tessera_state::open(&shared_redis_url(), &prefix, clock())
        .await
        .expect("connect b");
    let ttl = std::time::Duration::from_secs(30);
    a.single_use
        .put("ticket:1", "value", ttl)
        .await
        .expect("put");

    let first = b.single_use.take("ticket:1").await.expect("take on b");
    let second = a.single_use.take("ticket:1").await.expect("take on a");

    assert_eq!(first.as_deref(), Some("value"));
    assert_eq!(second, None);
    let other = tessera_state::open(&shared_redis_url(), &unique_prefix(), clock())
        .await
        .expect("other prefix");
    a.single_use
        .put("ticket:2", "value", ttl)
        .await
        .expect("put");
    assert_eq!(
        other.single_use.take("ticket:2").await.expect("take"),
        None,
        "prefixes are separate"
    );
}

#[tokio::test]
async fn a_single_use_value_expires() {
    let a = tessera_state::open(&shared_redis_url(), &unique_prefix(), clock())
        .await
        .expect("connect");
    a.single_use
        .put("ticket:1", "value", std::time::Duration::from_millis(100))
        .await
        .expect("put");

    // Redis expires the key by its own clock: wait past the TTL before taking.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    assert_eq!(a.single_use.take("ticket:1").await.expect("take"), None);
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}
