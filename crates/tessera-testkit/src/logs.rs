//! Test logs: silent unless `TEST_LOG` is set, then written through the test harness's capture;
//! the lines a test's own subscriber writes, to assert on; and the tail of a child process's log
//! that a failing test prints.

use std::sync::{Arc, Mutex};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs a subscriber when `TEST_LOG` is set, filtered by `RUST_LOG` or else `default_filter`
/// (such as `"tessera_state=debug"`). Safe to call from every test: only the first call installs.
pub fn init_logs(default_filter: &str) {
    if !crate::environment::wants_logs() {
        return;
    }
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Log lines kept in memory: a subscriber's writer (clones share the lines) whose text a test
/// reads back.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lines()).into_owned()
    }

    fn lines(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.lines().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

/// How much of a child process's log a failing test prints.
const LOG_TAIL_BYTES: usize = 8_000;

/// The end of `log` (about the last 8 kB), cut at a character boundary.
pub(crate) fn tail(log: &str) -> &str {
    let start = (log.len().saturating_sub(LOG_TAIL_BYTES)..log.len())
        .find(|&index| log.is_char_boundary(index))
        .unwrap_or(0);
    &log[start..]
}
