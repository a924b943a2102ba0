//! Test logs: silent unless `TEST_LOG` is set, then written through the test harness's capture;
//! and the tail of a child process's log that a failing test prints.

use tracing_subscriber::EnvFilter;

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

/// How much of a child process's log a failing test prints.
const LOG_TAIL_BYTES: usize = 8_000;

/// The end of `log` (about the last 8 kB), cut at a character boundary.
pub(crate) fn tail(log: &str) -> &str {
    let start = (log.len().saturating_sub(LOG_TAIL_BYTES)..log.len())
        .find(|&index| log.is_char_boundary(index))
        .unwrap_or(0);
    &log[start..]
}
