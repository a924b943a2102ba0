//! Test logs: silent unless `TEST_LOG` is set, then written through the test harness's capture.

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
