//! Following the issuer's revocation feed into a local [`DenySet`], so revoked tokens are
//! refused within a second without a call per request.
//!
//! A background task reads the backlog (`GET /auth/revocations?since=`), then follows
//! `GET /auth/revocations/stream`, reconnecting with `Last-Event-ID` and exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::fetch::{fetch_json, send_checked};
use crate::sse::{SseEvent, SseParser};
use crate::{Clock, DenySet, FetchError, Revocation, SystemClock};

/// Timeout of one backlog request.
const PAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// A running subscription to the revocation feed and the deny-set it maintains.
///
/// Cheap to clone; the task stops when the last clone is dropped.
#[derive(Clone)]
pub struct RevocationFeed {
    shared: Arc<Shared>,
}

struct Shared {
    deny: Arc<DenySet>,
    caught_up: watch::Receiver<bool>,
    task: AbortHandle,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Settings of a [`RevocationFeed`]; see [`RevocationFeed::builder`].
pub struct RevocationFeedBuilder {
    base_url: String,
    service_key: String,
    http: Option<reqwest::Client>,
    clock: Arc<dyn Clock>,
    initial_backoff: Duration,
    max_backoff: Duration,
    idle_timeout: Duration,
}

impl RevocationFeed {
    /// Starts following the feed of the Tessera server at `base_url`, authenticated with
    /// `service_key` (one of the server's `service_keys`), with default settings.
    ///
    /// Must be called within a Tokio runtime: it spawns the task that reads the feed.
    pub fn follow(base_url: &str, service_key: &str) -> Self {
        Self::builder(base_url, service_key).follow()
    }

    /// Settings for following the feed of the Tessera server at `base_url`.
    pub fn builder(base_url: &str, service_key: &str) -> RevocationFeedBuilder {
        RevocationFeedBuilder {
            base_url: base_url.trim_end_matches('/').to_owned(),
            service_key: service_key.to_owned(),
            http: None,
            clock: Arc::new(SystemClock),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(45),
        }
    }

    /// The deny-set this feed keeps up to date.
    pub fn deny_set(&self) -> Arc<DenySet> {
        Arc::clone(&self.shared.deny)
    }

    /// Whether the backlog has been read, so the deny-set holds every revocation still in force
    /// (up to the stream's delay).
    pub fn is_caught_up(&self) -> bool {
        *self.shared.caught_up.borrow()
    }

    /// Waits until the backlog has been read. A resource server may await this (with a timeout
    /// of its choosing) before serving, so that it never accepts a token revoked while it was down.
    pub async fn caught_up(&self) {
        let mut caught_up = self.shared.caught_up.clone();
        // The sender lives in the task, which runs as long as `self`; an error cannot happen.
        let _ = caught_up.wait_for(|caught_up| *caught_up).await;
    }
}

impl RevocationFeedBuilder {
    /// The HTTP client to use; by default a new one. Give it no overall timeout: the stream is
    /// a long-lived response.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The clock that decides when entries expire (for tests); by default the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The wait before the first reconnection (default 250 ms); it doubles per failure up to
    /// [`max_backoff`](Self::max_backoff) and starts over once a stream is open.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The longest wait between reconnections (default 30 s).
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// How long the stream may stay silent before it is taken for dead and reopened (default
    /// 45 s; the server sends a keep-alive every 15 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Starts the task. Must be called within a Tokio runtime.
    pub fn follow(self) -> RevocationFeed {
        let deny = Arc::new(DenySet::new());
        let (caught_up_tx, caught_up) = watch::channel(false);
        let follower = Follower {
            http: self.http.unwrap_or_default(),
            base_url: self.base_url,
            authorization: format!("Bearer {}", self.service_key),
            clock: self.clock,
            deny: Arc::clone(&deny),
            backoff: Backoff::new(self.initial_backoff, self.max_backoff),
            idle_timeout: self.idle_timeout,
        };
        let task = tokio::spawn(follower.run(caught_up_tx)).abort_handle();
        RevocationFeed {
            shared: Arc::new(Shared {
                deny,
                caught_up,
                task,
            }),
        }
    }
}

/// The state of the background task.
struct Follower {
    http: reqwest::Client,
    base_url: String,
    authorization: String,
    clock: Arc<dyn Clock>,
    deny: Arc<DenySet>,
    backoff: Backoff,
    idle_timeout: Duration,
}

/// A page of `GET /auth/revocations`.
#[derive(Deserialize)]
struct Page {
    items: Vec<Revocation>,
    cursor: i64,
}

impl Follower {
    async fn run(mut self, caught_up: watch::Sender<bool>) {
        let mut cursor = loop {
            match self.read_backlog().await {
                Ok(cursor) => break cursor,
                Err(error) => {
                    tracing::warn!(error = %error, "reading the revocation backlog failed");
                    tokio::time::sleep(self.backoff.next_wait()).await;
                }
            }
        };
        caught_up.send_replace(true);
        loop {
            match self.follow_stream(&mut cursor).await {
                Ok(()) => tracing::debug!(cursor, "the revocation stream ended"),
                Err(error) => {
                    tracing::warn!(cursor, error = %error, "the revocation stream failed")
                }
            }
            tokio::time::sleep(self.backoff.next_wait()).await;
        }
    }

