//! Rate limits shared by every instance through Redis (one server, or a Cluster), and failing
//! closed while Redis is down (API.md §4).

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use tessera_testkit::eventually;
use tessera_testkit::redis::{RedisCluster, RedisServer, shared_redis_url};

use crate::support::server::{Deployment, Instance, assert_problem};

const WRONG: &str = "not the password at all";
const PASSWORD: &str = "correct horse battery staple";

/// Signs up a fresh account on `instance`; its email.
async fn signup(instance: &Instance) -> String {
    let email = format!("limited-{:016x}@example.com", rand::random::<u64>());
    let response = instance
        .post_signup(&json!({ "email": email, "password": PASSWORD }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    email
}

/// `attempts` wrong logins for `email`, spread over `instances` and sent all at once; the
/// statuses, sorted.
async fn wrong_logins_at_once(instances: &[Instance], email: &str, attempts: usize) -> Vec<u16> {
    let body = json!({ "email": email, "password": WRONG });
    let sent = (0..attempts).map(|n| instances[n % instances.len()].post_login(&body));
    let mut statuses: Vec<u16> = join_all(sent)
        .await
        .into_iter()
        .map(|response| response.status().as_u16())
        .collect();
    statuses.sort_unstable();
    statuses
}

fn expected(allowed: usize, refused: usize) -> Vec<u16> {
    let mut statuses = vec![401; allowed];
    statuses.extend(vec![429; refused]);
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_share_the_login_limit_exactly() {
    // Arrange
    let deployment = Deployment::new(&shared_redis_url()).await;
    let instances = deployment.start_all(&["a", "b"]).await;
    let email = signup(&instances[0]).await;

    // Act: 30 wrong passwords at once, half on each instance.
    let statuses = wrong_logins_at_once(&instances, &email, 30).await;

    // Assert: ten in total got to the password check, not ten per instance.
    assert_eq!(statuses, expected(10, 20));
    for instance in &instances {
        let response = instance
            .post_login(&json!({ "email": email, "password": PASSWORD }))
            .await;
        assert_problem(response, 429, "rate_limited").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_a_redis_cluster_share_the_login_limit_exactly() {
    // Arrange
    let cluster = RedisCluster::start().await;
    let deployment = Deployment::new(&cluster.url()).await;
    let instances = deployment.start_all(&["a", "b"]).await;
    let email = signup(&instances[1]).await;

    // Act
    let statuses = wrong_logins_at_once(&instances, &email, 24).await;
    let unknown = wrong_logins_at_once(&instances, "nobody@example.com", 24).await;

    // Assert
    assert_eq!(statuses, expected(10, 14));
    assert_eq!(unknown, expected(10, 14));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_logins_answer_503_and_recover_without_a_restart() {
    // Arrange
    let mut redis = RedisServer::start().await;
    let deployment = Deployment::new(&redis.url()).await;
    let instances = deployment.start_all(&["a", "b"]).await;
    let email = signup(&instances[0]).await;
    let credentials = json!({ "email": email, "password": PASSWORD });

    // Act: Redis goes away.
    redis.kill();

    // Assert: no login without its limit (fail closed), on either instance; signup neither.
    for instance in &instances {
        assert_problem(instance.post_login(&credentials).await, 503, "unavailable").await;
        let signup = instance
            .post_signup(&json!({ "email": "later@example.com", "password": PASSWORD }))
            .await;
        assert_problem(signup, 503, "unavailable").await;
    }

    // Act: Redis comes back on the same port.
    redis.restart().await;

    // Assert: both instances log in again by themselves.
    for instance in &instances {
        eventually(
            Duration::from_secs(10),
            &format!("{} logs in again", instance.name),
            || async {
                let response = instance.post_login(&credentials).await;
                (response.status() == StatusCode::OK).then_some(())
            },
        )
        .await;
    }
}
