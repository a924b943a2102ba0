//! Revocation propagation: log out on instance A, then poll instance B until the access token
//! is refused, and report the delays.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::scenarios::as_new_client;

/// Options of the propagation measurement.
#[derive(Debug, clap::Args)]
pub struct PropagationArgs {
    /// Instance that logs out.
    #[arg(long)]
    from: String,
    /// Instance that must refuse the token.
    #[arg(long)]
    to: String,
    /// How many logouts to time.
    #[arg(long, default_value_t = 50)]
    samples: usize,
}

/// Times `samples` logouts; reports p50, p99 and max in milliseconds.
pub async fn run(args: PropagationArgs) -> anyhow::Result<Value> {
    let client = reqwest::Client::new();
    let mut delays = Vec::with_capacity(args.samples);
    for sample in 0..args.samples {
        let email = format!("propagation-{sample}-{}@example.com", rand_suffix());
        let body = json!({ "email": email, "password": "benchmark password 1234" });
        let session: Value = as_new_client(client.post(format!("{}/auth/signup", args.from)))
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        let token = session["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let me = format!("{}/users/me", args.to);
        anyhow::ensure!(
            client.get(&me).bearer_auth(&token).send().await?.status() == 200,
            "B refuses a fresh token"
        );
        let started = Instant::now();
        let logout = client
            .post(format!("{}/auth/logout", args.from))
            .bearer_auth(&token)
            .send()
            .await?;
        anyhow::ensure!(
            logout.status() == 204,
            "logout answered {}",
            logout.status()
        );
        loop {
            if client.get(&me).bearer_auth(&token).send().await?.status() == 401 {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(5),
                "B still accepts the token after 5 s"
            );
        }
        delays.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    delays.sort_by(f64::total_cmp);
    let at = |p: f64| delays[((delays.len() as f64 - 1.0) * p).round() as usize];
    Ok(
        json!({ "scenario": "propagation", "samples": delays.len(), "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0) }),
    )
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}
