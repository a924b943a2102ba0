//! Redis for the suites: the shared server on 6379 with a key prefix per test, and servers and a
//! three-node Cluster that a test starts on free ports, kills and restarts. Nothing is ever
//! flushed. Talks to Redis through `redis-cli`, which comes with `redis-server` and is needed
//! anyway to form a Cluster.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::{HARNESS_PATIENCE, eventually, free_port};

/// The Redis every developer machine and CI runner has; `TESSERA_TEST_REDIS` points elsewhere.
pub fn shared_redis_url() -> String {
    crate::environment::variable("TESSERA_TEST_REDIS")
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// A key and channel prefix no other test or run uses.
pub fn unique_prefix() -> String {
    format!("tessera-test:{:032x}:", rand::random::<u128>())
}

/// `redis-cli -p PORT ARGS…` on 127.0.0.1: its trimmed output when it succeeded, `None` when it
/// did not (no server there, or an error reply).
pub async fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    let mut command = Command::new("redis-cli");
    command
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the blocking task ran")
        .expect("redis-cli is installed (it comes with the redis-server package)");
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (output.status.success() && !text.starts_with("ERR") && !text.contains("Could not connect"))
        .then_some(text)
}

/// A `redis-server` child process in a directory of its own, killed (SIGKILL) when dropped.
pub struct RedisServer {
    port: u16,
    extra: Vec<String>,
    child: Option<Child>,
    dir: TempDir,
}

impl RedisServer {
    /// A plain server on a free port, once it answers.
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// A plain server on `port` (to bring one back where a dropped one listened).
    pub async fn start_on(port: u16) -> Self {
        Self::spawn(port, Vec::new()).await
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, like a crash: clients see their connections vanish.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory, and waits until it answers.
    pub async fn restart(&mut self) {
        self.kill();
        self.child = Some(launch(self.port, &self.extra, self.dir.path()));
        self.wait_until_answering().await;
    }

    async fn spawn(port: u16, extra: Vec<String>) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir for redis-server");
        let child = launch(port, &extra, dir.path());
        let mut server = Self {
            port,
            extra,
            child: Some(child),
            dir,
        };
        server.wait_until_answering().await;
        server
    }

    async fn wait_until_answering(&mut self) {
        let deadline = tokio::time::Instant::now() + HARNESS_PATIENCE;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "redis-server on port {} exited with {status}: {}",
                    self.port,
                    read_log(self.dir.path())
                );
            }
            if redis_cli(self.port, &["PING"]).await.as_deref() == Some("PONG") {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
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
        self.kill();
    }
}

fn launch(port: u16, extra: &[String], dir: &Path) -> Child {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(log_path(dir))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is installed")
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("redis.log")
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(log_path(dir)).unwrap_or_default()
}

/// Three masters (no replicas) forming a Redis Cluster, killed when dropped.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers and joins them; panics when that does not work, so
    /// a missing cluster never passes as a skipped test.
    pub async fn start() -> Self {
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            let extra = vec![
                "--cluster-enabled".to_owned(),
                "yes".to_owned(),
                // The cluster bus defaults to port + 10000, which may be taken.
                "--cluster-port".to_owned(),
                free_port().to_string(),
                "--cluster-config-file".to_owned(),
                format!("nodes-{port}.conf"),
            ];
            nodes.push(RedisServer::spawn(port, extra).await);
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

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`.
    pub fn url(&self) -> String {
        format!("redis+cluster://{}", self.addresses().join(","))
    }

    fn addresses(&self) -> Vec<String> {
        self.ports()
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect()
    }

    async fn create(&self) {
        let addresses = self.addresses();
        let output = tokio::task::spawn_blocking(move || {
            Command::new("redis-cli")
                .arg("--cluster")
                .arg("create")
                .args(&addresses)
                .args(["--cluster-replicas", "0", "--cluster-yes"])
                .stdin(Stdio::null())
                .output()
        })
        .await
        .expect("the blocking task ran")
        .expect("redis-cli is installed (it comes with the redis-server package)");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    async fn wait_until_ok(&self) {
        let ports = self.ports();
        eventually(
            HARNESS_PATIENCE,
            "every node reports cluster_state:ok",
            || {
                let ports = ports.clone();
                async move {
                    for port in ports {
                        let info = redis_cli(port, &["CLUSTER", "INFO"]).await?;
                        if !info.contains("cluster_state:ok") {
                            return None;
                        }
                    }
                    Some(())
                }
            },
        )
        .await;
    }
}
