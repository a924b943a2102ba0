//! Closed-loop load: each virtual user sends its next request when the last one answered, for
//! a fixed time, and the answers are tallied by status with their latencies.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One virtual user.
pub trait Worker: Send + 'static {
    /// Sends one request; returns the HTTP status, or 0 for a transport error.
    fn step(&mut self) -> impl Future<Output = u16> + Send;

    /// When the worker asked to be left alone until (a `Retry-After` it honours); the wait is
    /// not part of the next request's latency.
    fn resumes_at(&self) -> Option<Instant> {
        None
    }
}

/// Waits until `at`, when a worker asked for a pause.
async fn pause(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// What a run produced.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    ok: u64,
    shed: u64,
    failed: u64,
    /// Answers by HTTP status (0: no answer).
    statuses: BTreeMap<u16, u64>,
    latencies_us: Vec<u32>,
    /// Bytes of the answers, head and body, where the driver counts them (0: not counted).
    bytes: u64,
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

    /// Counts `bytes` more bytes of answers.
    pub fn add_bytes(&mut self, bytes: usize) {
        self.bytes += bytes as u64;
    }

    pub fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.bytes += other.bytes;
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

    /// Requests answered (or failed in transport).
    pub fn answered(&self) -> u64 {
        self.ok + self.shed + self.failed
    }

    /// Answers other than 2xx, shed ones included.
    pub fn errors(&self) -> u64 {
        self.shed + self.failed
    }

    /// Seconds the tallied requests were sent over.
    pub fn elapsed(&self) -> f64 {
        self.elapsed
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
        if let Value::Object(report) = &mut report
            && self.bytes > 0
        {
            let per_answer = self.bytes as f64 / self.answered().max(1) as f64;
            report.insert("bytes_per_response".into(), json!(per_answer));
        }
        if let (Value::Object(report), Value::Object(extra)) = (&mut report, extra) {
            report.extend(extra);
        }
        report
    }
}

/// Runs every worker for `seconds` and tallies the answers.
pub async fn run<W: Worker>(workers: Vec<W>, seconds: u64) -> Tally {
    run_keeping(workers, seconds).await.0
}

/// [`run`], giving the workers back too, for what they hold at the end.
pub async fn run_keeping<W: Worker>(workers: Vec<W>, seconds: u64) -> (Tally, Vec<W>) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while Instant::now() < deadline {
                    pause(worker.resumes_at()).await;
                    let sent = Instant::now();
                    let status = worker.step().await;
                    tally.record(status, sent.elapsed());
                }
                (tally, worker)
            })
        })
        .collect();
    let mut total = Tally::default();
    let mut workers = Vec::with_capacity(tasks.len());
    for task in tasks {
        if let Ok((tally, worker)) = task.await {
            total.merge(tally);
            workers.push(worker);
        }
    }
    total.elapsed = started.elapsed().as_secs_f64();
    (total, workers)
}

/// How a paced run goes: an aggregate rate shared by the workers, and a report per window.
pub struct Pace {
    /// Requests per second over all workers.
    pub rate: f64,
    /// Length of one window of the running report.
    pub window: Duration,
}

/// Runs every worker for `seconds`, each sending at its share of `pace.rate` (open loop as long
/// as answers come faster than a worker's interval; a late answer delays only that worker), and
/// tallies the answers in total and per window: one JSON line per window on stderr as it ends,
/// so that a long run shows when something began, and the windows' reports in the answer.
pub async fn run_paced<W: Worker>(
    workers: Vec<W>,
    seconds: u64,
    pace: Pace,
) -> (Tally, Vec<Value>) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let count = u32::try_from(workers.len().max(1)).unwrap_or(u32::MAX);
    let interval = Duration::from_secs_f64(f64::from(count) / pace.rate.max(0.001));
    let window = Arc::new(Mutex::new(Tally::default()));
    let mut tasks: Vec<_> = (0..count)
        .zip(workers)
        .map(|(index, mut worker)| {
            let window = Arc::clone(&window);
            // Spread over one interval, so that the workers do not send in lockstep.
            let first = tokio::time::Instant::from_std(started) + interval * index / count;
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval_at(first, interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticker.tick().await;
                    pause(worker.resumes_at()).await;
                    if Instant::now() >= deadline {
                        break;
                    }
                    let sent = Instant::now();
                    let status = worker.step().await;
                    lock(&window).record(status, sent.elapsed());
                }
            })
        })
        .collect();
    let mut total = Tally::default();
    let mut windows = Vec::new();
    let mut window_start = started;
    loop {
        let window_end = window_start + pace.window;
        let last = window_end >= deadline;
        if last {
            // The last window also holds what was sent before the deadline and answered after.
            for task in tasks.drain(..) {
                let _ = task.await;
            }
        } else {
            tokio::time::sleep_until(window_end.into()).await;
        }
        let now = Instant::now();
        let mut tally = std::mem::take(&mut *lock(&window));
        tally.finish(now - window_start);
        let end_s = (now - started).as_secs_f64().round();
        let report = tally.clone().report("window", json!({ "end_s": end_s }));
        eprintln!("{report}");
        windows.push(report);
        total.merge(tally);
        window_start = now;
        if last {
            break;
        }
    }
    total.elapsed = started.elapsed().as_secs_f64();
    (total, windows)
}

/// The value behind `mutex`, even if a task panicked holding it (a count is still a count).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
