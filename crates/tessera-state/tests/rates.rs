//! Rate-limit counters against real backends: in-process, the shared Redis with a unique
//! prefix per test, a Redis the test kills and restarts, and a three-node Cluster.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tessera_core::limits::{Outcome, Quota};
use tessera_core::ports::RateCounter;
use tessera_core::{ManualClock, StateError, SystemClock};
use tessera_state::{MemoryRateCounter, RedisBus};
use tessera_testkit::redis::{RedisCluster, RedisServer, shared_redis_url, unique_prefix};

/// The longest a call may take while Redis is down.
const PATIENCE: Duration = Duration::from_secs(5);
/// A restarted Redis is back for the counter within this.
const RECOVERY_PATIENCE: Duration = Duration::from_secs(10);

fn init_logs() {
    tessera_testkit::init_logs("tessera_state=debug");
}

fn quota(limit: u32, window: Duration) -> Quota {
    Quota::new(limit, window).expect("a valid quota")
}

/// Spends `attempts` units of `quota` under `key` all at once; how many were allowed.
async fn allowed_of_concurrent(
    counters: &[Arc<dyn RateCounter>],
    key: &str,
    quota: Quota,
    attempts: usize,
) -> usize {
    let spends = (0..attempts).map(|n| {
        let counter = Arc::clone(&counters[n % counters.len()]);
        let key = key.to_owned();
        tokio::spawn(async move { counter.spend(&key, quota).await })
    });
    join_all(spends)
        .await
        .into_iter()
        .map(|joined| joined.expect("no panic").expect("the counter answers"))
        .filter(|outcome| outcome.allowed)
        .count()
}

async fn redis_counter(url: &str, prefix: &str) -> Arc<dyn RateCounter> {
    let bus = RedisBus::connect(url, prefix).await.expect("Redis is up");
    Arc::new(bus.rate_counter())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_counter_lets_exactly_the_limit_through_and_refills_with_its_clock() {
    // Arrange
    let clock = Arc::new(ManualClock::starting_now());
    let counter: Arc<dyn RateCounter> = Arc::new(MemoryRateCounter::new(clock.clone()));
    let five_per_minute = quota(5, Duration::from_secs(60));

    // Act
    let allowed =
        allowed_of_concurrent(std::slice::from_ref(&counter), "k", five_per_minute, 40).await;

    // Assert
    assert_eq!(allowed, 5);
    let refused = counter.spend("k", five_per_minute).await.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.retry_after, Duration::from_secs(12));
    clock.advance(Duration::from_secs(12));
    assert!(counter.spend("k", five_per_minute).await.unwrap().allowed);
    assert!(
        counter
            .spend("other", five_per_minute)
            .await
            .unwrap()
            .allowed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_share_a_counter_and_let_exactly_the_limit_through() {
    init_logs();
    // Arrange: two connections stand for two instances.
    let prefix = unique_prefix();
    let counters = [
        redis_counter(&shared_redis_url(), &prefix).await,
        redis_counter(&shared_redis_url(), &prefix).await,
    ];
    let ten_per_minute = quota(10, Duration::from_secs(60));

    // Act
    let allowed = allowed_of_concurrent(&counters, "login", ten_per_minute, 50).await;

    // Assert
    assert_eq!(allowed, 10);
    let refused = counters[1].spend("login", ten_per_minute).await.unwrap();
    assert!(!refused.allowed);
    assert!(
        refused.retry_after > Duration::from_secs(5)
            && refused.retry_after <= Duration::from_secs(6),
        "one unit comes back every 6 s: {refused:?}"
    );
    // Another prefix is another deployment.
    let elsewhere = redis_counter(&shared_redis_url(), &unique_prefix()).await;
    assert!(
        elsewhere
            .spend("login", ten_per_minute)
            .await
            .unwrap()
            .allowed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_counter_answers_like_the_in_process_one_and_clears() {
    // Arrange
    let redis = redis_counter(&shared_redis_url(), &unique_prefix()).await;
    let memory = MemoryRateCounter::new(Arc::new(SystemClock));
    let three_per_hour = quota(3, Duration::from_secs(3_600));

    // Act
    let mut from_redis: Vec<Outcome> = Vec::new();
    let mut from_memory: Vec<Outcome> = Vec::new();
    for _ in 0..4 {
        from_redis.push(redis.spend("k", three_per_hour).await.unwrap());
        from_memory.push(memory.spend("k", three_per_hour).await.unwrap());
    }

    // Assert: the same allowances and remaining counts; retry-after within clock drift.
    let shape = |outcomes: &[Outcome]| {
        outcomes
            .iter()
            // Whole minutes, rounded: the two clocks differ by milliseconds, and a spend that
            // lands on a millisecond boundary must not turn 19:59.999 into 20:00.
            .map(|o| {
                let minutes = (o.retry_after.as_millis() + 30_000) / 60_000;
                (o.allowed, o.remaining, minutes)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&from_redis), shape(&from_memory));
    assert_eq!(
        shape(&from_redis),
        vec![(true, 2, 0), (true, 1, 0), (true, 0, 0), (false, 0, 20)]
    );
    redis.clear("k").await.unwrap();
    assert!(redis.spend("k", three_per_hour).await.unwrap().allowed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_units_come_back_after_the_interval_on_redis() {
    let redis = redis_counter(&shared_redis_url(), &unique_prefix()).await;
    let two_per_second = quota(2, Duration::from_secs(1));
    assert_eq!(
        allowed_of_concurrent(std::slice::from_ref(&redis), "k", two_per_second, 6).await,
        2
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        allowed_of_concurrent(&[redis], "k", two_per_second, 6).await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_counts_for_every_instance() {
    init_logs();
    // Arrange
    let cluster = RedisCluster::start().await;
    let prefix = unique_prefix();
    let counters = [
        redis_counter(&cluster.url(), &prefix).await,
        redis_counter(&cluster.url(), &prefix).await,
    ];
    let limit = quota(7, Duration::from_secs(60));

    // Act: keys that land on different nodes.
    let mut allowed = Vec::new();
    for key in ["a", "b", "c", "d"] {
        allowed.push(allowed_of_concurrent(&counters, key, limit, 20).await);
    }

    // Assert
    assert_eq!(allowed, vec![7, 7, 7, 7]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_down_a_spend_fails_fast_as_unavailable_and_recovers() {
    init_logs();
    // Arrange
    let server = RedisServer::start().await;
    let port = server.port();
    let counter = redis_counter(&server.url(), &unique_prefix()).await;
    let limit = quota(100, Duration::from_secs(60));
    assert!(counter.spend("k", limit).await.unwrap().allowed);

    // Act
    drop(server);
    let spent = tokio::time::timeout(PATIENCE, counter.spend("k", limit))
        .await
        .expect("a spend returns while Redis is down");

    // Assert
    assert!(
        matches!(spent, Err(StateError::Unavailable(_))),
        "{spent:?}"
    );
    let _server = RedisServer::start_on(port).await;
    let recovered = tessera_testkit::eventually(RECOVERY_PATIENCE, "the counter recovers", || {
        let counter = counter.clone();
        async move { counter.spend("k", limit).await.ok() }
    })
    .await;
    // The restarted server is empty, and the script is loaded again where it is missing.
    assert!(recovered.allowed);
    assert_eq!(recovered.remaining, 99);
}
