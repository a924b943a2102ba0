//! The log subscriber: `RUST_LOG` filter (default `info`), compact text for people, JSON for
//! log shippers (`--log-format json`).

use std::io::IsTerminal;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line.
    Json,
}

/// The variable that holds the filter directives.
pub const LOG_ENV: &str = "RUST_LOG";

/// Installs the global subscriber once; later calls are ignored (tests call it repeatedly).
/// `directives` are [`LOG_ENV`]'s value; missing or invalid, `default_level` applies.
pub fn init(format: LogFormat, directives: Option<String>, default_level: &str) {
    let lines = fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Text => lines.compact().boxed(),
        LogFormat::Json => lines.json().boxed(),
    };
    let registry = tracing_subscriber::registry().with(lines);
    let _ = match filter(directives, default_level) {
        Filter::Static(targets) => registry.with(targets).try_init(),
        Filter::Dynamic(env) => registry.with(env).try_init(),
    };
}

/// What decides which lines are written.
#[derive(Debug)]
#[expect(clippy::large_enum_variant, reason = "made once, at start-up")]
enum Filter {
    /// Levels by target: decided once per call site, nothing to do per span.
    Static(Targets),
    /// Directives that name spans or fields, which `EnvFilter` checks on every span entered:
    /// a measurable part of a cached token check, so only when they are asked for.
    Dynamic(EnvFilter),
}

/// The filter of `directives` (`RUST_LOG`'s syntax), or of `default_level` when they are
/// missing or invalid.
fn filter(directives: Option<String>, default_level: &str) -> Filter {
    let directives = directives.filter(|given| EnvFilter::try_new(given).is_ok());
    let directives = directives.as_deref().unwrap_or(default_level);
    match directives.parse::<Targets>() {
        Ok(targets) => Filter::Static(targets),
        Err(_) => Filter::Dynamic(EnvFilter::new(directives)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_by_target_are_static_and_span_directives_are_dynamic() {
        for plain in [
            "info",
            "tessera=debug,tower_http=warn",
            "warn,tessera_http=trace",
        ] {
            assert!(
                matches!(filter(Some(plain.into()), "info"), Filter::Static(_)),
                "{plain}"
            );
        }
        let by_span = "info,[request{route=/users/me}]=debug";
        assert!(matches!(
            filter(Some(by_span.into()), "info"),
            Filter::Dynamic(_)
        ));
    }

    #[test]
    fn missing_or_invalid_directives_give_the_default_level() {
        for given in [None, Some("tessera=loud".to_owned())] {
            let Filter::Static(targets) = filter(given, "warn") else {
                panic!("the default level is static");
            };
            assert!(targets.would_enable("tessera", &tracing::Level::WARN));
            assert!(!targets.would_enable("tessera", &tracing::Level::INFO));
        }
    }
}
