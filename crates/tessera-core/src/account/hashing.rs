//! Password hashing on a bounded pool of dedicated threads.
//!
//! argon2id holds 19 MiB and ~30 ms of one core per hash, so hashing never runs on the async
//! runtime and never queues without bound: when the queue is full, callers get [`HashBusy`] at
//! once and the HTTP layer answers 503 with `Retry-After`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::oneshot;

use super::Password;

/// The PHC prefix of hashes made with the current parameters; anything else is re-hashed on
/// the next successful login.
const CURRENT_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

type Job = Box<dyn FnOnce() + Send>;

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

/// A stored password hash, by scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredHash {
    /// An argon2 PHC string.
    Argon2,
    /// A bcrypt `$2a$`, `$2b$` or `$2y$` string (imported users).
    Bcrypt,
}

impl StoredHash {
    /// Recognises the scheme of `phc`, or `None` for anything Tessera cannot verify.
    pub fn classify(phc: &str) -> Option<Self> {
        if phc.starts_with("$argon2") && PasswordHash::new(phc).is_ok() {
            Some(Self::Argon2)
        } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| phc.starts_with(p)) && phc.len() == 60 {
            Some(Self::Bcrypt)
        } else {
            None
        }
    }
}

/// Outcome of a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The password matches.
    pub matches: bool,
    /// The stored hash uses an older scheme or parameters and should be replaced.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords on dedicated threads.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: SyncSender<Job>,
    depth: AtomicUsize,
    /// Verified against when the email is unknown, so that costs the same as a wrong password.
    dummy: String,
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
        let (jobs, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..threads {
            let receiver = Arc::clone(&receiver);
            thread::Builder::new()
                .name(format!("tessera-hash-{index}"))
                .spawn(move || work(&receiver))
                .expect("the OS refused to start a hashing thread");
        }
        let dummy = argon2id()
            .hash_password(b"tessera dummy password for unknown accounts")
            .expect("argon2 hashing with valid parameters cannot fail")
            .to_string();
        Self {
            inner: Arc::new(Inner {
                jobs,
                depth: AtomicUsize::new(0),
                dummy,
            }),
        }
    }

    /// Jobs waiting or running.
    pub fn queue_depth(&self) -> usize {
        self.inner.depth.load(Ordering::Relaxed)
    }

    /// Hashes `password` with argon2id (m=19456 KiB, t=2, p=1) into a PHC string.
    pub async fn hash(&self, password: &Password) -> Result<String, HashBusy> {
        let password = password.clone();
        self.run(move || {
            argon2id()
                .hash_password(password.as_bytes())
                .expect("argon2 hashing with valid parameters cannot fail")
                .to_string()
        })
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
        let phc = stored.unwrap_or(&self.inner.dummy).to_owned();
        let password = password.clone();
        let verified = self.run(move || verify_phc(&password, &phc)).await?;
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
        let inner = Arc::clone(&self.inner);
        let span = tracing::Span::current();
        let job: Job = Box::new(move || {
            let _entered = span.enter();
            let result = work();
            inner.depth.fetch_sub(1, Ordering::Relaxed);
            let _ = reply.send(result);
        });
        self.inner.depth.fetch_add(1, Ordering::Relaxed);
        match self.inner.jobs.try_send(job) {
            Ok(()) => answer.await.map_err(|_| HashBusy),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.inner.depth.fetch_sub(1, Ordering::Relaxed);
                Err(HashBusy)
            }
        }
    }
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let guard = receiver
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            guard.recv()
        };
        match job {
            Ok(job) => job(),
            Err(_) => return, // the hasher was dropped
        }
    }
}

fn argon2id() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("OWASP argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn verify_phc(password: &Password, phc: &str) -> Verified {
    let matches = match StoredHash::classify(phc) {
        Some(StoredHash::Argon2) => PasswordHash::new(phc).is_ok_and(|hash| {
            argon2id()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        }),
        Some(StoredHash::Bcrypt) => bcrypt::verify(password.as_bytes(), phc).unwrap_or(false),
        None => false,
    };
    Verified {
        matches,
        needs_rehash: !phc.starts_with(CURRENT_PREFIX),
    }
}

#[cfg(test)]
mod tests {
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
    async fn bcrypt_hashes_verify_and_ask_for_a_rehash() {
        let hasher = pool(1, 4);
        let phc = bcrypt::hash("legacy password", 4).unwrap();
        let verified = hasher
            .verify(&Password::normalise("legacy password"), Some(&phc))
            .await
            .unwrap();
        assert_eq!(
            verified,
            Verified {
                matches: true,
                needs_rehash: true
            }
        );
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
