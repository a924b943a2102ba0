//! Micro-benchmarks of the hot path, run by `bench/run.sh` (`cargo bench -p tessera-bench`):
//! signing and verifying access tokens with the server's own key ring (its verification ends
//! with the deny-set lookup), the lookup alone, and one argon2id hash.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use criterion::{Criterion, criterion_group, criterion_main};
use tessera_core::account::{Device, Email, User};
use tessera_core::ports::{DenyList, TokenIssuer};
use tessera_core::secret::MasterKey;
use tessera_core::session::{
    Amr, Method, RefreshKey, Revocation, RevocationTarget, Session, SessionLifetimes,
};
use tessera_core::{Clock, SessionId, SystemClock, UserId};
use tessera_token::{KeyRing, SigningAlgorithm, TokenSettings};
use zeroize::Zeroizing;

const ALGORITHMS: [SigningAlgorithm; 3] = [
    SigningAlgorithm::EdDSA,
    SigningAlgorithm::ES256,
    SigningAlgorithm::HS256,
];

/// A key ring of `algorithm` over a fresh SQLite file, as `tessera serve` opens it.
fn key_ring(runtime: &tokio::runtime::Runtime, algorithm: SigningAlgorithm) -> KeyRing {
    let dir = std::env::temp_dir().join(format!(
        "tessera-micro-{}-{}",
        std::process::id(),
        algorithm.as_str()
    ));
    runtime.block_on(async {
        let stores = tessera_store::open("", &dir).await.expect("store opens");
        let settings = TokenSettings {
            issuer: "http://bench".into(),
            audience: "http://bench".into(),
            access_ttl: Duration::from_secs(900),
            leeway: Duration::from_secs(30),
            algorithm,
            hs256_secret: Some(Zeroizing::new(vec![42; 32])),
            publish_ahead: Duration::from_secs(60),
        };
        let master = Arc::new(MasterKey::from_bytes(&[7; 32]).expect("32 bytes"));
        KeyRing::open(stores.keys, master, settings, Arc::new(SystemClock))
            .await
            .expect("key ring opens")
    })
}

fn subject() -> (User, Session) {
    let now = SystemClock.now();
    let user = User {
        id: UserId::new(),
        email: Email::parse("bench@example.com").expect("valid email"),
        name: None,
        roles: Vec::new(),
        email_verified: false,
        mfa_enabled: false,
        disabled: false,
        created_at: now,
        security_epoch: 0,
    };
    let lifetimes = SessionLifetimes {
        idle: Duration::from_secs(86_400),
        absolute: Duration::from_secs(864_000),
    };
    let (session, _) = Session::start(
        user.id,
        Device::default(),
        Amr::single(Method::Password),
        lifetimes,
        &RefreshKey::derive(&MasterKey::from_bytes(&[7; 32]).expect("32 bytes")),
        now,
    );
    (user, session)
}

/// Revokes `entries` sessions in `deny`, none of them the benchmark's.
fn revoke_sessions(deny: &dyn DenyList, entries: usize) {
    let now = SystemClock.now().unix_timestamp();
    for cursor in 0..entries {
        let revocation = Revocation {
            cursor: cursor as i64,
            target: RevocationTarget::Session(SessionId::new()),
            revoked_at_ms: now * 1000,
            until: now + 3_600,
        };
        deny.apply(&revocation, now);
    }
}

fn tokens(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (user, session) = subject();
    let now = SystemClock.now().unix_timestamp();
    let mut sign = c.benchmark_group("sign");
    let rings: Vec<_> = ALGORITHMS
        .iter()
        .map(|algorithm| (algorithm.as_str(), key_ring(&runtime, *algorithm)))
        .collect();
    for (name, ring) in &rings {
        sign.bench_function(*name, |b| {
            b.iter(|| ring.issue(black_box(&user), black_box(&session)))
        });
    }
    sign.finish();

    let mut verify = c.benchmark_group("verify");
    for (name, ring) in &rings {
        // A new token per call, so every call checks a signature: the cost a cache cannot save.
        verify.bench_function(format!("{name}-uncached"), |b| {
            b.iter_batched(
                || ring.issue(&user, &session).expect("issues"),
                |token| ring.verify(token.as_str()),
                criterion::BatchSize::SmallInput,
            )
        });
        let token = ring.issue(&user, &session).expect("issues");
        let token = token.as_str();
        verify.bench_function(format!("{name}-cached"), |b| {
            b.iter(|| ring.verify(black_box(token)))
        });
        // The same verification with 100,000 sessions revoked in the ring's deny-set.
        revoke_sessions(ring.revoked().as_ref(), 100_000);
        verify.bench_function(format!("{name}-cached+deny-set"), |b| {
            b.iter(|| ring.verify(black_box(token)).expect("valid"))
        });
    }
    verify.finish();

    let (_, ring) = &rings[0];
    let token = ring.issue(&user, &session).expect("issues");
    let claims = ring.verify(token.as_str()).expect("valid");
    let deny = ring.revoked().deny_set();
    let mut deny_group = c.benchmark_group("deny-set");
    deny_group.bench_function("lookup-100k", |b| {
        b.iter(|| deny.is_revoked(black_box(&claims), now))
    });
    deny_group.finish();
}

fn hashing(c: &mut Criterion) {
    let params = Params::new(19_456, 2, 1, None).expect("valid parameters");
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut blocks = vec![Block::default(); 19_456];
    let mut out = [0; 32];
    let mut group = c.benchmark_group("argon2id");
    group.sample_size(10);
    group.bench_function("m=19456,t=2,p=1", |b| {
        b.iter(|| {
            argon.hash_password_into_with_memory(
                black_box(b"benchmark password"),
                b"sixteen byte salt",
                &mut out,
                blocks.as_mut_slice(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, tokens, hashing);
criterion_main!(benches);
