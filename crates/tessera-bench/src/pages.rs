//! The hosted sign-in page against the cheapest route there is (`bench/pages.sh`):
//!
//! - `GET /healthz`: a fixed JSON answer, the server's floor for one request;
//! - `GET /ui/login`, a first visit: no query, no cookie, so the server mints a CSRF token and
//!   answers a `Set-Cookie` for it with the page;
//! - `GET /ui/login`, a returning browser: the CSRF cookie of an earlier visit sent back.
//!
//! Each runs for `seconds` at `concurrency` keep-alive connections, driven by the efficient
//! driver of `hammer.rs` (one thread, prepared requests), in turn and round by round, the
//! order rotating each round, so that the machine's noise falls on all three alike. Every
//! report holds the rate, p50/p99, the bytes of an answer, the server's CPU time per request
//! (from `/proc`, given `--server-pid`) and the answers that were not 200; the summary holds
//! each figure's median over the rounds and the per-round ratios to `/healthz`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::hammer::{measure, plain_http_address};
use crate::scenarios::client;

/// Options of the pages drill.
#[derive(Debug, clap::Args)]
pub struct PagesArgs {
    /// Tessera's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds of each measured run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Rounds; each runs every endpoint once.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds each endpoint is driven, unmeasured, before the first round.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// The server's process id: its CPU time over each run is reported per request.
    #[arg(long)]
    server_pid: Option<u32>,
}

/// What is measured, in the order of the first round.
const TARGETS: [&str; 3] = ["healthz", "login_first_visit", "login_returning"];

/// Checks the three answers once, then measures them round by round.
pub async fn run(args: PagesArgs) -> anyhow::Result<Value> {
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(args.rounds > 0, "--rounds must be at least 1");
    let (address, host) = plain_http_address(&args.url)?;
    let cookies = returning_browsers(&args.url, args.concurrency).await?;
    let prepared = |target: &str| -> Vec<Vec<Box<[u8]>>> {
        (0..args.concurrency)
            .map(|connection| {
                let request = match target {
                    "healthz" => request_bytes(&host, "/healthz", None),
                    "login_first_visit" => request_bytes(&host, "/ui/login", None),
                    _ => request_bytes(&host, "/ui/login", Some(&cookies[connection])),
                };
                vec![request]
            })
            .collect()
    };
    let server = args.server_pid.map(|pid| pid.to_string());

    for target in TARGETS {
        eprintln!("warm-up: {target}");
        measure(address, prepared(target), args.warmup, server.as_deref())?;
    }
    let mut rounds: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for round in 0..args.rounds {
        for offset in 0..TARGETS.len() {
            let target = TARGETS[(round + offset) % TARGETS.len()];
            eprintln!("round {} of {}: {target}", round + 1, args.rounds);
            let report = one_run(
                address,
                prepared(target),
                args.seconds,
                server.as_deref(),
                target,
            )?;
            eprintln!("{report}");
            rounds.entry(target).or_default().push(report);
        }
    }

    let summary: BTreeMap<&str, Value> = rounds
        .iter()
        .map(|(target, reports)| (*target, summarize(reports)))
        .collect();
    let healthz = &rounds["healthz"];
    let mut ratios = BTreeMap::new();
    for target in ["login_first_visit", "login_returning"] {
        let per_round = |key: &str| -> Vec<f64> {
            rounds[target]
                .iter()
                .zip(healthz)
                .filter_map(|(page, floor)| Some(page[key].as_f64()? / floor[key].as_f64()?))
                .collect()
        };
        let rate = per_round("per_sec");
        let cpu = per_round("server_cpu_us_per_request");
        ratios.insert(
            target,
            json!({
                "rate_vs_healthz": { "per_round": rate, "median": median(&rate) },
                "server_cpu_vs_healthz": { "per_round": cpu, "median": median(&cpu) },
            }),
        );
    }
    Ok(json!({
        "scenario": "pages",
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "median": summary,
        "ratios": ratios,
        "runs": rounds,
    }))
}

