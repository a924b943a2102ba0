//! A credential-stuffing flood against the rate limits (API.md §4): a few addresses send wrong
//! passwords for real accounts far above the hashing capacity, while other people log in at a
//! human pace and API clients verify tokens. What matters is how many of those people get in
//! and what the token checks' latency does.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::runner::{self, Tally};
use crate::scenarios::{LoadArgs, PASSWORD, client, email, status, verify_workers};

/// Options of the abuse scenario.
#[derive(Debug, clap::Args)]
pub struct AbuseArgs {
    /// Verify clients (`--concurrency`), the seeded users, the duration.
    #[command(flatten)]
    load: LoadArgs,
    /// Wrong-password logins sent per second by the flood, whatever the answers (open loop).
    #[arg(long)]
    flood_rate: f64,
    /// Addresses the flood comes from.
    #[arg(long, default_value_t = 4)]
    flood_addresses: u8,
    /// People logging in with their right password, each from an address of their own.
    #[arg(long, default_value_t = 16)]
    people: usize,
    /// Seconds between one person's logins.
    #[arg(long, default_value_t = 1.0)]
    person_interval: f64,
}

/// Runs the flood, the people and the verify clients together for `seconds`.
pub async fn abuse(args: AbuseArgs) -> anyhow::Result<Value> {
    let load = &args.load;
    let duration = Duration::from_secs(load.seconds);
    let verify = verify_workers(load, 1).await?;
    let flood = tokio::spawn(flood(
        client(64)?,
        format!("{}/auth/login", load.url),
        load.users.max(1),
        args.flood_rate,
        args.flood_addresses.max(1),
        duration,
    ));
    let people: Vec<_> = (0..args.people)
        .map(|person| {
            tokio::spawn(person_logging_in(
                client(1).expect("an HTTP client"),
                format!("{}/auth/login", load.url),
                person % load.users.max(1),
                // Addresses apart from the flood's and from the setup's.
                format!("192.0.2.{}", person + 1),
                Duration::from_secs_f64(args.person_interval),
                duration,
            ))
        })
        .collect();
    let verify = runner::run(verify, load.seconds).await;
    let mut logins = Tally::default();
    for person in people {
        logins.merge(person.await?);
    }
    logins.finish(duration);
    let flood = flood.await?;
    Ok(json!({
        "scenario": "abuse",
        "flood_rate": args.flood_rate,
        "flood_addresses": args.flood_addresses,
        "people": args.people,
        "verify": verify.report("verify", json!({ "concurrency": load.concurrency })),
        "people_logins": logins.report("people_logins", json!({})),
        "flood": flood.report("flood", json!({})),
    }))
}

/// One person: logs in with the right password every `interval` from `address`.
async fn person_logging_in(
    client: reqwest::Client,
    url: String,
    user: usize,
    address: String,
    interval: Duration,
    duration: Duration,
) -> Tally {
    let started = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    let mut tally = Tally::default();
    while started.elapsed() < duration {
        ticker.tick().await;
        let at = Instant::now();
        let answer = client
            .post(&url)
            .header("x-forwarded-for", &address)
            .json(&json!({ "email": email(user), "password": PASSWORD }))
            .send()
            .await;
        tally.record(status(answer), at.elapsed());
    }
    tally
}

/// Wrong passwords for the seeded accounts, `rate` per second, from `addresses` addresses in
/// turn, each request on its own task.
async fn flood(
    client: reqwest::Client,
    url: String,
    users: usize,
    rate: f64,
    addresses: u8,
    duration: Duration,
) -> Tally {
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.001)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = Vec::new();
    let mut next = 0_usize;
    while started.elapsed() < duration {
        ticker.tick().await;
        let address = format!("203.0.113.{}", next % usize::from(addresses) + 1);
        let request = client
            .post(&url)
            .header("x-forwarded-for", address)
            .json(&json!({ "email": email(next % users), "password": "a guessed password" }));
        next += 1;
        sent.push(tokio::spawn(async move {
            let at = Instant::now();
            (status(request.send().await), at.elapsed())
        }));
    }
    let mut tally = Tally::default();
    for request in sent {
        if let Ok((status, latency)) = request.await {
            tally.record(status, latency);
        }
    }
    tally.finish(duration);
    tally
}
