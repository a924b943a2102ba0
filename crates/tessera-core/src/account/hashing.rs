//! Password hashing on a bounded pool of dedicated threads.
//!
//! argon2id holds 19 MiB and ~30 ms of one core per hash, so hashing never runs on the async
//! runtime and never queues without bound: when the queue is full, callers get [`HashBusy`] at
//! once and the HTTP layer answers 503 with `Retry-After`.
//!
//! Each hashing thread keeps its own 19 MiB of argon2 working memory while logins keep coming,
//! and gives it back after [`IDLE_RELEASE`] without work. Were every hash to allocate and free
//! it, the allocator would keep several such blocks per thread arena resident (hundreds of MiB
//! after a burst of logins) and zero each one first. Each thread has its own queue, so that each
//! notices its own idleness.
//!
//! Hashing threads run at a lower priority than request handling: on an idle machine they get
//! every core, and under a login flood API calls still answer in milliseconds.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread;
use std::time::Duration;

use argon2::password_hash::PasswordVerifier as _;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use super::Password;

/// The PHC prefix of hashes made with the current parameters; anything else is re-hashed on
/// the next successful login.
const CURRENT_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";
/// KiB of memory per hash (one block per KiB).
const MEMORY_KIB: u32 = 19_456;
/// Bytes of random salt and of hash output in new hashes.
const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

/// A hashing thread idle this long frees its working memory.
const IDLE_RELEASE: Duration = Duration::from_secs(5);
/// Niceness of the hashing threads (request handling runs at 0).
const HASHING_NICENESS: i32 = 5;
/// Blocks reserved for the working memory: more than argon2 uses, so that the reservation is
/// above the C allocator's largest mmap threshold (32 MiB) and is always mapped and unmapped
/// on its own, really returning to the OS when freed. Pages never touched cost nothing.
const RESERVED_BLOCKS: usize = 33 * 1024;

thread_local! {
    /// This thread's argon2 working memory, made on its first hash after an idle period.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

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
    workers: Vec<Worker>,
}

/// A hashing thread's bounded queue, and how many jobs it holds (waiting or running).
struct Worker {
    jobs: SyncSender<Job>,
    load: Arc<AtomicUsize>,
}

/// Verified against when the email is unknown, so that costs the same as a wrong password. Any
/// hash with the current parameters does; none matches, since the caller ignores the outcome.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$5PR9ekBlKfRvg8I3/yKnEQ$f960QzyMW0T4OFLsJzFQKF8GpHLU+b1td69F4fsyvwA";

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
        self.run(move || hash_current(password.as_bytes())).await
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
            Err(RecvTimeoutError::Timeout) => BLOCKS.with_borrow_mut(|blocks| *blocks = Vec::new()),
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

fn current_params() -> Params {
    Params::new(MEMORY_KIB, 2, 1, None).expect("OWASP argon2id parameters are valid")
}

fn argon2id() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, current_params())
}

/// argon2id with the current parameters of `password` and `salt` into `out`, computed in this
/// thread's working memory.
fn compute_current(password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    BLOCKS.with_borrow_mut(|blocks| {
        if blocks.is_empty() {
            let mut reserved = Vec::with_capacity(RESERVED_BLOCKS);
            reserved.resize(MEMORY_KIB as usize, Block::default());
            *blocks = reserved;
        }
        argon2id().hash_password_into_with_memory(password, salt, out, blocks.as_mut_slice())
    })
}

/// A new PHC string for `password`, with a random salt.
fn hash_current(password: &[u8]) -> String {
    let salt: [u8; SALT_LEN] = rand::random();
    let mut out = [0; OUTPUT_LEN];
    compute_current(password, &salt, &mut out)
        .expect("argon2 hashing with valid parameters cannot fail");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&current_params())
            .expect("the current parameters have a PHC form"),
        salt: Some(Salt::new(&salt).expect("16 bytes is a valid salt length")),
        hash: Some(Output::new(&out).expect("32 bytes is a valid output length")),
    }
    .to_string()
}

/// Whether `password` matches `hash`, a PHC string with the current parameters.
fn matches_current(password: &[u8], hash: &PasswordHash) -> bool {
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let mut out = [0; Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    compute_current(password, salt.as_ref(), out).is_ok()
        // Output's equality is constant-time.
        && Output::new(out).is_ok_and(|computed| computed == *expected)
}

fn verify_phc(password: &Password, phc: &str) -> Verified {
    let matches = match StoredHash::classify(phc) {
        Some(StoredHash::Argon2) => PasswordHash::new(phc).is_ok_and(|hash| {
            if phc.starts_with(CURRENT_PREFIX) {
                matches_current(password.as_bytes(), &hash)
            } else {
                // Other parameters (imported hashes): the library's own path, which allocates
                // the memory those parameters ask for; the hash is replaced on success.
                argon2id()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            }
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
    use argon2::password_hash::PasswordHasher as _;

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

    #[test]
    fn hashes_are_standard_phc_strings_both_ways() {
        let password = b"correct horse battery";
        let ours = hash_current(password);
        assert!(ours.starts_with(CURRENT_PREFIX));
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2id().verify_password(password, &parsed).is_ok());
        assert!(argon2id().verify_password(b"wrong", &parsed).is_err());

        let theirs = argon2id().hash_password(password).unwrap().to_string();
        let parsed = PasswordHash::new(&theirs).unwrap();
        assert!(matches_current(password, &parsed));
        assert!(!matches_current(b"wrong", &parsed));
    }

    #[test]
    fn the_dummy_hash_costs_a_full_current_hash() {
        assert!(DUMMY_HASH.starts_with(CURRENT_PREFIX));
        assert_eq!(StoredHash::classify(DUMMY_HASH), Some(StoredHash::Argon2));
        let hash = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(hash.hash.map(|h| h.len()), Some(OUTPUT_LEN));
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
