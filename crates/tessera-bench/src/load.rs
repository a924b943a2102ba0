//! HTTP load: closed-loop virtual users, each sending its next request when the last answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

/// Options of the login scenario.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Users to log in as (seeded beforehand).
    #[arg(long, default_value_t = 64)]
    users: usize,
    /// Concurrent virtual users.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Measurement time in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

/// Options of the seeding step.
#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Users to create.
    #[arg(long, default_value_t = 64)]
    users: usize,
}

const PASSWORD: &str = "benchmark password 1234";

fn email(index: usize) -> String {
    format!("bench-{index}@example.com")
}

/// Signs up `users` users (ignoring ones that exist).
pub async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for index in 0..args.users {
        let body = json!({ "email": email(index), "password": PASSWORD });
        let status = client
            .post(format!("{}/auth/signup", args.url))
            .json(&body)
            .send()
            .await?
            .status();
        anyhow::ensure!(
            status.is_success() || status.as_u16() == 409,
            "signup answered {status}"
        );
    }
    println!("{}", json!({ "scenario": "seed", "users": args.users }));
    Ok(())
}

/// Logs in for `seconds` with `concurrency` virtual users; prints counts by outcome.
pub async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let ok = Arc::new(AtomicU64::new(0));
    let shed = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|worker| {
            let (client, url) = (client.clone(), format!("{}/auth/login", args.url));
            let (ok, shed, failed) = (Arc::clone(&ok), Arc::clone(&shed), Arc::clone(&failed));
            let users = args.users.max(1);
            tokio::spawn(async move {
                let mut index = worker;
                while Instant::now() < deadline {
                    let body = json!({ "email": email(index % users), "password": PASSWORD });
                    index += 1;
                    match client
                        .post(&url)
                        .json(&body)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                    {
                        Ok(200) => ok.fetch_add(1, Ordering::Relaxed),
                        Ok(503) => shed.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    println!(
        "{}",
        json!({
            "scenario": "login",
            "concurrency": args.concurrency,
            "logins_per_sec": ok as f64 / elapsed,
            "ok": ok,
            "shed_503": shed.load(Ordering::Relaxed),
            "failed": failed.load(Ordering::Relaxed),
        })
    );
    Ok(())
}
