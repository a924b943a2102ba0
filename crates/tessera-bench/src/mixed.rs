//! Traffic of a real app: the mixed scenario (90% verify, 8% refresh, 2% login) and the login
//! flood (logins sent at a fixed rate above capacity while verify latency is measured).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::runner::{self, Tally, Worker};
use crate::scenarios::{
    LoadArgs, PASSWORD, as_new_client, client, email, log_in, status, verify_workers,
};

/// A virtual user holding a session: it mostly calls the API, sometimes refreshes, rarely logs in.
struct Mixed {
    client: reqwest::Client,
    url: String,
    user: usize,
    access: String,
    refresh: String,
    step: u64,
}

impl Mixed {
    /// Posts `body` to `path` (a login or a refresh) and keeps the tokens of the answer.
    async fn exchange(&mut self, path: &str, body: Value) -> u16 {
        let sent = as_new_client(self.client.post(format!("{}{path}", self.url)))
            .json(&body)
            .send()
            .await;
        let Ok(response) = sent else { return 0 };
        let status = response.status().as_u16();
        if status != 200 {
            return status;
        }
        let Ok(body) = response.json::<Value>().await else {
            return 1;
        };
        match (
            body["access_token"].as_str(),
            body["refresh_token"].as_str(),
        ) {
            (Some(access), Some(refresh)) => {
                self.access = access.to_owned();
                self.refresh = refresh.to_owned();
                status
            }
            _ => 1,
        }
    }
}

impl Worker for Mixed {
    async fn step(&mut self) -> u16 {
        self.step += 1;
        match self.step % 50 {
            0 => {
                let body = json!({ "email": email(self.user), "password": PASSWORD });
                self.exchange("/auth/login", body).await
            }
            1..=4 => {
                let body = json!({ "refresh_token": self.refresh });
                self.exchange("/auth/refresh", body).await
            }
            _ => status(
                self.client
                    .get(format!("{}/users/me", self.url))
                    .bearer_auth(&self.access)
                    .send()
                    .await,
            ),
        }
    }
}

/// 90% verify, 8% refresh, 2% login, each virtual user with its own session.
pub async fn mixed(args: LoadArgs) -> anyhow::Result<Value> {
    let client = client(args.concurrency)?;
    let mut workers = Vec::with_capacity(args.concurrency);
    for worker in 0..args.concurrency {
        let user = worker % args.users.max(1);
        let session = log_in(&client, &args.url, user).await?;
        workers.push(Mixed {
            client: client.clone(),
            url: args.url.clone(),
            user,
            access: session["access_token"].as_str().unwrap_or_default().into(),
            refresh: session["refresh_token"].as_str().unwrap_or_default().into(),
            // Staggered, so that the virtual users do not log in all at once.
            step: (worker as u64 * 7) % 50,
        });
    }
    let tally = runner::run(workers, args.seconds).await;
    Ok(tally.report("mixed", json!({ "concurrency": args.concurrency })))
}

/// Options of the login flood.
#[derive(Debug, clap::Args)]
pub struct FloodArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Logins sent per second, whatever the answers (open loop).
    #[arg(long)]
    login_rate: f64,
    /// A login unanswered after this many seconds counts as failed: a wait without bound.
    #[arg(long, default_value_t = 30)]
    login_timeout: u64,
}

/// Verify clients in a closed loop while logins arrive at `login_rate` per second.
pub async fn flood(args: FloodArgs) -> anyhow::Result<Value> {
    let load = &args.load;
    let workers = verify_workers(load, 1).await?;
    let logins = tokio::spawn(send_logins(
        reqwest::Client::builder()
            .timeout(Duration::from_secs(args.login_timeout))
            .build()?,
        format!("{}/auth/login", load.url),
        load.users.max(1),
        args.login_rate,
        Duration::from_secs(load.seconds),
    ));
    let verify = runner::run(workers, load.seconds).await;
    let logins = logins.await?;
    Ok(json!({
        "scenario": "flood",
        "login_rate": args.login_rate,
        "verify": verify.report("verify", json!({ "concurrency": load.concurrency })),
        "login": logins.report("login", json!({})),
    }))
}

/// Sends a login every `1 / rate` seconds for `duration`, each on its own task.
async fn send_logins(
    client: reqwest::Client,
    url: String,
    users: usize,
    rate: f64,
    duration: Duration,
) -> Tally {
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.001)));
    let mut sent = Vec::new();
    let mut next = 0;
    while started.elapsed() < duration {
        ticker.tick().await;
        let request = as_new_client(client.post(&url))
            .json(&json!({ "email": email(next % users), "password": PASSWORD }));
        next += 1;
        sent.push(tokio::spawn(async move {
            let at = Instant::now();
            let status = status(request.send().await);
            (status, at.elapsed())
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
