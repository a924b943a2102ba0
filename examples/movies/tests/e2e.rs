//! The whole tutorial flow against real processes: `tessera serve` and `movies`, talking HTTP
//! and WebSocket. Run by `cargo test --workspace`, which builds both binaries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tessera_testkit::{Running, TesseraProcess, eventually, free_port, tessera_command};
use tokio_tungstenite::tungstenite::Message;

const SERVICE_KEY: &str = "movies-service-key-0123456789";

/// `tessera` sits next to `movies` in the target directory when the workspace is built.
fn tessera_binary() -> PathBuf {
    let movies = PathBuf::from(env!("CARGO_BIN_EXE_movies"));
    let tessera = movies.with_file_name("tessera");
    assert!(
        tessera.exists(),
        "build the workspace first (cargo test --workspace): {} is missing",
        tessera.display()
    );
    tessera
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_flow_works_end_to_end_and_a_logout_is_refused_within_a_second() {
    // Arrange: Tessera, then the movie service trusting it.
    let tessera = TesseraProcess::builder(tessera_binary())
        .env("TESSERA_SERVICE_KEYS", SERVICE_KEY)
        .start()
        .await;
    let movies_port = free_port();
    let auth = tessera.base_url().to_owned();
    let movies = format!("http://127.0.0.1:{movies_port}");
    let http = reqwest::Client::new();
    let _movies = Running(
        Command::new(env!("CARGO_BIN_EXE_movies"))
            .env("TESSERA_URL", &auth)
            .env("MOVIES_SERVICE_KEY", SERVICE_KEY)
            .env("MOVIES_LISTEN", format!("127.0.0.1:{movies_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    eventually(Duration::from_secs(15), "movies to be ready", || async {
        let response = http.get(format!("{movies}/movies")).send().await;
        response.is_ok_and(|r| r.status() == 200).then_some(())
    })
    .await;

    // Sign up and browse.
    let signup: Value = http
        .post(format!("{auth}/auth/signup"))
        .json(&json!({ "email": "fan@example.com", "password": "popcorn and cinema" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = signup["access_token"].as_str().unwrap().to_owned();
    let user_id = signup["user"]["id"].as_str().unwrap().to_owned();
    let listed: Value = http
        .get(format!("{movies}/movies"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);

    // A favourite, per user.
    let favorite = http
        .post(format!("{movies}/me/favorites"))
        .bearer_auth(&access)
        .json(&json!({ "movie_id": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(favorite.status(), 200);
    let favorites: Value = http
        .get(format!("{movies}/me/favorites"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(favorites[0]["title"], "Casablanca");
    assert_eq!(
        http.get(format!("{movies}/me/favorites"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // Adding a movie needs the admin role.
    let movie = json!({ "title": "Playtime", "year": 1967 });
    let refused = http
        .post(format!("{movies}/movies"))
        .bearer_auth(&access)
        .json(&movie)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let output = tessera_command(tessera_binary())
        .env("TESSERA_DATA_DIR", tessera.data_dir())
        .env("TESSERA_SERVICE_KEYS", SERVICE_KEY)
        .args(["user", "set-roles", &user_id, "admin"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let refreshed: Value = http
        .post(format!("{auth}/auth/refresh"))
        .json(&json!({ "refresh_token": signup["refresh_token"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin_access = refreshed["access_token"].as_str().unwrap().to_owned();
    assert_eq!(refreshed["user"]["roles"], json!(["admin"]));
    let added = http
        .post(format!("{movies}/movies"))
        .bearer_auth(&admin_access)
        .json(&movie)
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);

    // The chat room, entered with a single-use ticket.
    let ticket: Value = http
        .post(format!("{auth}/auth/ws-ticket"))
        .bearer_auth(&admin_access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ticket = ticket["ticket"].as_str().unwrap().to_owned();
    let chat = format!("ws://127.0.0.1:{movies_port}/chat?ticket={ticket}");
    let (mut socket, _) = tokio_tungstenite::connect_async(&chat).await.unwrap();
    socket
        .send(Message::text("hello, cinephiles"))
        .await
        .unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        heard.into_text().unwrap().as_str(),
        format!("{user_id}: hello, cinephiles")
    );
    let reused = tokio_tungstenite::connect_async(&chat)
        .await
        .expect_err("a ticket works once");
    assert!(
        matches!(reused, tokio_tungstenite::tungstenite::Error::Http(ref r) if r.status() == 401),
        "{reused:?}"
    );

    // Logging out at Tessera is refused by the movie service within a second, with no call
    // per request: the revocation arrives on the feed it follows.
    let logout = http
        .post(format!("{auth}/auth/logout"))
        .bearer_auth(&admin_access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let logged_out = Instant::now();
    loop {
        let status = http
            .get(format!("{movies}/me/favorites"))
            .bearer_auth(&admin_access)
            .send()
            .await
            .unwrap()
            .status();
        if status == 401 {
            break;
        }
        assert!(
            logged_out.elapsed() < Duration::from_secs(1),
            "movies still accepts the token after a second"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "movies refused the logged-out token after {:?}",
        logged_out.elapsed()
    );
}
