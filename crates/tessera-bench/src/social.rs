//! Social login and the vault under load (`bench/social.sh`), against a GitHub-shaped provider
//! served by this process, so the provider's part can be told apart from Tessera's own:
//!
//! - each virtual user signs in through the provider again and again: authorize, the
//!   provider's redirect, Tessera's callback, the login code's exchange;
//! - the provider notes, per code, how long the callback's round trips to it took (from the
//!   token request's arrival to the last profile answer), and the callback's own work is its
//!   latency minus that window;
//! - then back ends ask the vault for the users' provider tokens (the hit path: the token is
//!   fresh, nothing goes upstream).
//!
//! Tessera must already run with provider `bench` pointing at `--provider-listen` (the script
//! starts it first: it does not call the provider before a login).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::ceiling::{reply, serve_http1};
use crate::runner::Tally;

/// Options of the social scenario.
#[derive(Debug, clap::Args)]
pub struct SocialArgs {
    /// Tessera's base URL.
    #[arg(long)]
    url: String,
    /// Where this process serves the provider (Tessera's `bench` provider points here).
    #[arg(long, default_value = "127.0.0.1:18511")]
    provider_listen: std::net::SocketAddr,
    /// A service key Tessera accepts, for the vault.
    #[arg(long)]
    service_key: String,
    /// Provider accounts, one per virtual user (each user's first login makes its account).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds of each phase (logins, then the vault).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

/// The provider's side: who each code signs in, and the round-trip windows.
#[derive(Default)]
struct Provider {
    next: AtomicU64,
    /// Code → account.
    codes: Mutex<HashMap<String, u64>>,
    /// Access token → (account, when its code was traded).
    tokens: Mutex<HashMap<String, (u64, Instant)>>,
    /// Code → how long the callback spent at the provider.
    windows: Mutex<HashMap<String, Duration>>,
}

impl Provider {
    fn authorize(&self, query: &str) -> Response<Full<Bytes>> {
        let params: HashMap<String, String> = url_params(query);
        let (Some(redirect), Some(state)) = (params.get("redirect_uri"), params.get("state"))
        else {
            return reply(StatusCode::BAD_REQUEST, Bytes::new());
        };
        let account = params
            .get("bench_user")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let code = format!("code-{}", self.next.fetch_add(1, Ordering::Relaxed));
        lock(&self.codes).insert(code.clone(), account);
        let location = format!("{redirect}?code={code}&state={state}");
        let mut response = reply(StatusCode::FOUND, Bytes::new());
        if let Ok(value) = header::HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        response
    }

    fn token(&self, body: &[u8]) -> Response<Full<Bytes>> {
        let arrived = Instant::now();
        let params = url_params(&String::from_utf8_lossy(body));
        let Some(code) = params.get("code") else {
            return reply(StatusCode::BAD_REQUEST, Bytes::new());
        };
        let Some(account) = lock(&self.codes).remove(code) else {
            return reply(
                StatusCode::BAD_REQUEST,
                Bytes::from_static(br#"{"error":"invalid_grant"}"#),
            );
        };
        let token = format!("at-{code}");
        lock(&self.tokens).insert(token.clone(), (account, arrived));
        let body = json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": 28_800,
            "refresh_token": format!("rt-{code}"),
            "scope": "read:user,user:email",
        });
        reply(StatusCode::OK, Bytes::from(body.to_string()))
    }

    fn account_of(&self, request: &Request<Incoming>) -> Option<(String, u64, Instant)> {
        let token = request
            .headers()
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        let (account, since) = *lock(&self.tokens).get(token)?;
        Some((token.to_owned(), account, since))
    }

    fn user(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        match self.account_of(request) {
            Some((_, account, _)) => {
                let body = json!({"id": account, "login": format!("bench{account}"), "name": null, "email": null});
                reply(StatusCode::OK, Bytes::from(body.to_string()))
            }
            None => reply(StatusCode::UNAUTHORIZED, Bytes::new()),
        }
    }

    /// The last round trip of a callback: its window closes here.
    fn emails(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let Some((token, account, since)) = self.account_of(request) else {
            return reply(StatusCode::UNAUTHORIZED, Bytes::new());
        };
        let body = json!([{
            "email": format!("bench-social-{account}@example.com"),
            "primary": true,
            "verified": true,
            "visibility": "private",
        }]);
        let code = token.trim_start_matches("at-").to_owned();
        lock(&self.windows).insert(code, since.elapsed());
        reply(StatusCode::OK, Bytes::from(body.to_string()))
    }