    /// Applies every revocation still in force; returns the cursor to follow the stream from.
    async fn read_backlog(&self) -> Result<i64, FetchError> {
        let mut cursor = 0;
        loop {
            let request = self
                .http
                .get(format!("{}/auth/revocations?since={cursor}", self.base_url))
                .header(reqwest::header::AUTHORIZATION, &self.authorization)
                .timeout(PAGE_TIMEOUT);
            let page: Page = fetch_json(request, |body| serde_json::from_slice(body)).await?;
            let now = self.clock.unix();
            for revocation in &page.items {
                self.deny.apply(revocation, now);
            }
            // An empty page, or one that does not advance, is the end of the backlog.
            if page.items.is_empty() || page.cursor <= cursor {
                return Ok(cursor.max(page.cursor));
            }
            cursor = page.cursor;
        }
    }

    /// Follows the stream from `cursor` until it ends, advancing `cursor` past every event.
    async fn follow_stream(&mut self, cursor: &mut i64) -> Result<(), FetchError> {
        let request = self
            .http
            .get(format!("{}/auth/revocations/stream", self.base_url))
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            // The server replays what came after this cursor, so nothing falls in the gap.
            .header("last-event-id", cursor.to_string());
        let mut response = send_checked(request).await?;
        self.backoff.reset();
        let mut parser = SseParser::default();
        loop {
            let chunk = tokio::time::timeout(self.idle_timeout, response.chunk()).await;
            let Ok(chunk) = chunk else {
                tracing::debug!("the revocation stream went silent");
                return Ok(());
            };
            let Some(chunk) = chunk.map_err(FetchError::Transport)? else {
                return Ok(());
            };
            for event in parser.push(&chunk) {
                self.apply(&event, cursor);
            }
        }
    }

