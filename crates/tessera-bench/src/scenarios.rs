//! The HTTP scenarios: seed, signup, login, refresh chains, verify.

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};

use crate::runner::{self, Worker};

pub(crate) const PASSWORD: &str = "benchmark password 1234";

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

/// Options of the login and refresh scenarios.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub(crate) url: String,
    /// Seeded users to log in as.
    #[arg(long, default_value_t = 64)]
    pub(crate) users: usize,
    /// Concurrent virtual users.
    #[arg(long, default_value_t = 16)]
    pub(crate) concurrency: usize,
    /// Measurement time in seconds.
    #[arg(long, default_value_t = 10)]
    pub(crate) seconds: u64,
}

/// Options of the verify scenario.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Give each request a token not used before by that client (up to this many per client),
    /// so no cache of verified tokens can help; 0: each client reuses one token.
    #[arg(long, default_value_t = 0)]
    distinct: usize,
    /// Send the token as the browser-mode access cookie (named as the server names it:
    /// `__Host-tessera_at`, or `tessera_at` with `--cookie-name`) instead of a bearer header.
    #[arg(long)]
    cookie: bool,
    /// The access cookie's name, for a server in `cookies.dev_insecure` mode.
    #[arg(long, default_value = "__Host-tessera_at")]
    cookie_name: String,
}

pub(crate) fn email(index: usize) -> String {
    format!("bench-{index}@example.com")
}

/// Marks `request` as coming from a client address used by no earlier request of this run
/// (`X-Forwarded-For`; the servers under test trust the driver as their proxy): the load is
/// many people, each within the per-address limits, so the limits' cost is measured without
/// the limits refusing the load.
pub(crate) fn as_new_client(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let [_, b, c, d] = n.to_be_bytes();
    request.header("x-forwarded-for", format!("10.{b}.{c}.{d}"))
}

pub(crate) fn client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?)
}

/// Signs up `users` users (ignoring ones that exist).
pub async fn seed(args: SeedArgs) -> anyhow::Result<Value> {
    let client = client(1)?;
    for index in 0..args.users {
        let body = json!({ "email": email(index), "password": PASSWORD });
        let status = as_new_client(client.post(format!("{}/auth/signup", args.url)))
            .json(&body)
            .send()
            .await?
            .status();
        anyhow::ensure!(
            status.is_success() || status.as_u16() == 409,
            "signup answered {status}"
        );
    }
    Ok(json!({ "scenario": "seed", "users": args.users }))
}

struct Signup {
    client: reqwest::Client,
    url: String,
    prefix: String,
    next: usize,
}

impl Worker for Signup {
    async fn step(&mut self) -> u16 {
        let email = format!("{}-{}@example.com", self.prefix, self.next);
        self.next += 1;
        let body = json!({ "email": email, "password": PASSWORD });
        let request = as_new_client(self.client.post(&self.url));
        status(request.json(&body).send().await)
    }
}

/// Signs up new users for `seconds` with `concurrency` virtual users.
pub async fn signup(args: LoadArgs) -> anyhow::Result<Value> {
    let client = client(args.concurrency)?;
    // A prefix of this run, so that runs against one data directory never collide.
    let run = std::process::id();
    let workers = (0..args.concurrency)
        .map(|worker| Signup {
            client: client.clone(),
            url: format!("{}/auth/signup", args.url),
            prefix: format!("signup-{run}-{worker}"),
            next: 0,
        })
        .collect();
    let tally = runner::run(workers, args.seconds).await;
    Ok(tally.report("signup", json!({ "concurrency": args.concurrency })))
}

struct Login {
    client: reqwest::Client,
    url: String,
    next: usize,
    users: usize,
}

impl Worker for Login {
    async fn step(&mut self) -> u16 {
        let body = json!({ "email": email(self.next % self.users), "password": PASSWORD });
        self.next += 1;
        let request = as_new_client(self.client.post(&self.url));
        status(request.json(&body).send().await)
    }
}

/// Logs in for `seconds` with `concurrency` virtual users.
pub async fn login(args: LoadArgs) -> anyhow::Result<Value> {
    let client = client(args.concurrency)?;
    let workers = (0..args.concurrency)
        .map(|worker| Login {
            client: client.clone(),
            url: format!("{}/auth/login", args.url),
            next: worker,
            users: args.users.max(1),
        })
        .collect();
    let tally = runner::run(workers, args.seconds).await;
    Ok(tally.report("login", json!({ "concurrency": args.concurrency })))
}

