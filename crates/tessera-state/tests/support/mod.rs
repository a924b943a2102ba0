//! Real Redis for the bus tests: servers and a three-node Cluster that a test starts on free
//! ports and that die with it, plus small builders and bounded waits. Nothing is ever flushed.

use std::collections::BTreeSet;
use std::future::Future;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use tempfile::TempDir;
use tessera_core::SessionId;
use tessera_core::session::{Revocation, RevocationTarget};
use tokio::sync::broadcast;
use tokio::time::Instant;
use uuid::Uuid;

/// The Redis every developer machine and CI runner has.
pub const SHARED_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// The longest any test waits for something to happen.
pub const PATIENCE: Duration = Duration::from_secs(5);
/// Recovering from a restart takes the subscriber's backoff (up to 2 s) on top.
pub const RECOVERY_PATIENCE: Duration = Duration::from_secs(10);

/// Shows this crate's debug logs when `TEST_LOG` is set; silent otherwise.
pub fn init_logs() {
    if std::env::vars_os().any(|(key, _)| key == "TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("tessera_state=debug")
            .with_test_writer()
            .try_init();
    }
}

/// A channel prefix no other test or run uses.
pub fn unique_prefix() -> String {
    format!("tessera-test:{}:", Uuid::new_v4().simple())
}

/// A session revocation with a fresh session id.
pub fn session_revocation(cursor: i64) -> Revocation {
    Revocation {
        cursor,
        target: RevocationTarget::Session(SessionId::new()),
        revoked_at: 1_700_000_000 + cursor,
        until: 1_700_000_900 + cursor,
    }
}

/// The next revocation on `receiver`, failing the test after [`PATIENCE`].
pub async fn next_revocation(receiver: &mut broadcast::Receiver<Revocation>) -> Revocation {
    tokio::time::timeout(PATIENCE, receiver.recv())
        .await
        .expect("a revocation arrives in time")
        .expect("the bus is open and the receiver did not lag")
}

/// Polls `check` until it gives a value, failing the test after `patience`.
pub async fn eventually<T, F, Fut>(patience: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + patience;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `redis-server` child process in its own directory, killed when dropped.
pub struct RedisServer {
    port: u16,
    child: Child,
    dir: TempDir,
}

impl RedisServer {
    /// A plain server on a free port.
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// A plain server on `port` (to restart one where the previous one listened).
    pub async fn start_on(port: u16) -> Self {
        Self::spawn(port, &[]).await
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    async fn spawn(port: u16, extra: &[String]) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir for redis-server");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(dir.path().join("redis.log"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let mut server = Self { port, child, dir };
        server.wait_until_answering().await;
        server
    }

    async fn wait_until_answering(&mut self) {
        let client = redis::Client::open(self.url()).expect("a valid url");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "redis-server on port {} exited with {status}: {}",
                    self.port,
                    read_log(self.dir.path())
                );
            }
            if ping(&client).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer: {}",
                self.port,
                read_log(self.dir.path())
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // SIGKILL, like a crash: the bus must cope with connections that vanish.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three masters (no replicas) forming a Redis Cluster, killed when dropped.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers and joins them, failing the test when that does
    /// not work: a missing cluster must not pass as a skipped test.
    pub async fn start() -> Self {
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            let extra = [
                "--cluster-enabled".to_owned(),
                "yes".to_owned(),
                // Redis puts the cluster bus on port + 10000 unless told otherwise, which may be
                // taken or past 65535.
                "--cluster-port".to_owned(),
                free_port().to_string(),
                "--cluster-config-file".to_owned(),
                format!("nodes-{port}.conf"),
            ];
            nodes.push(RedisServer::spawn(port, &extra).await);
        }
        let cluster = Self { nodes };
        cluster.create().await;
        cluster.wait_until_ok().await;
        cluster
    }

    /// The node ports, in start order.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(RedisServer::port).collect()
    }

    async fn create(&self) {
        let addresses: Vec<String> = self
            .ports()
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let output = tokio::task::spawn_blocking(move || {
            Command::new("redis-cli")
                .arg("--cluster")
                .arg("create")
                .args(&addresses)
                .args(["--cluster-replicas", "0", "--cluster-yes"])
                .output()
        })
        .await
        .expect("the blocking task ran")
        .expect("redis-cli is installed");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    async fn wait_until_ok(&self) {
        let clients: Vec<redis::Client> = self
            .nodes
            .iter()
            .map(|node| redis::Client::open(node.url()).expect("a valid url"))
            .collect();
        eventually(PATIENCE, "every node reports cluster_state:ok", || {
            let clients = clients.clone();
            async move {
                for client in &clients {
                    let mut connection = client.get_multiplexed_async_connection().await.ok()?;
                    let info: String = redis::cmd("CLUSTER")
                        .arg("INFO")
                        .query_async(&mut connection)
                        .await
                        .ok()?;
                    if !info.contains("cluster_state:ok") {
                        return None;
                    }
                }
                Some(())
            }
        })
        .await;
    }
}

/// A port on 127.0.0.1 that nobody listens on now and that no other test got from here. Taken
/// below Linux's ephemeral range, so outgoing client connections do not land on it.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let random = *Uuid::new_v4().as_bytes();
        let port = 20_000 + u16::from_le_bytes([random[0], random[1]]) % 10_000;
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
}

async fn ping(client: &redis::Client) -> bool {
    let Ok(mut connection) = client.get_multiplexed_async_connection().await else {
        return false;
    };
    redis::cmd("PING")
        .query_async::<String>(&mut connection)
        .await
        .is_ok()
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default()
}
