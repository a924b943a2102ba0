//! Time from starting `tessera serve` on an existing data directory to its first ready answer.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Options of the start-up measurement.
#[derive(Debug, clap::Args)]
pub struct StartupArgs {
    /// The `tessera` binary.
    #[arg(long)]
    bin: PathBuf,
    /// Data directory; the first start (not counted) creates it if it is missing.
    #[arg(long)]
    data_dir: PathBuf,
    /// Port to listen on.
    #[arg(long, default_value_t = 18099)]
    port: u16,
    /// Measured starts.
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

/// Starts the server `runs + 1` times; reports the readiness times of all but the first.
pub async fn run(args: StartupArgs) -> anyhow::Result<Value> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()?;
    let ready_url = format!("http://127.0.0.1:{}/readyz", args.port);
    let mut times_ms = Vec::with_capacity(args.runs);
    for run in 0..=args.runs {
        let started = Instant::now();
        let mut server = Command::new(&args.bin)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", args.port))
            .arg("--data-dir")
            .arg(&args.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let ready = loop {
            if let Ok(response) = client.get(&ready_url).send().await
                && response.status().is_success()
            {
                break Some(started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(30) || server.try_wait()?.is_some() {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        // SIGTERM, so the server shuts down as in production and the next start finds a
        // cleanly closed data directory.
        Command::new("kill")
            .arg("-TERM")
            .arg(server.id().to_string())
            .status()?;
        server.wait()?;
        let ready = ready.ok_or_else(|| anyhow::anyhow!("the server did not become ready"))?;
        if run > 0 {
            times_ms.push(ready.as_secs_f64() * 1000.0);
        }
    }
    times_ms.sort_by(f64::total_cmp);
    let median = times_ms.get(times_ms.len() / 2).copied().unwrap_or(0.0);
    Ok(json!({
        "scenario": "startup",
        "median_ms": median,
        "min_ms": times_ms.first(),
        "max_ms": times_ms.last(),
    }))
}