    fn window(&self, code: &str) -> Option<Duration> {
        lock(&self.windows).remove(code)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn url_params(text: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

async fn handle(
    provider: Arc<Provider>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    use http_body_util::BodyExt;
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    Ok(match (request.method().clone(), path.as_str()) {
        (Method::GET, "/login/oauth/authorize") => provider.authorize(&query),
        (Method::POST, "/login/oauth/access_token") => {
            let body = request
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            provider.token(&body)
        }
        (Method::GET, "/user") => provider.user(&request),
        (Method::GET, "/user/emails") => provider.emails(&request),
        _ => reply(StatusCode::NOT_FOUND, Bytes::new()),
    })
}

/// One virtual user's sign-ins through the provider.
struct Browser {
    client: reqwest::Client,
    url: String,
    account: usize,
    provider: Arc<Provider>,
    user_id: Option<String>,
}

/// The latencies of one sign-in.
struct SignIn {
    callback: Duration,
    upstream: Duration,
    exchange: Duration,
}

impl Browser {
    async fn sign_in(&mut self) -> anyhow::Result<SignIn> {
        let response = self
            .client
            .get(format!("{}/auth/oauth/bench/authorize", self.url))
            .send()
            .await?
            .error_for_status()?;
        let binding = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                c.split(';')
                    .next()
                    .filter(|c| c.starts_with("tessera_oauth="))
            })
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no binding cookie"))?;
        let body: Value = response.json().await?;
        let authorize = format!(
            "{}&bench_user={}",
            body["url"].as_str().unwrap_or_default(),
            self.account
        );
        let at_provider = self.client.get(authorize).send().await?;
        let back = location(&at_provider)?;
        let code = url_params(back.split_once('?').map_or("", |(_, q)| q))
            .remove("code")
            .unwrap_or_default();
        let path = back
            .find("/auth/oauth/")
            .map(|at| &back[at..])
            .ok_or_else(|| anyhow::anyhow!("unexpected redirect {back}"))?;
        let sent = Instant::now();
        let callback = self
            .client
            .get(format!("{}{path}", self.url))
            .header(header::COOKIE.as_str(), binding)
            .send()
            .await?;
        let callback_latency = sent.elapsed();
        let target = location(&callback)?;
        let login_code = url_params(target.split_once('?').map_or("", |(_, q)| q))
            .remove("login_code")
            .ok_or_else(|| anyhow::anyhow!("no login code in {target}"))?;
        let upstream = self
            .provider
            .window(&code)
            .ok_or_else(|| anyhow::anyhow!("the provider saw no round trips for {code}"))?;
        let sent = Instant::now();
        let tokens: Value = self
            .client
            .post(format!("{}/auth/oauth/exchange", self.url))
            .json(&json!({ "login_code": login_code }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let exchange = sent.elapsed();
        self.user_id = tokens["user"]["id"].as_str().map(str::to_owned);
        Ok(SignIn {
            callback: callback_latency,
            upstream,
            exchange,
        })
    }
}

fn location(response: &reqwest::Response) -> anyhow::Result<String> {
    response
        .headers()
        .get(header::LOCATION.as_str())
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no redirect: {}", response.status()))
}

/// Runs both phases and reports them.
pub async fn run(args: SocialArgs) -> anyhow::Result<Value> {
    let provider = Arc::new(Provider::default());
    let listener = tokio::net::TcpListener::bind(args.provider_listen).await?;
    tokio::spawn(serve_http1(listener, Arc::clone(&provider), handle));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|account| {
            let mut browser = Browser {
                client: client.clone(),
                url: args.url.clone(),
                account,
                provider: Arc::clone(&provider),
                user_id: None,
            };
            tokio::spawn(async move {
                let (mut callback, mut own, mut upstream, mut exchange) = (
                    Tally::default(),
                    Tally::default(),
                    Tally::default(),
                    Tally::default(),
                );
                while Instant::now() < deadline {
                    match browser.sign_in().await {
                        Ok(sign_in) => {
                            callback.record(200, sign_in.callback);
                            upstream.record(200, sign_in.upstream);
                            own.record(200, sign_in.callback.saturating_sub(sign_in.upstream));
                            exchange.record(200, sign_in.exchange);
                        }
                        Err(error) => {
                            eprintln!("sign-in failed: {error}");
                            callback.record(0, Duration::ZERO);
                        }
                    }
                }
                ([callback, own, upstream, exchange], browser.user_id)
            })
        })
        .collect();
    let mut totals: [Tally; 4] = Default::default();
    let mut users = Vec::new();
    for task in tasks {
        let (tallies, user) = task.await?;
        for (total, tally) in totals.iter_mut().zip(tallies) {
            total.merge(tally);
        }
        users.extend(user);
    }
    let elapsed = started.elapsed();
    for total in &mut totals {
        total.finish(elapsed);
    }
    anyhow::ensure!(!users.is_empty(), "no sign-in succeeded");
    let vault = vault(&client, &args, &users).await;
    let [callback, own, upstream, exchange] = totals;
    Ok(json!({
        "scenario": "social",
        "concurrency": args.concurrency,
        "callback": callback.report("callback", json!({})),
        "callback_own": own.report("callback_own", json!({})),
        "provider_round_trips": upstream.report("provider_round_trips", json!({})),
        "exchange": exchange.report("exchange", json!({})),
        "vault": vault.report("vault", json!({})),
    }))
}

/// The vault's hit path: every user's token is fresh.
async fn vault(client: &reqwest::Client, args: &SocialArgs, users: &[String]) -> Tally {
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|worker| {
            let client = client.clone();
            let url = format!(
                "{}/internal/users/{}/providers/bench/token",
                args.url,
                users[worker % users.len()]
            );
            let key = args.service_key.clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let status = client
                        .post(&url)
                        .bearer_auth(&key)
                        .send()
                        .await
                        .map_or(0, |r| r.status().as_u16());
                    tally.record(status, sent.elapsed());
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        if let Ok(tally) = task.await {
            total.merge(tally);
        }
    }
    total.finish(started.elapsed());
    total
}
