//! Traffic of a real app: the mixed scenario (90% verify, 8% refresh, 2% login), the soak (the
//! same people logging out too, paced, for a long time) and the login flood (logins sent at a
//! fixed rate above capacity while verify latency is measured).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::runner::{self, Pace, Tally, Worker};
use crate::scenarios::{
    LoadArgs, PASSWORD, as_new_client, client, email, log_in, status, verify_workers,
};

/// What a virtual user does at one step.
enum Action {
    Verify,
    Refresh,
    Login,
    Logout,
}

/// A virtual user's round of steps.
#[derive(Clone, Copy)]
enum Pattern {
    /// 90% verify, 8% refresh, 2% login (a login replaces the session without ending it).
    Mixed,
    /// In 100 steps: a logout, the login after it, 4 refreshes and 94 verifies; every session
    /// ends, as people's do, so ended sessions and revocations pile up for the pruning to clear.
    Soak,
}

impl Pattern {
    fn action(self, step: u64) -> Action {
        match self {
            Pattern::Mixed => match step % 50 {
                0 => Action::Login,
                1..=4 => Action::Refresh,
                _ => Action::Verify,
            },
            Pattern::Soak => match step % 100 {
                0 => Action::Logout,
                1 => Action::Login,
                20 | 40 | 60 | 80 => Action::Refresh,
                _ => Action::Verify,
            },
        }
    }

    /// Whether a virtual user waits a 503's `Retry-After` before its next request, as a
    /// well-behaved app does. The soak's do; the mixed scenario's go on at once, as they always
    /// have, so that its figures stay comparable with earlier runs.
    fn waits_retry_after(self) -> bool {
        matches!(self, Pattern::Soak)
    }

    /// Steps in one round, over which the virtual users' starts are staggered.
    fn round(self) -> u64 {
        match self {
            Pattern::Mixed => 50,
            Pattern::Soak => 100,
        }
    }
}

/// A virtual user holding a session: it mostly calls the API, sometimes refreshes, rarely logs
/// in (and, in the soak, logs out first).
struct Person {
    client: reqwest::Client,
    url: String,
    user: usize,
    access: String,
    refresh: String,
    step: u64,
    pattern: Pattern,
    /// After a login answered 503: not before its `Retry-After`, as a well-behaved app waits.
    resume_at: Option<Instant>,
}

impl Person {
    /// A signed-in virtual user of account `user`, at a step of its round that depends on
    /// `index`, so that the virtual users do not log in all at once.
    async fn new(
        client: &reqwest::Client,
        url: &str,
        user: usize,
        index: usize,
        pattern: Pattern,
    ) -> anyhow::Result<Self> {
        let session = log_in(client, url, user).await?;
        let text = |key: &str| session[key].as_str().unwrap_or_default().to_owned();
        Ok(Self {
            client: client.clone(),
            url: url.to_owned(),
            user,
            access: text("access_token"),
            refresh: text("refresh_token"),
            step: (index as u64 * 7) % pattern.round(),
            pattern,
            resume_at: None,
        })
    }

