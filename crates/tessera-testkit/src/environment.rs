//! The kit's one door to the environment: the variables a developer sets to point the suites
//! elsewhere (`TESSERA_TEST_PG`, `TESSERA_TEST_REDIS`) or to see logs (`TEST_LOG`).

/// The value of `name`, when it is set and not blank.
#[allow(clippy::disallowed_methods)] // a test harness setting, like sqlx's DATABASE_URL
pub(crate) fn variable(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// Whether `TEST_LOG` asks for the logs of tests and of the processes they start.
pub(crate) fn wants_logs() -> bool {
    variable("TEST_LOG").is_some()
}