/// One measured run of `target`, as a report with its errors (answers other than 200).
fn one_run(
    address: SocketAddr,
    requests: Vec<Vec<Box<[u8]>>>,
    seconds: u64,
    server: Option<&str>,
    target: &str,
) -> anyhow::Result<Value> {
    let measured = measure(address, requests, seconds, server)?;
    let answered = measured.tally.answered();
    let extra = measured.cpu_report();
    let mut report = measured.tally.report(target, extra);
    let ok = report["statuses"]["200"].as_u64().unwrap_or(0);
    report["errors"] = json!(answered - ok);
    Ok(report)
}

/// The median over the rounds of each figure, and the errors of all of them.
fn summarize(reports: &[Value]) -> Value {
    let figure = |key: &str| -> Value {
        let values: Vec<f64> = reports.iter().filter_map(|r| r[key].as_f64()).collect();
        json!({
            "median": median(&values),
            "min": values.iter().copied().reduce(f64::min),
            "max": values.iter().copied().reduce(f64::max),
        })
    };
    let errors: u64 = reports.iter().filter_map(|r| r["errors"].as_u64()).sum();
    json!({
        "per_sec": figure("per_sec"),
        "p50_ms": figure("p50_ms"),
        "p99_ms": figure("p99_ms"),
        "bytes_per_response": figure("bytes_per_response"),
        "server_cpu_us_per_request": figure("server_cpu_us_per_request"),
        "server_cores": figure("server_cores"),
        "driver_cores": figure("driver_cores"),
        "errors": errors,
    })
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2.0),
    }
}

/// A browser per connection: each visits `/ui/login` once for a CSRF cookie of its own
/// (`name=value`, named as the server names it). Checks on the way that a first visit is
/// answered 200 with a cookie and the token in the page, and a returning one 200 with the
/// same token and no new cookie, so that the two runs measure what they say.
async fn returning_browsers(url: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let client = client(1)?;
    let status = client.get(format!("{url}/healthz")).send().await?.status();
    anyhow::ensure!(status.as_u16() == 200, "/healthz answered {status}");
    let page = format!("{url}/ui/login");
    let mut cookies = Vec::with_capacity(count);
    for _ in 0..count {
        let first = client.get(&page).send().await?;
        anyhow::ensure!(
            first.status().as_u16() == 200,
            "a first visit to /ui/login answered {}",
            first.status()
        );
        let cookie = first
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|value| value.split(';').next())
            .find(|pair| pair.contains("csrf"))
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("a first visit to /ui/login set no CSRF cookie"))?;
        let token = cookie
            .split_once('=')
            .map_or("", |(_, token)| token)
            .to_owned();
        anyhow::ensure!(!token.is_empty(), "an empty CSRF cookie: {cookie}");
        anyhow::ensure!(
            first.text().await?.contains(&token),
            "the first visit's page does not carry its CSRF token"
        );
        let again = client
            .get(&page)
            .header(reqwest::header::COOKIE, &cookie)
            .send()
            .await?;
        anyhow::ensure!(
            again.status().as_u16() == 200,
            "a returning visit to /ui/login answered {}",
            again.status()
        );
        anyhow::ensure!(
            again.headers().get(reqwest::header::SET_COOKIE).is_none(),
            "a returning browser was sent a new cookie"
        );
        anyhow::ensure!(
            again.text().await?.contains(&token),
            "a returning browser's page does not carry its CSRF token"
        );
        cookies.push(cookie);
    }
    Ok(cookies)
}

/// A GET of `path`, with `cookie` (`name=value`) if any.
fn request_bytes(host: &str, path: &str, cookie: Option<&str>) -> Box<[u8]> {
    let cookie = cookie.map_or(String::new(), |cookie| format!("Cookie: {cookie}\r\n"));
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}\r\n")
        .into_bytes()
        .into_boxed_slice()
}
