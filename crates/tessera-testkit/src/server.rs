//! `tessera serve` as a child process: on a free port, with a data directory and `TESSERA_*`
//! settings of the test's choosing, ready (`/readyz` answers 200) before the test goes on, and
//! killed when dropped. Its output goes to `serve.log` in the data directory, shown when a test
//! fails.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use tempfile::TempDir;
use tokio::time::Instant;

use crate::{HARNESS_PATIENCE, free_port, tessera_command};

/// What a [`TesseraProcess`] starts with.
pub struct TesseraProcessBuilder {
    binary: PathBuf,
    name: String,
    env: Vec<(String, String)>,
    data_dir: Option<PathBuf>,
}

impl TesseraProcessBuilder {
    /// What panics and logs call the process (default `tessera`).
    pub fn name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.name);
        self
    }

    /// Sets one environment variable, such as `TESSERA_DATABASE_URL`.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets several environment variables.
    pub fn envs(mut self, variables: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env.extend(variables);
        self
    }

    /// Serves from `dir` instead of a temporary directory of the process's own.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Starts the process and waits until it is ready; panics when it exits or is not ready
    /// within [`HARNESS_PATIENCE`](crate::HARNESS_PATIENCE).
    pub async fn start(self) -> TesseraProcess {
        let (data_dir, owned_dir) = match self.data_dir {
            Some(dir) => (dir, None),
            None => {
                let dir = tempfile::tempdir().expect("a data directory");
                (dir.path().to_owned(), Some(dir))
            }
        };
        let mut process = TesseraProcess {
            name: self.name,
            binary: self.binary,
            env: self.env,
            data_dir,
            _owned_dir: owned_dir,
            child: Mutex::new(None),
            base_url: String::new(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(2))
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client"),
        };
        process.launch().await;
        process
    }
}

/// One running `tessera serve`.
pub struct TesseraProcess {
    name: String,
    binary: PathBuf,
    env: Vec<(String, String)>,
    data_dir: PathBuf,
    _owned_dir: Option<TempDir>,
    // Behind a lock so that `kill` works through a shared reference, as a crash would.
    child: Mutex<Option<Child>>,
    base_url: String,
    client: reqwest::Client,
}

/// Why a start attempt did not give a ready process.
enum StartFailure {
    /// Another process took the port in between: try another one.
    PortTaken,
}

impl TesseraProcess {
    /// A process of the `tessera` binary at `binary` (the caller knows where it is built, for
    /// example `env!("CARGO_BIN_EXE_tessera")`).
    pub fn builder(binary: impl Into<PathBuf>) -> TesseraProcessBuilder {
        TesseraProcessBuilder {
            binary: binary.into(),
            name: "tessera".to_owned(),
            env: Vec::new(),
            data_dir: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `http://127.0.0.1:PORT`, the port of the current run.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `path` on this process: `url("/readyz")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A client without redirects and with short timeouts, so a dead process fails fast.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// What the process wrote to stdout and stderr, in every run so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(log_path(&self.data_dir)).unwrap_or_default()
    }

    /// SIGKILL, like a crash or an OOM kill: no request gets finished.
    pub fn kill(&self) {
        if let Some(mut child) = self.take_child() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, like an orchestrator stopping a pod; waits (bounded) for the exit status.
    pub async fn terminate(&mut self) -> ExitStatus {
        let mut child = self.take_child().expect("the process is running");
        let pid = child.id().to_string();
        // The shell's builtin `kill`: no extra package needed.
        let signalled = Command::new("sh")
            .args(["-c", "kill -TERM \"$1\"", "sh", &pid])
            .status()
            .expect("sh runs");
        assert!(signalled.success(), "sending SIGTERM to {}", self.name);
        let deadline = Instant::now() + HARNESS_PATIENCE;
        loop {
            if let Some(status) = child.try_wait().expect("waiting for the child") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} did not exit within {HARNESS_PATIENCE:?} of SIGTERM:\n{}",
                    self.name,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the process and starts it again with the same data directory and settings, on a
    /// new port; waits until it is ready.
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }

    fn take_child(&self) -> Option<Child> {
        self.child
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    async fn launch(&mut self) {
        for _ in 0..5 {
            match self.try_launch(free_port()).await {
                Ok(()) => return,
                Err(StartFailure::PortTaken) => continue,
            }
        }
        panic!("{}: no free port after 5 attempts", self.name);
    }

    async fn try_launch(&mut self, port: u16) -> Result<(), StartFailure> {
        let log = open_log(&self.data_dir);
        let level = if crate::environment::wants_logs() {
            "info,tessera=debug,tessera_state=debug,tessera_http=debug"
        } else {
            "info"
        };
        let mut command = tessera_command(&self.binary);
        command
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&self.data_dir)
            // No ./tessera.toml of the caller is picked up.
            .current_dir(&self.data_dir)
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .env("RUST_LOG", level)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log);
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("{} starts: {err}", self.binary.display()));
        *self.child.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(child);
        self.base_url = format!("http://127.0.0.1:{port}");
        self.wait_until_ready().await
    }

    async fn wait_until_ready(&mut self) -> Result<(), StartFailure> {
        let deadline = Instant::now() + HARNESS_PATIENCE;
        loop {
            let slot = self.child.get_mut().unwrap_or_else(|p| p.into_inner());
            let child = slot.as_mut().expect("just started");
            if let Some(status) = child.try_wait().expect("waiting for the child") {
                *slot = None;
                let log = self.log();
                if log.contains("cannot listen") {
                    return Err(StartFailure::PortTaken);
                }
                panic!(
                    "{} exited with {status} before it was ready:\n{log}",
                    self.name
                );
            }
            if let Ok(response) = self.client.get(self.url("/readyz")).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "{} was not ready within {HARNESS_PATIENCE:?}:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TesseraProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail = crate::logs::tail(&log);
            eprintln!("---- log of {} ({}) ----\n{tail}", self.name, self.base_url);
        }
        self.kill();
    }
}

fn log_path(data_dir: &Path) -> PathBuf {
    data_dir.join("serve.log")
}

fn open_log(data_dir: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(data_dir))
        .expect("a log file in the data directory")
}
