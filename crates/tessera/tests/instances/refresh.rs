//! Refresh rotation across instances (API.md §2): the grace window and reuse detection hold
//! whichever instance a token comes back to, concurrent refreshes never fork a session, and an
//! instance killed in the middle of a refresh load loses no session.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tessera_testkit::redis::shared_redis_url;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::support::server::{Deployment, Instance, Tokens, assert_problem};
use crate::support::{PROPAGATION_BOUND, millis};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_on_another_instance_gets_the_same_successor_in_grace_and_is_reuse_after()
 {
    // Arrange: a grace window far longer than a refresh round trip, so that the replay right
    // after the rotation falls inside it however busy the machine is
    const GRACE: Duration = Duration::from_secs(3);
    let mut deployment = Deployment::new(&shared_redis_url()).await;
    deployment.set("TESSERA_TOKENS__REFRESH_REUSE_GRACE", "3s");
    let instances = deployment.start_all(&["a", "b"]).await;
    let (a, b) = (&instances[0], &instances[1]);
    let first = a.signup().await;

    // Act: rotate on a, replay on b inside the grace window
    let second = a.refresh(&first.refresh_token).await;
    let rotated = Instant::now();
    let replayed = b.refresh(&first.refresh_token).await;

    // Assert: the same successor
    assert_eq!(replayed.refresh_token, second.refresh_token);
    assert_eq!(replayed.session_id, second.session_id);
    a.assert_accepts(&replayed.access_token).await;

    // Act: replay on b again, just past the grace window (the one wall-clock wait of this binary)
    tokio::time::sleep_until(rotated + GRACE + Duration::from_millis(250)).await;
    let sent = Instant::now();
    let (reuse, delay) = tokio::join!(
        b.post_refresh(&first.refresh_token),
        a.time_until_revoked(&second.access_token, sent, Duration::from_secs(3)),
    );

    // Assert: reuse ends the whole session, on b at once and on a within the bound
    assert_problem(reuse, 401, "refresh_reused").await;
    for token in [&first, &second, &replayed] {
        assert_problem(b.get_me(&token.access_token).await, 401, "token_revoked").await;
    }
    println!(
        "reuse presented on b: token_revoked on a {} after the request was sent",
        millis(delay)
    );
    assert!(
        delay <= PROPAGATION_BOUND,
        "reuse detection took {} to reach a",
        millis(delay)
    );
    for token in [&first, &replayed] {
        assert_problem(a.get_me(&token.access_token).await, 401, "token_revoked").await;
    }
    assert_problem(
        a.post_refresh(&second.refresh_token).await,
        401,
        "refresh_invalid",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_on_two_instances_all_get_the_same_successor() {
    // Arrange
    const REQUESTS: usize = 40;
    let deployment = Deployment::new(&shared_redis_url()).await;
    let instances: Vec<Arc<Instance>> = deployment
        .start_all(&["a", "b"])
        .await
        .into_iter()
        .map(Arc::new)
        .collect();
    let session = instances[0].signup().await;
    let barrier = Arc::new(tokio::sync::Barrier::new(REQUESTS));

    // Act
    let mut requests = JoinSet::new();
    for index in 0..REQUESTS {
        let instance = Arc::clone(&instances[index % 2]);
        let token = session.refresh_token.clone();
        let barrier = Arc::clone(&barrier);
        requests.spawn(async move {
            barrier.wait().await;
            let response = instance.post_refresh(&token).await;
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (instance.name.clone(), status, body)
        });
    }
    let answers = requests.join_all().await;

    // Assert
    for (name, status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "refresh on {name}: {body}");
    }
    let successors: BTreeSet<&str> = answers
        .iter()
        .map(|(_, _, body)| body["refresh_token"].as_str().expect("a refresh token"))
        .collect();
    assert_eq!(
        successors.len(),
        1,
        "{REQUESTS} concurrent refreshes forked the session into {} chains",
        successors.len()
    );
    let successor = successors.first().expect("one successor");
    let next = instances[1].refresh(successor).await;
    for instance in &instances {
        instance.assert_accepts(&next.access_token).await;
        let (_, _, body) = &answers[0];
        instance
            .assert_accepts(body["access_token"].as_str().expect("an access token"))
            .await;
    }
}

/// What one client of the kill test saw.
#[derive(Debug, Default)]
struct ClientReport {
    /// The newest refresh token it holds.
    token: String,
    /// Requests that failed in transport and were sent again to the other instance.
    retries: usize,
    /// Answers other than 200, and retries exhausted.
    failures: Vec<String>,
}

/// Every (token → successor) pair any client received, and every contradiction among them.
#[derive(Default)]
struct Ledger {
    successors: Mutex<HashMap<String, String>>,
    forks: Mutex<Vec<String>>,
}

impl Ledger {
    fn record(&self, token: &str, successor: &str) {
        let mut successors = self
            .successors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match successors.get(token) {
            Some(known) if known != successor => self
                .forks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(format!(
                    "a token got two successors: …{} and …{}",
                    tail(known),
                    tail(successor)
                )),
            Some(_) => {}
            None => {
                successors.insert(token.to_owned(), successor.to_owned());
            }
        }
    }
}

/// What the clients share: the instances, the phase, counters and the ledger.
struct Load {
    instances: [Arc<Instance>; 2],
    a_killed: AtomicBool,
    stop: AtomicBool,
    served: [AtomicUsize; 2],
    ledger: Ledger,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_instance_during_a_refresh_load_loses_no_session_and_forks_no_chain() {
    // Arrange: two instances, 16 clients each with a session of its own
    const CLIENTS: usize = 16;
    let deployment = Deployment::new(&shared_redis_url()).await;
    let mut started = deployment.start_all(&["a", "b"]).await.into_iter();
    let (a, b) = (
        Arc::new(started.next().expect("a")),
        Arc::new(started.next().expect("b")),
    );
    let load = Arc::new(Load {
        instances: [Arc::clone(&a), Arc::clone(&b)],
        a_killed: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        served: [AtomicUsize::new(0), AtomicUsize::new(0)],
        ledger: Ledger::default(),
    });
    let mut signups = JoinSet::new();
    for index in 0..CLIENTS {
        let home = Arc::clone(&load.instances[index % 2]);
        signups.spawn(async move { (index, home.signup().await) });
    }
    let mut sessions = signups.join_all().await;
    sessions.sort_by_key(|(index, _)| *index);

    // Act: refresh continuously on a and b alternately; kill a after a second; go on with b
    let mut clients = JoinSet::new();
    for (index, session) in sessions {
        clients.spawn(refresh_continuously(Arc::clone(&load), index, session));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let served_by_a = load.served[0].load(Ordering::SeqCst);
    a.kill();
    load.a_killed.store(true, Ordering::SeqCst);
    let served_by_b_at_kill = load.served[1].load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.stop.store(true, Ordering::SeqCst);
    let reports = tokio::time::timeout(Duration::from_secs(30), clients.join_all())
        .await
        .expect("every client stops");

    // Assert
    let served_by_b_after = load.served[1].load(Ordering::SeqCst) - served_by_b_at_kill;
    let retries: usize = reports.iter().map(|report| report.retries).sum();
    println!(
        "refreshes: {served_by_a} on a before the kill, {} on b in all ({served_by_b_after} after the kill); {retries} requests retried on the other instance",
        load.served[1].load(Ordering::SeqCst)
    );
    let failures: Vec<&String> = reports.iter().flat_map(|report| &report.failures).collect();
    assert!(failures.is_empty(), "clients saw: {failures:#?}");
    let forks = load
        .ledger
        .forks
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    assert!(forks.is_empty(), "{forks:#?}");
    assert!(served_by_a > 0, "a served no refresh before it was killed");
    assert!(
        served_by_b_after > 0,
        "b served no refresh after a was killed"
    );
    for report in &reports {
        let next = b.refresh(&report.token).await;
        b.assert_accepts(&next.access_token).await;
    }
}

/// One client: refreshes its session on a and b alternately (b only once a is killed) until
/// told to stop, sending a request that failed in transport again, with the same token, to the
/// other instance (the grace window gives it the successor a may have stored before dying).
async fn refresh_continuously(load: Arc<Load>, index: usize, session: Tokens) -> ClientReport {
    let mut report = ClientReport {
        token: session.refresh_token,
        ..ClientReport::default()
    };
    let mut turn = index % 2;
    while !load.stop.load(Ordering::SeqCst) {
        if load.a_killed.load(Ordering::SeqCst) {
            turn = 1;
        }
        let mut target = turn;
        let mut attempts = 0;
        let successor = loop {
            attempts += 1;
            match attempt(&load.instances[target], &report.token).await {
                Ok((StatusCode::OK, body)) => match body["refresh_token"].as_str() {
                    Some(successor) => break successor.to_owned(),
                    None => {
                        report.failures.push(format!(
                            "client {index}: 200 without a refresh token: {body}"
                        ));
                        return report;
                    }
                },
                Ok((status, body)) => {
                    report.failures.push(format!(
                        "client {index}: {status} from {}: {body}",
                        load.instances[target].name
                    ));
                    return report;
                }
                Err(error) if attempts < 5 => {
                    note_retry(index, &load.instances[target].name, &error);
                    report.retries += 1;
                    target = 1 - target;
                }
                Err(error) => {
                    report.failures.push(format!(
                        "client {index}: {attempts} attempts failed, the last on {}: {error}",
                        load.instances[target].name
                    ));
                    return report;
                }
            }
        };
        load.served[target].fetch_add(1, Ordering::SeqCst);
        load.ledger.record(&report.token, &successor);
        report.token = successor;
        turn = 1 - turn;
    }
    report
}

/// One refresh request: its status and JSON body, or the transport error (a connection refused
/// or cut, a body that never completed).
async fn attempt(instance: &Instance, token: &str) -> reqwest::Result<(StatusCode, Value)> {
    let response = instance.try_post_refresh(token).await?;
    let status = response.status();
    let body = response.json().await?;
    Ok((status, body))
}

/// Transport errors are expected around the kill; shown only with `TEST_LOG`.
fn note_retry(client: usize, instance: &str, error: &reqwest::Error) {
    if std::env::vars_os().any(|(key, _)| key == "TEST_LOG") {
        eprintln!(
            "client {client}: {instance} failed in transport ({error}); retrying on the other"
        );
    }
}

/// The last characters of a token, enough to tell two apart in a message.
fn tail(token: &str) -> &str {
    let start = token.len().saturating_sub(8);
    token.get(start..).unwrap_or(token)
}
