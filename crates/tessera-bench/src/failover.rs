//! The kill drill's load: virtual users spread over two instances, verifying and rotating their
//! refresh tokens, while the script kills one instance with SIGKILL. A client that loses its
//! connection does what a load balancer's retry does: it sends the same request again to the
//! other instance (the refresh grace window hands out the successor the dead instance may have
//! stored). Every token's successor goes into a ledger, so a fork (one token, two successors)
//! is seen, and at the end every chain must still refresh on every instance that answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::runner::{self, Worker, lock};
use crate::scenarios::{client, log_in, status};

/// Options of the kill drill's load.
#[derive(Debug, clap::Args)]
pub struct FailoverArgs {
    /// The two instances' base URLs, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    urls: Vec<String>,
    /// Seeded users to log in as.
    #[arg(long, default_value_t = 64)]
    users: usize,
    /// Concurrent virtual users, each with a session of its own.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measurement time in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
}

/// What the virtual users share.
#[derive(Default)]
struct Shared {
    /// Every (refresh token → successor) pair handed out.
    successors: Mutex<HashMap<String, String>>,
    /// Tokens that got two different successors.
    forks: AtomicU64,
    /// Requests sent again to the other instance: [cut after they were sent (in flight at the
    /// kill), refused before (the instance already dead)].
    retries: [AtomicU64; 2],
    /// Of the requests cut in flight, the refreshes: the dead instance may have stored their
    /// rotation without answering.
    refreshes_cut: AtomicU64,
    /// Refreshes answered by each instance.
    refreshes: [AtomicU64; 2],
}

impl Shared {
    fn record(&self, token: &str, successor: &str) {
        let mut successors = lock(&self.successors);
        match successors.get(token) {
            Some(known) if known != successor => {
                self.forks.fetch_add(1, Ordering::Relaxed);
            }
            Some(_) => {}
            None => {
                successors.insert(token.to_owned(), successor.to_owned());
            }
        }
    }
}

/// A virtual user: one step in four a refresh, the others `GET /users/me`, on the two
/// instances in turn (only on the other once one failed in transport).
struct Chain {
    client: reqwest::Client,
    urls: [String; 2],
    down: [bool; 2],
    turn: usize,
    access: String,
    refresh: String,
    step: u64,
    shared: Arc<Shared>,
}

impl Chain {
    async fn send(&self, target: usize, refresh: bool) -> reqwest::Result<(u16, Value)> {
        let url = &self.urls[target];
        let request = if refresh {
            self.client
                .post(format!("{url}/auth/refresh"))
                .json(&json!({ "refresh_token": self.refresh }))
        } else {
            self.client
                .get(format!("{url}/users/me"))
                .bearer_auth(&self.access)
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        // A body cut short by the kill is a transport error too.
        let body = response.json::<Value>().await?;
        Ok((status, body))
    }
}

impl Worker for Chain {
    async fn step(&mut self) -> u16 {
        self.step += 1;
        let refresh = self.step.is_multiple_of(4);
        self.turn = 1 - self.turn;
        let mut target = if self.down[self.turn] {
            1 - self.turn
        } else {
            self.turn
        };
        let answer = loop {
            match self.send(target, refresh).await {
                Ok(answer) => break answer,
                Err(error) if !self.down[1 - target] => {
                    self.down[target] = true;
                    let refused = usize::from(error.is_connect());
                    self.shared.retries[refused].fetch_add(1, Ordering::Relaxed);
                    if refresh && refused == 0 {
                        self.shared.refreshes_cut.fetch_add(1, Ordering::Relaxed);
                    }
                    target = 1 - target;
                }
                Err(_) => return 0,
            }
        };
        let (status, body) = answer;
        if refresh && status == 200 {
            let (Some(access), Some(successor)) = (
                body["access_token"].as_str(),
                body["refresh_token"].as_str(),
            ) else {
                return 1;
            };
            self.shared.record(&self.refresh, successor);
            self.shared.refreshes[target].fetch_add(1, Ordering::Relaxed);
            self.access = access.to_owned();
            self.refresh = successor.to_owned();
        }
        status
    }
}

/// Runs the drill's load for `seconds` and then checks every chain on every instance that
/// still answers.
pub async fn run(args: FailoverArgs) -> anyhow::Result<Value> {
    let urls: [String; 2] = args
        .urls
        .try_into()
        .map_err(|_| anyhow::anyhow!("--urls takes two base URLs"))?;
    let client = client(args.concurrency)?;
    let shared = Arc::new(Shared::default());
    let mut chains = Vec::with_capacity(args.concurrency);
    for index in 0..args.concurrency {
        let home = &urls[index % 2];
        let session = log_in(&client, home, index % args.users.max(1)).await?;
        let text = |key: &str| session[key].as_str().unwrap_or_default().to_owned();
        chains.push(Chain {
            client: client.clone(),
            urls: urls.clone(),
            down: [false; 2],
            turn: index % 2,
            access: text("access_token"),
            refresh: text("refresh_token"),
            step: index as u64,
            shared: Arc::clone(&shared),
        });
    }
    let (tally, chains) = runner::run_keeping(chains, args.seconds).await;

    // Every chain must go on, on every instance still up, and its new token be accepted there.
    let mut alive = Vec::new();
    for url in &urls {
        if status(client.get(format!("{url}/healthz")).send().await) == 200 {
            alive.push(url.clone());
        }
    }
    let (mut chains_ok, mut chains_broken) = (0u64, Vec::new());
    for (index, chain) in chains.into_iter().enumerate() {
        match continue_chain(&client, &alive, chain.refresh).await {
            Ok(()) => chains_ok += 1,
            Err(error) => chains_broken.push(format!("chain {index}: {error}")),
        }
    }
    let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    Ok(tally.report(
        "failover",
        json!({
            "concurrency": args.concurrency,
            "refreshes": [count(&shared.refreshes[0]), count(&shared.refreshes[1])],
            "cut_in_flight_and_sent_again": count(&shared.retries[0]),
            "refused_and_sent_again": count(&shared.retries[1]),
            "refreshes_cut_in_flight": count(&shared.refreshes_cut),
            "forks": count(&shared.forks),
            "instances_up_at_the_end": alive.len(),
            "chains_continued": chains_ok,
            "chains_broken": chains_broken,
        }),
    ))
}

/// Refreshes `token` on the first of `alive`, then the next token on the others in turn, and
/// checks each new access token on the instance that did not issue it.
async fn continue_chain(
    client: &reqwest::Client,
    alive: &[String],
    mut token: String,
) -> anyhow::Result<()> {
    anyhow::ensure!(!alive.is_empty(), "no instance answers");
    for (turn, url) in alive.iter().enumerate() {
        let answer = client
            .post(format!("{url}/auth/refresh"))
            .json(&json!({ "refresh_token": token }))
            .send()
            .await?;
        anyhow::ensure!(
            answer.status() == 200,
            "refresh on {url}: {}",
            answer.status()
        );
        let body: Value = answer.json().await?;
        let access = body["access_token"].as_str().unwrap_or_default();
        let checker = &alive[(turn + 1) % alive.len()];
        let me = client
            .get(format!("{checker}/users/me"))
            .bearer_auth(access)
            .send()
            .await?;
        anyhow::ensure!(
            me.status() == 200,
            "its access token on {checker}: {}",
            me.status()
        );
        token = body["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    }
    Ok(())
}