    /// Posts `body` to `path` (a login or a refresh) and keeps the tokens of the answer.
    async fn exchange(&mut self, path: &str, body: Value) -> u16 {
        let sent = as_new_client(self.client.post(format!("{}{path}", self.url)))
            .json(&body)
            .send()
            .await;
        let Ok(response) = sent else { return 0 };
        let status = response.status().as_u16();
        if status == 503 && self.pattern.waits_retry_after() {
            let seconds = response
                .headers()
                .get("retry-after")
                .and_then(|value| value.to_str().ok()?.parse().ok())
                .unwrap_or(1);
            self.resume_at = Some(Instant::now() + Duration::from_secs(seconds));
        }
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

impl Worker for Person {
    fn resumes_at(&self) -> Option<Instant> {
        self.resume_at
    }

    async fn step(&mut self) -> u16 {
        self.resume_at = None;
        self.step += 1;
        // Signed out (a login refused, say during an outage): logging in is all an app can do.
        let action = if self.access.is_empty() {
            Action::Login
        } else {
            self.pattern.action(self.step)
        };
        match action {
            Action::Login => {
                let body = json!({ "email": email(self.user), "password": PASSWORD });
                self.exchange("/auth/login", body).await
            }
            Action::Refresh => {
                let body = json!({ "refresh_token": self.refresh });
                self.exchange("/auth/refresh", body).await
            }
            Action::Logout => {
                // The app forgets the tokens whatever the answer, as apps do.
                let access = std::mem::take(&mut self.access);
                self.refresh.clear();
                status(
                    self.client
                        .post(format!("{}/auth/logout", self.url))
                        .bearer_auth(access)
                        .send()
                        .await,
                )
            }
            Action::Verify => status(
                self.client
                    .get(format!("{}/users/me", self.url))
                    .bearer_auth(&self.access)
                    .send()
                    .await,
            ),
        }
    }
}

/// `args.concurrency` signed-in virtual users following `pattern`.
async fn people(args: &LoadArgs, pattern: Pattern) -> anyhow::Result<Vec<Person>> {
    let client = client(args.concurrency)?;
    let mut people = Vec::with_capacity(args.concurrency);
    for index in 0..args.concurrency {
        let user = index % args.users.max(1);
        people.push(Person::new(&client, &args.url, user, index, pattern).await?);
    }
    Ok(people)
}

/// 90% verify, 8% refresh, 2% login, each virtual user with its own session.
pub async fn mixed(args: LoadArgs) -> anyhow::Result<Value> {
    let workers = people(&args, Pattern::Mixed).await?;
    let tally = runner::run(workers, args.seconds).await;
    Ok(tally.report("mixed", json!({ "concurrency": args.concurrency })))
}

/// Options of the soak.
#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Requests per second over all virtual users; 0: find the capacity instead (the highest
    /// rate, within 10%, that short paced runs of the mix keep with no answer but 2xx).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Seconds per window of the running report (one JSON line each on stderr).
    #[arg(long, default_value_t = 60)]
    window: u64,
}

/// The soak's round (verify, refresh, logout, login) for `seconds`, paced at `rate`; or, with no
/// rate, the search for its capacity, each step lasting `seconds`.
pub async fn soak(args: SoakArgs) -> anyhow::Result<Value> {
    if args.rate <= 0.0 {
        return soak_capacity(&args.load).await;
    }
    let load = &args.load;
    let workers = people(load, Pattern::Soak).await?;
    let pace = Pace {
        rate: args.rate,
        window: Duration::from_secs(args.window.max(1)),
    };
    let (tally, windows) = runner::run_paced(workers, load.seconds, pace).await;
    let extra = json!({ "concurrency": load.concurrency, "rate": args.rate });
    let mut report = tally.report("soak", extra);
    report["windows"] = Value::Array(windows);
    Ok(report)
}

/// Paced runs of the soak's mix at doubling rates, then halving the gap between the highest one
/// kept and the lowest one missed: a closed loop cannot measure this mix, because its logins
/// cost a thousand times its verifies, so a closed loop only measures how fast 503s come back.
async fn soak_capacity(load: &LoadArgs) -> anyhow::Result<Value> {
    let (mut kept, mut missed) = (0.0_f64, f64::INFINITY);
    let mut rate = 1000.0;
    let mut steps = Vec::new();
    while missed.is_infinite() || missed > kept * 1.1 {
        let workers = people(load, Pattern::Soak).await?;
        let pace = Pace {
            rate,
            window: Duration::from_secs(load.seconds),
        };
        // The step's one window is reported on stderr as it ends.
        let (tally, _) = runner::run_paced(workers, load.seconds, pace).await;
        let clean = tally.errors() == 0 && tally.rate() >= 0.97 * rate;
        steps.push(tally.report("soak_step", json!({ "rate": rate })));
        if clean {
            kept = rate;
        } else {
            missed = rate;
        }
        rate = if missed.is_infinite() {
            rate * 2.0
        } else {
            (kept + missed) / 2.0
        };
    }
    Ok(json!({ "scenario": "soak_capacity", "per_sec": kept, "steps": steps }))
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
