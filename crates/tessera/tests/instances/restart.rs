//! Starting and stopping instances: several started at once on an empty database sign with one
//! key, and stopping and starting one (a rolling deploy) keeps every session, since the keys,
//! the sessions and the revocations are in the database, not in the process.

use tessera_testkit::redis::shared_redis_url;

use crate::support::server::{Deployment, assert_problem};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_restarted_after_sigterm_keeps_every_session_working() {
    // Arrange
    let deployment = Deployment::new(&shared_redis_url()).await;
    let mut instances = deployment.start_all(&["a", "b"]).await;
    let b = instances.pop().expect("b");
    let mut a = instances.pop().expect("a");
    let on_a = a.signup().await;
    let on_b = b.signup().await;
    let ended_while_a_was_down = b.signup().await;

    // Act: stop a the way an orchestrator does, log out on b meanwhile, start a again
    let status = a.terminate().await;
    assert_eq!(
        status.code(),
        Some(0),
        "a exits 0 after SIGTERM:\n{}",
        a.log()
    );
    b.logout(&ended_while_a_was_down.access_token).await;
    a.restart().await;

    // Assert: access and refresh tokens issued before the restart work on the new process, and
    // the revocation made while it was down holds there too
    for session in [&on_a, &on_b] {
        a.assert_accepts(&session.access_token).await;
    }
    assert_problem(
        a.get_me(&ended_while_a_was_down.access_token).await,
        401,
        "token_revoked",
    )
    .await;
    let refreshed = a.refresh(&on_a.refresh_token).await;
    a.assert_accepts(&refreshed.access_token).await;
    b.assert_accepts(&refreshed.access_token).await;
    let refreshed = a.refresh(&on_b.refresh_token).await;
    a.assert_accepts(&refreshed.access_token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_started_together_on_an_empty_database_accept_each_others_tokens() {
    // Arrange: a first deploy of three replicas, all racing to make the first signing key
    let deployment = Deployment::new(&shared_redis_url()).await;
    let instances = deployment.start_together(&["a", "b", "c"]).await;

    // Act
    let mut sessions = Vec::new();
    for instance in &instances {
        sessions.push((instance.name.clone(), instance.signup().await));
    }

    // Assert: no instance signs with a key another does not know yet
    for (issuer, session) in &sessions {
        for instance in &instances {
            let response = instance.get_me(&session.access_token).await;
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            assert_eq!(
                status.as_u16(),
                200,
                "a token issued by {issuer} on {}: {body}",
                instance.name
            );
        }
    }
}