struct Refresh {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Worker for Refresh {
    async fn step(&mut self) -> u16 {
        let body = json!({ "refresh_token": self.token });
        let Ok(response) = self.client.post(&self.url).json(&body).send().await else {
            return 0;
        };
        let status = response.status().as_u16();
        if status == 200 {
            match response
                .json::<Value>()
                .await
                .ok()
                .and_then(|b| b["refresh_token"].as_str().map(str::to_owned))
            {
                // The chain goes on only with a new token: the same one back would be a fork.
                Some(next) if next != self.token => self.token = next,
                _ => return 1,
            }
        }
        status
    }
}

/// Each virtual user logs in once, then rotates its refresh token as fast as answers come.
pub async fn refresh(args: LoadArgs) -> anyhow::Result<Value> {
    let client = client(args.concurrency)?;
    let mut workers = Vec::with_capacity(args.concurrency);
    for worker in 0..args.concurrency {
        let session = log_in(&client, &args.url, worker % args.users.max(1)).await?;
        let token = session["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        workers.push(Refresh {
            client: client.clone(),
            url: format!("{}/auth/refresh", args.url),
            token,
        });
    }
    let tally = runner::run(workers, args.seconds).await;
    Ok(tally.report("refresh", json!({ "concurrency": args.concurrency })))
}

pub(crate) struct Verify {
    client: reqwest::Client,
    url: String,
    tokens: Vec<String>,
    next: usize,
    /// `Some(name)`: the token goes in cookie `name`, as a browser sends it.
    cookie: Option<String>,
}

impl Worker for Verify {
    async fn step(&mut self) -> u16 {
        let token = &self.tokens[self.next % self.tokens.len()];
        self.next += 1;
        let request = self.client.get(&self.url);
        let request = match &self.cookie {
            Some(name) => request.header("cookie", format!("{name}={token}")),
            None => request.bearer_auth(token),
        };
        status(request.send().await)
    }
}

/// `GET /users/me`, each client with its own token (or a fresh one per request).
pub async fn verify(args: VerifyArgs) -> anyhow::Result<Value> {
    let load = &args.load;
    let mut workers = verify_workers(load, args.distinct.max(1)).await?;
    if args.cookie {
        for worker in &mut workers {
            worker.cookie = Some(args.cookie_name.clone());
        }
    }
    let tally = runner::run(workers, load.seconds).await;
    let scenario = match (args.distinct > 0, args.cookie) {
        (true, _) => "verify_distinct",
        (false, true) => "verify_cookie",
        (false, false) => "verify",
    };
    Ok(tally.report(
        scenario,
        json!({ "concurrency": load.concurrency, "distinct": args.distinct }),
    ))
}

/// `load.concurrency` clients of `GET /users/me`, each with `tokens` access tokens of its own
/// session, used in turn.
pub(crate) async fn verify_workers(load: &LoadArgs, tokens: usize) -> anyhow::Result<Vec<Verify>> {
    let client = client(load.concurrency)?;
    let per_client = tokens_per_client(&client, &load.url, load.users, load.concurrency, tokens);
    Ok(per_client
        .await?
        .into_iter()
        .map(|tokens| Verify {
            client: client.clone(),
            url: format!("{}/users/me", load.url),
            tokens,
            next: 0,
            cookie: None,
        })
        .collect())
}

/// For each of `clients` clients, `count` access tokens of a session of its own (of seeded user
/// `client % users`), made in parallel: with many tokens each, that is many refreshes.
pub(crate) async fn tokens_per_client(
    client: &reqwest::Client,
    url: &str,
    users: usize,
    clients: usize,
    count: usize,
) -> anyhow::Result<Vec<Vec<String>>> {
    let setups: Vec<_> = (0..clients)
        .map(|index| {
            tokio::spawn(tokens_of(
                client.clone(),
                url.to_owned(),
                index % users.max(1),
                count,
            ))
        })
        .collect();
    let mut tokens = Vec::with_capacity(clients);
    for setup in setups {
        tokens.push(setup.await??);
    }
    Ok(tokens)
}

/// `count` access tokens of one session of user `index`: one from the login, the others from
/// refreshes.
async fn tokens_of(
    client: reqwest::Client,
    url: String,
    index: usize,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let session = log_in(&client, &url, index).await?;
    let text = |value: &Value, key: &str| value[key].as_str().unwrap_or_default().to_owned();
    let mut tokens = vec![text(&session, "access_token")];
    let mut refresh = text(&session, "refresh_token");
    while tokens.len() < count {
        let next: Value = client
            .post(format!("{url}/auth/refresh"))
            .json(&json!({ "refresh_token": refresh }))
            .send()
            .await?
            .json()
            .await?;
        tokens.push(text(&next, "access_token"));
        refresh = text(&next, "refresh_token");
    }
    Ok(tokens)
}

/// Logs user `index` in for a scenario's setup, waiting out 503s: many clients setting up at
/// once can fill the hashing queue, which sheds the excess by design.
pub(crate) async fn log_in(
    client: &reqwest::Client,
    url: &str,
    index: usize,
) -> anyhow::Result<Value> {
    let mut attempts = 0;
    let response = loop {
        let response = as_new_client(client.post(format!("{url}/auth/login")))
            .json(&json!({ "email": email(index), "password": PASSWORD }))
            .send()
            .await?;
        attempts += 1;
        if response.status().as_u16() != 503 || attempts == 100 {
            break response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    anyhow::ensure!(
        response.status().is_success(),
        "login answered {}",
        response.status()
    );
    Ok(response.json().await?)
}

pub(crate) fn status(result: reqwest::Result<reqwest::Response>) -> u16 {
    result.map_or(0, |response| response.status().as_u16())
}
