//! The log subscriber: `RUST_LOG` filter (default `info`), compact text for people, JSON for
//! log shippers (`--log-format json`).

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing::span::{Attributes, Id};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::DefaultFields;
use tracing_subscriber::fmt::{FormatFields, FormattedFields};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
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
    let ansi = std::io::stderr().is_terminal();
    let lines = fmt::layer().with_ansi(ansi).with_writer(std::io::stderr);
    let lines = match format {
        // Coloured fields are marked by a flag only the line layer can set, so a terminal gets
        // the line layer's own buffers.
        LogFormat::Text => {
            let buffer = (!ansi).then(SpanFieldsBuffer::<DefaultFields>::default);
            Layer::and_then(buffer, lines.compact()).boxed()
        }
        LogFormat::Json => lines.json().boxed(),
    };
    let registry = tracing_subscriber::registry().with(lines);
    let _ = match filter(directives, default_level) {
        Filter::Static(targets) => registry.with(targets).try_init(),
        Filter::Dynamic(env) => registry.with(env).try_init(),
    };
}

/// Bytes that hold a request span's fields as text: method, route and request id when it
/// opens, the user and session ids recorded later, and the status and latency of a failure.
const SPAN_FIELDS_CAPACITY: usize = 256;

/// Writes each new span's fields, in the line layer's own format, into a buffer that already
/// has room for the fields recorded later, just before the line layer would (it keeps fields
/// that are already there). The line layer starts from an empty string and grows it as fields
/// are written and recorded, a `realloc` whenever it outgrows its room; glibc's `realloc`
/// always takes its arena's lock, which made most of a cached token check's futex calls.
/// Plain text only: JSON fields are parsed and written anew on every record whatever their
/// buffer.
#[derive(Debug, Default)]
struct SpanFieldsBuffer<N> {
    format: N,
}

impl<S, N> Layer<S> for SpanFieldsBuffer<N>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'writer> FormatFields<'writer> + Send + Sync + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = FormattedFields::<N>::new(String::with_capacity(SPAN_FIELDS_CAPACITY));
        if self.format.format_fields(fields.as_writer(), attrs).is_ok() {
            span.extensions_mut().insert(fields);
        }
    }
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
    use tessera_testkit::CapturedLogs;
    use tracing::field::Empty;

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

    /// The lines written under a request-like span whose ids are recorded after it opens, with
    /// or without the span fields' buffer, and the room its fields' text had at the end.
    fn lines(buffered: bool) -> (String, usize) {
        let written = CapturedLogs::default();
        let lines = fmt::layer()
            .compact()
            .without_time()
            .with_ansi(false)
            .with_writer(written.clone());
        let buffer = buffered.then(SpanFieldsBuffer::<DefaultFields>::default);
        let subscriber = tracing_subscriber::registry().with(Layer::and_then(buffer, lines));
        let room = tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                method = %"GET",
                route = "/users/me",
                user_id = Empty,
                status = Empty,
            );
            let _entered = span.enter();
            tracing::info!("before the ids");
            span.record("user_id", "0b8e2f3c-1d2e-4f5a-9b8c-7d6e5f4a3b2c");
            span.record("status", 401_u16);
            tracing::warn!(reason = "expired", "after the ids");
            span.with_subscriber(|(id, dispatch)| {
                let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
                let span = registry.span(id)?;
                let extensions = span.extensions();
                let fields = extensions.get::<FormattedFields<DefaultFields>>()?;
                Some(fields.fields.capacity())
            })
            .flatten()
            .expect("the span's fields are kept")
        });
        (written.text(), room)
    }

    #[test]
    fn buffered_span_fields_write_the_same_lines() {
        let (buffered, room) = lines(true);
        let (unbuffered, grown) = lines(false);
        assert_eq!(buffered, unbuffered);
        // The buffer was the one written into, and the line layer's own grew to less.
        assert_eq!(room, SPAN_FIELDS_CAPACITY);
        assert!(grown < SPAN_FIELDS_CAPACITY, "{grown}");
        assert!(
            buffered.contains("method=GET route=\"/users/me\"")
                && buffered.contains("user_id=\"0b8e2f3c-1d2e-4f5a-9b8c-7d6e5f4a3b2c\" status=401"),
            "{buffered}"
        );
        assert_eq!(buffered.lines().count(), 2, "{buffered}");
    }
}
