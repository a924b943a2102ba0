//! Closed-loop load: each virtual user sends its next request when the last one answered, for
//! a fixed time, and the answers are tallied by status with their latencies.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One virtual user.
pub trait Worker: Send + 'static {
    /// Sends one request; returns the HTTP status, or 0 for a transport error.
    fn step(&mut self) -> impl Future<Output = u16> + Send;
}

/// What a run produced.
#[derive(Debug, Default)]
pub struct Tally {
    ok: u64,
    shed: u64,
    failed: u64,
    /// Answers by HTTP status (0: no answer).
    statuses: BTreeMap<u16, u64>,
    latencies_us: Vec<u32>,
    elapsed: f64,
}

impl Tally {
    /// Counts one answer.
    pub fn record(&mut self, status: u16, latency: Duration) {
        match status {
            200..=299 => self.ok += 1,
            503 | 429 => self.shed += 1,
            _ => self.failed += 1,
        }
        *self.statuses.entry(status).or_default() += 1;
        self.latencies_us
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.shed += other.shed;
        self.failed += other.failed;
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.latencies_us.extend(other.latencies_us);
    }

    /// Sets the time the tallied requests were sent over.
    pub fn finish(&mut self, elapsed: Duration) {
        self.elapsed = elapsed.as_secs_f64();
    }

    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed
    }

    /// The report as JSON, under `scenario`.
    pub fn report(mut self, scenario: &str, extra: Value) -> Value {
        self.latencies_us.sort_unstable();
        let percentile = |p: f64| {
            let index = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
            self.latencies_us
                .get(index)
                .map_or(0.0, |us| f64::from(*us) / 1000.0)
        };
        let mut report = json!({
            "scenario": scenario,
            "per_sec": self.rate(),
            "ok": self.ok,
            "shed": self.shed,
            "failed": self.failed,
            "statuses": self.statuses,
            "p50_ms": percentile(0.50),
            "p99_ms": percentile(0.99),
            "max_ms": percentile(1.0),
        });
        if let (Value::Object(report), Value::Object(extra)) = (&mut report, extra) {
            report.extend(extra);
        }
        report
    }
}

/// Runs every worker for `seconds` and tallies the answers.
pub async fn run<W: Worker>(workers: Vec<W>, seconds: u64) -> Tally {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let status = worker.step().await;
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
    total.elapsed = started.elapsed().as_secs_f64();
    total
}