    fn apply(&self, event: &SseEvent, cursor: &mut i64) {
        if event.event != "revocation" && event.event != "message" {
            return;
        }
        match serde_json::from_str::<Revocation>(&event.data) {
            Ok(revocation) => {
                self.deny.apply(&revocation, self.clock.unix());
                // The event's id is where the server says to resume: nothing in force below
                // it was skipped. An item's own cursor is not (a higher one can arrive before
                // a lower one), so without an id the resume point stays where it was, and a
                // reconnection replays a little rather than missing anything.
                if let Some(id) = event.id.as_deref().and_then(|id| id.trim().parse().ok()) {
                    *cursor = id;
                }
            }
            Err(error) => tracing::warn!(error = %error, "skipping a malformed revocation event"),
        }
    }
}

/// Exponential backoff between reconnections.
struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            next: initial,
        }
    }

    fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::body::Body;
    use axum::extract::{Query, State};
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use serde_json::json;
    use tokio::sync::mpsc;

    use super::*;
    use crate::testkit::{ManualClock, NOW, TestKey, claims, eventually, expectations, serve};
    use crate::{Authenticator, Rejection};

    const SERVICE_KEY: &str = "service-key-for-tests";
    const PAGE_SIZE: usize = 2;
    const WITHIN_A_SECOND: Duration = Duration::from_secs(1);

    /// A fake Tessera feed: a backlog, open streams the test pushes events into, and a record
    /// of the `Last-Event-ID` each stream was opened with.
    #[derive(Clone, Default)]
    struct FeedServer {
        backlog: Arc<Mutex<Vec<Revocation>>>,
        streams: Arc<Mutex<Vec<mpsc::UnboundedSender<String>>>>,
        last_event_ids: Arc<Mutex<Vec<Option<String>>>>,
        refused: Arc<AtomicUsize>,
    }

    impl FeedServer {
        async fn start(backlog: Vec<Revocation>) -> (Self, String) {
            let server = Self::default();
            *server.backlog.lock().unwrap() = backlog;
            let router = Router::new()
                .route("/auth/revocations", get(page))
                .route("/auth/revocations/stream", get(stream))
                .with_state(server.clone());
            let url = serve(router).await;
            (server, url)
        }

        fn push(&self, revocation: &Revocation) {
            self.push_with_id(revocation, Some(revocation.cursor));
        }

        /// Sends `revocation` as an event whose `id` is `id` (none when `None`).
        fn push_with_id(&self, revocation: &Revocation, id: Option<i64>) {
            let data = serde_json::to_string(revocation).unwrap();
            let id = id.map(|id| format!("id: {id}\n")).unwrap_or_default();
            let event = format!(": keep-alive\n\n{id}event: revocation\ndata: {data}\n\n");
            for stream in self.streams.lock().unwrap().iter() {
                let _ = stream.send(event.clone());
            }
        }

        fn close_streams(&self) {
            self.streams.lock().unwrap().clear();
        }

        fn last_event_ids(&self) -> Vec<Option<String>> {
            self.last_event_ids.lock().unwrap().clone()
        }

        fn is_authorized(&self, headers: &HeaderMap) -> bool {
            let expected = format!("Bearer {SERVICE_KEY}");
            let ok = headers
                .get(header::AUTHORIZATION)
                .is_some_and(|v| v == &expected);
            if !ok {
                self.refused.fetch_add(1, Ordering::SeqCst);
            }
            ok
        }
    }

    async fn page(
        State(server): State<FeedServer>,
        headers: HeaderMap,
        Query(query): Query<HashMap<String, i64>>,
    ) -> Response {
        if !server.is_authorized(&headers) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let since = query.get("since").copied().unwrap_or(0);
        let items: Vec<_> = server
            .backlog
            .lock()
            .unwrap()
            .iter()
            .filter(|item| item.cursor > since)
            .take(PAGE_SIZE)
            .cloned()
            .collect();
        let cursor = items.last().map_or(since, |item| item.cursor);
        axum::Json(json!({ "items": items, "cursor": cursor })).into_response()
    }

    async fn stream(State(server): State<FeedServer>, headers: HeaderMap) -> Response {
        if !server.is_authorized(&headers) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let last_event_id = headers
            .get("last-event-id")
            .map(|v| v.to_str().unwrap().to_owned());
        server.last_event_ids.lock().unwrap().push(last_event_id);
        let (sender, receiver) = mpsc::unbounded_channel::<String>();
        server.streams.lock().unwrap().push(sender);
        let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
            let event = receiver.recv().await?;
            Some((Ok::<_, std::io::Error>(event), receiver))
        });
        (
            [(header::CONTENT_TYPE, "text/event-stream")],
            Body::from_stream(body),
        )
            .into_response()
    }

    fn session_revoked(cursor: i64, sid: &str) -> Revocation {
        Revocation {
            cursor,
            sid: Some(sid.into()),
            jti: None,
            user_id: None,
            revoked_at: NOW,
            revoked_at_ms: None,
            until: NOW + 930,
        }
    }

    fn follow(url: &str, key: &str, clock: &Arc<ManualClock>) -> RevocationFeed {
        RevocationFeed::builder(url, key)
            .clock(clock.clone())
            .initial_backoff(Duration::from_millis(10))
            .max_backoff(Duration::from_millis(50))
            .follow()
    }

    /// A feed caught up with a server whose backlog holds revocation 3, its stream open.
    async fn streaming_after_one_revocation() -> (FeedServer, RevocationFeed) {
        let (server, url) = FeedServer::start(vec![session_revoked(3, "s3")]).await;
        let feed = follow(&url, SERVICE_KEY, &ManualClock::at(NOW));
        feed.caught_up().await;
        eventually(WITHIN_A_SECOND, || async {
            server.last_event_ids().len() == 1
        })
        .await;
        (server, feed)
    }

    #[tokio::test]
    async fn a_revocation_pushed_on_the_stream_is_refused_within_a_second() {
        let (server, url) = FeedServer::start(vec![]).await;
        let clock = ManualClock::at(NOW);
        let feed = follow(&url, SERVICE_KEY, &clock);
        let key = TestKey::ed25519("k1");
        let auth = Authenticator::new(key.key_set(), expectations())
            .with_clock(clock.clone())
            .with_revocation_feed(feed.clone());
        let token = key.sign(&claims(NOW));
        feed.caught_up().await;
        eventually(WITHIN_A_SECOND, || async {
            server.last_event_ids().len() == 1
        })
        .await;
        assert!(auth.verify(&token).await.is_ok());

        server.push(&session_revoked(1, &claims(NOW).sid));

        eventually(WITHIN_A_SECOND, || async {
            auth.verify(&token).await == Err(Rejection::Revoked)
        })
        .await;
    }

    #[tokio::test]
    async fn the_backlog_is_read_page_by_page_before_the_feed_is_caught_up() {
        let backlog: Vec<_> = (1..=5)
            .map(|cursor| session_revoked(cursor, &format!("s{cursor}")))
            .collect();
        let (server, url) = FeedServer::start(backlog).await;
        let feed = follow(&url, SERVICE_KEY, &ManualClock::at(NOW));

        feed.caught_up().await;

        assert!(feed.is_caught_up());
        assert_eq!(feed.deny_set().len(), 5);
        eventually(WITHIN_A_SECOND, || async {
            !server.last_event_ids().is_empty()
        })
        .await;
        assert_eq!(server.last_event_ids(), vec![Some("5".to_owned())]);
    }

    #[tokio::test]
    async fn a_user_revocation_refuses_tokens_issued_at_or_before_it_only() {
        let revocation = Revocation {
            cursor: 1,
            sid: None,
            jti: None,
            user_id: Some(claims(NOW).sub),
            revoked_at: NOW,
            revoked_at_ms: None,
            until: NOW + 930,
        };
        let (_server, url) = FeedServer::start(vec![revocation]).await;
        let clock = ManualClock::at(NOW + 1);
        let feed = follow(&url, SERVICE_KEY, &clock);
        let key = TestKey::ed25519("k1");
        let auth = Authenticator::new(key.key_set(), expectations())
            .with_clock(clock.clone())
            .with_revocation_feed(feed.clone());
        feed.caught_up().await;

        let before = auth.verify(&key.sign(&claims(NOW - 60))).await;
        let at = auth.verify(&key.sign(&claims(NOW))).await;
        let after = auth.verify(&key.sign(&claims(NOW + 1))).await;

        assert_eq!(before, Err(Rejection::Revoked));
        assert_eq!(at, Err(Rejection::Revoked));
        assert!(after.is_ok());
    }

    #[tokio::test]
    async fn a_closed_stream_is_reopened_from_the_last_event_id() {
        let (server, feed) = streaming_after_one_revocation().await;

        server.push(&session_revoked(8, "s8"));
        eventually(WITHIN_A_SECOND, || async { feed.deny_set().len() == 2 }).await;
        server.close_streams();

        eventually(Duration::from_secs(5), || async {
            server.last_event_ids().len() == 2
        })
        .await;
        assert_eq!(
            server.last_event_ids(),
            vec![Some("3".to_owned()), Some("8".to_owned())]
        );
        server.push(&session_revoked(9, "s9"));
        eventually(WITHIN_A_SECOND, || async { feed.deny_set().len() == 3 }).await;
    }

    #[tokio::test]
    async fn the_stream_resumes_from_the_last_event_id_not_from_the_highest_cursor_seen() {
        // Arrange
        let (server, feed) = streaming_after_one_revocation().await;

        // Act: an item whose event id says "resume from 5", then one without an id.
        server.push_with_id(&session_revoked(9, "s9"), Some(5));
        server.push_with_id(&session_revoked(12, "s12"), None);
        eventually(WITHIN_A_SECOND, || async { feed.deny_set().len() == 3 }).await;
        server.close_streams();

        // Assert
        eventually(Duration::from_secs(5), || async {
            server.last_event_ids().len() == 2
        })
        .await;
        assert_eq!(server.last_event_ids()[1], Some("5".to_owned()));
    }

    #[tokio::test]
    async fn a_wrong_service_key_is_retried_with_backoff_and_never_catches_up() {
        let (server, url) = FeedServer::start(vec![]).await;
        let feed = follow(&url, "wrong-key", &ManualClock::at(NOW));

        eventually(Duration::from_secs(5), || async {
            server.refused.load(Ordering::SeqCst) >= 3
        })
        .await;

        assert!(!feed.is_caught_up());
    }

    #[tokio::test]
    async fn dropping_the_last_handle_stops_the_task() {
        let (server, url) = FeedServer::start(vec![]).await;
        let feed = follow(&url, SERVICE_KEY, &ManualClock::at(NOW));
        eventually(WITHIN_A_SECOND, || async {
            server.last_event_ids().len() == 1
        })
        .await;
        let sender = server.streams.lock().unwrap()[0].clone();

        drop(feed);

        // Writing is what makes the server notice that the client has gone.
        eventually(WITHIN_A_SECOND, || async {
            let _ = sender.send(": ping\n\n".to_owned());
            sender.is_closed()
        })
        .await;
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_starts_over_after_a_connection() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));

        let waits: Vec<_> = (0..4).map(|_| backoff.next_wait().as_millis()).collect();
        backoff.reset();

        assert_eq!(waits, vec![100, 200, 350, 350]);
        assert_eq!(backoff.next_wait().as_millis(), 100);
    }
}
