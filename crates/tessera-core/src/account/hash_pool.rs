//! Password hashing on a bounded pool of dedicated threads.
//!
//! argon2id holds 19 MiB and ~30 ms of one core per hash, so hashing never runs on the async
//! runtime and never queues without bound: when the queue is full, callers get [`HashBusy`] at
//! once and the HTTP layer answers 503 with `Retry-After`.
//!
//! Each hashing thread keeps its argon2 working memory while logins keep coming, and gives it
//! back after [`IDLE_RELEASE`] without work. Each thread has its own queue, so that each notices
//! its own idleness.
//!
//! Hashing threads run at a lower priority than request handling: on an idle machine they get
//! every core, and under a login flood API calls still answer in milliseconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread;
use std::time::Duration;

use tokio::sync::oneshot;

use super::Password;
use super::stored_hash::{self, DUMMY_HASH, Verified};

/// A hashing thread idle this long frees its working memory.
const IDLE_RELEASE: Duration = Duration::from_secs(5);
/// Niceness of the hashing threads (request handling runs at 0).
const HASHING_NICENESS: i32 = 5;

/// Work for a hashing thread; it is handed that thread's load, to count itself done before it
/// answers.
type Job = Box<dyn FnOnce(&AtomicUsize) + Send>;

/// Size of the hashing pool.
#[derive(Debug, Clone, Copy, Default)]
pub struct HashPoolSettings {
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Jobs that may wait for a worker; 0 means eight per worker.
    pub queue: usize,
}

/// The pool is full; try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the password hashing queue is full")]
pub struct HashBusy;

/// Hashes and verifies passwords on dedicated threads.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    workers: Vec<Worker>,
}

/// A hashing thread's bounded queue, and how many jobs it holds (waiting or running).
struct Worker {
    jobs: SyncSender<Job>,
    load: Arc<AtomicUsize>,
}

impl PasswordHasher {
    /// Starts the worker threads.
    pub fn new(settings: HashPoolSettings) -> Self {
        let cores = thread::available_parallelism().map_or(2, |n| n.get());
        let threads = if settings.threads == 0 {
            cores
        } else {
            settings.threads
        };
        let queue = if settings.queue == 0 {
            threads * 8
        } else {
            settings.queue
        };
        let per_worker = queue.div_ceil(threads.max(1)).max(1);
        let workers = (0..threads.max(1))
            .map(|index| {
                let (jobs, receiver) = sync_channel::<Job>(per_worker);
                let load = Arc::new(AtomicUsize::new(0));
                let own_load = Arc::clone(&load);
                thread::Builder::new()
                    .name(format!("tessera-hash-{index}"))
                    .spawn(move || work(&receiver, &own_load))
                    .expect("the OS refused to start a hashing thread");
                Worker { jobs, load }
            })
            .collect();
        Self {
            inner: Arc::new(Inner { workers }),
        }
    }

    /// Jobs waiting or running.
    pub fn queue_depth(&self) -> usize {
        self.inner
            .workers
            .iter()
            .map(|worker| worker.load.load(Ordering::Relaxed))
            .sum()
    }

    /// Hashes `password` with argon2id (m=19456 KiB, t=2, p=1) into a PHC string.
    pub async fn hash(&self, password: &Password) -> Result<String, HashBusy> {
        let password = password.clone();
        self.run(move || stored_hash::hash_current(password.as_bytes()))
            .await
    }

    /// Checks `password` against `stored`; with `None` (unknown account) it checks against a
    /// dummy hash so that the caller spends the same time, and reports no match.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verified, HashBusy> {
        let known = stored.is_some();
        let phc = stored.unwrap_or(DUMMY_HASH).to_owned();
        let password = password.clone();
        let verified = self
            .run(move || stored_hash::verify_phc(&password, &phc))
            .await?;
        Ok(Verified {
            matches: verified.matches && known,
            ..verified
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashBusy> {
        let (reply, answer) = oneshot::channel();
        let span = tracing::Span::current();
        let mut job: Job = Box::new(move |load| {
            let _entered = span.enter();
            let result = work();
            load.fetch_sub(1, Ordering::Relaxed);
            let _ = reply.send(result);
        });
        // The least loaded thread first, so that no thread idles while another has a queue.
        let mut workers: Vec<&Worker> = self.inner.workers.iter().collect();
        workers.sort_by_key(|worker| worker.load.load(Ordering::Relaxed));
        for worker in workers {
            worker.load.fetch_add(1, Ordering::Relaxed);
            match worker.jobs.try_send(job) {
                Ok(()) => return answer.await.map_err(|_| HashBusy),
                Err(TrySendError::Full(back) | TrySendError::Disconnected(back)) => {
                    worker.load.fetch_sub(1, Ordering::Relaxed);
                    job = back;
                }
            }
        }
        Err(HashBusy)
    }
}

fn work(receiver: &Receiver<Job>, load: &AtomicUsize) {
    yield_to_requests();
    loop {
        match receiver.recv_timeout(IDLE_RELEASE) {
            Ok(job) => job(load),
            Err(RecvTimeoutError::Timeout) => stored_hash::release_working_memory(),
            Err(RecvTimeoutError::Disconnected) => return, // the hasher was dropped
        }
    }
}

/// Lowers this thread's priority below request handling's (Linux niceness is per thread).
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    if let Err(error) =
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), HASHING_NICENESS)
    {
        tracing::warn!(%error, "could not lower the priority of a hashing thread");
    }
}

#[cfg(test)]
mod tests {
    use super::super::stored_hash::CURRENT_PREFIX;
    use super::*;

    fn pool(threads: usize, queue: usize) -> PasswordHasher {
        PasswordHasher::new(HashPoolSettings { threads, queue })
    }

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() {
        let hasher = pool(1, 4);
        let password = Password::normalise("correct horse battery");
        let phc = hasher.hash(&password).await.unwrap();
        assert!(phc.starts_with(CURRENT_PREFIX));
        let good = hasher.verify(&password, Some(&phc)).await.unwrap();
        assert_eq!(
            good,
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
        let bad = hasher
            .verify(&Password::normalise("wrong"), Some(&phc))
            .await
            .unwrap();
        assert!(!bad.matches);
    }

    #[tokio::test]
    async fn unknown_accounts_never_match_even_with_the_dummy_password() {
        let hasher = pool(1, 4);
        let dummy = Password::normalise("tessera dummy password for unknown accounts");
        assert!(!hasher.verify(&dummy, None).await.unwrap().matches);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let hasher = pool(1, 1);
        let password = Password::normalise("some password");
        let attempts = (0..6).map(|_| {
            let (hasher, password) = (hasher.clone(), password.clone());
            async move { hasher.hash(&password).await.map(|_| ()) }
        });
        let results = join_all(attempts).await;
        assert!(results.iter().any(|r| r == &Err(HashBusy)));
        assert!(results.iter().any(Result::is_ok));
        assert_eq!(hasher.queue_depth(), 0);
    }

    async fn join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = futures.map(tokio::spawn).collect();
        let mut out = Vec::new();
        for handle in handles {
            out.push(handle.await.unwrap());
        }
        out
    }
}
