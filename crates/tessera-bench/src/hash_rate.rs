//! The physical limit for logins: argon2id hashes per second with the server's parameters.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Hashes on `threads` threads for `seconds`; reports `hashes_per_sec`.
pub fn run(threads: usize, seconds: u64) -> anyhow::Result<serde_json::Value> {
    let params = Params::new(19_456, 2, 1, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (done, count, params) = (Arc::clone(&done), Arc::clone(&count), params.clone());
            std::thread::spawn(move || {
                let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                // Working memory made once per thread, as the server's hashing threads do, so
                // the ceiling is the hashing itself and not the allocator.
                let mut blocks = vec![Block::default(); 19_456];
                let mut out = [0; 32];
                while !done.load(Ordering::Relaxed) {
                    if argon
                        .hash_password_into_with_memory(
                            b"benchmark password",
                            b"sixteen byte salt",
                            &mut out,
                            blocks.as_mut_slice(),
                        )
                        .is_ok()
                    {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::park_timeout(Duration::from_millis(50));
    }
    done.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = count.load(Ordering::Relaxed) as f64 / elapsed;
    Ok(serde_json::json!({ "scenario": "hash_rate", "threads": threads, "hashes_per_sec": rate }))
}
