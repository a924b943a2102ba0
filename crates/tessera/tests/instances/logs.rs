//! What the server writes to its log about logins: one line per attempt, with how it ended,
//! and never a password, an email or a token.

use serde_json::json;
use tessera_testkit::redis::shared_redis_url;

use crate::support::server::Deployment;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_login_attempt_leaves_one_line_with_its_result_and_no_secret() {
    // Arrange
    let deployment = Deployment::new(&shared_redis_url()).await;
    let instance = deployment.start("a").await;
    let email = format!("logged-{:08x}@example.com", rand::random::<u32>());
    let password = "a password nobody logs";
    let wrong = "a wrong password nobody logs";
    instance
        .post_signup(&json!({ "email": email, "password": password }))
        .await;

    // Act: one success, a wrong password, an unknown email.
    let good = instance.login(&email, password).await;
    let attempts = [
        json!({ "email": email, "password": wrong }),
        json!({ "email": "nobody-here@example.com", "password": wrong }),
    ];
    for attempt in &attempts {
        instance.post_login(attempt).await;
    }

    // Assert
    let log = instance.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("event=\"login\""))
        .collect();
    assert_eq!(lines.len(), 3, "{log}");
    let user_id = good["user"]["id"].as_str().unwrap();
    assert!(
        lines[0].contains("success") && lines[0].contains(user_id),
        "{}",
        lines[0]
    );
    for line in &lines[1..] {
        assert!(line.contains("invalid_credentials"), "{line}");
    }
    let refresh_token = good["refresh_token"].as_str().unwrap();
    let access_token = good["access_token"].as_str().unwrap();
    for secret in [password, wrong, email.as_str(), refresh_token, access_token] {
        assert!(!log.contains(secret), "the log shows {secret:?}");
    }
}
