//! The revocation feed for resource servers that keep their own deny-set: a cursor-paged list
//! and a Server-Sent Events stream whose event ids are the same cursors.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tessera_core::session::{Revocation, RevocationStream};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Problem};
use crate::extract::ServiceCaller;
use crate::state::AppState;

const PAGE: u32 = 1_000;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(stream))
}

/// Query of `GET /auth/revocations`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct FeedQuery {
    /// The `cursor` of the previous page (or an event id); absent: from the beginning.
    since: Option<i64>,
}

/// One revocation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RevocationView {
    /// Position in the feed.
    cursor: i64,
    /// Every token with this `sid` is revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    /// Every token of this user issued at or before `revoked_at_ms` is revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    /// Seconds since the Unix epoch.
    revoked_at: i64,
    /// Milliseconds since the Unix epoch: the exact boundary of a user-level revocation, which
    /// a token's `jti` (a UUIDv7 of its issue instant) is compared with.
    revoked_at_ms: Option<i64>,
    /// After this time (seconds since the epoch) no affected token is valid anyway.
    until: i64,
}

impl From<&Revocation> for RevocationView {
    /// The item as the server's own deny-set gets it, so the feed and the server agree.
    fn from(revocation: &Revocation) -> Self {
        let item = tessera_token::feed_item(revocation);
        Self {
            cursor: item.cursor,
            sid: item.sid,
            user_id: item.user_id,
            revoked_at: item.revoked_at,
            revoked_at_ms: item.revoked_at_ms,
            until: item.until,
        }
    }
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    /// Oldest first.
    items: Vec<RevocationView>,
    /// Pass as `since` for the next page.
    cursor: i64,
}

/// Every revocation whose tokens may still be live, oldest first, from `since` on.
#[utoipa::path(get, path = "/auth/revocations", tag = "resource servers", security(("service_key" = [])),
    params(FeedQuery),
    responses((status = 200, body = FeedPage), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn list(
    State(state): State<AppState>,
    _service: ServiceCaller,
    query: Result<Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<FeedPage>, ApiError> {
    let Query(query) = query.map_err(|_| {
        ApiError::validation([("since".into(), "must be an integer cursor".into())])
    })?;
    let since = query.since.unwrap_or(0);
    let items = state
        .feed
        .revocations_after(since, state.clock.unix(), PAGE)
        .await?;
    let cursor = items.last().map_or(since, |r| r.cursor);
    Ok(axum::Json(FeedPage {
        items: items.iter().map(RevocationView::from).collect(),
        cursor,
    }))
}

/// The feed as Server-Sent Events (`id` = cursor). With `Last-Event-ID` it first replays what
/// came after that cursor; without, it starts live. Events come in cursor order with nothing
/// in force skipped, so the last id received is where to resume; a subscriber too slow to
/// keep up sees the stream end, and resumes from there.
#[utoipa::path(get, path = "/auth/revocations/stream", tag = "resource servers", security(("service_key" = [])),
    responses((status = 200, content_type = "text/event-stream"), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn stream(
    State(state): State<AppState>,
    _service: ServiceCaller,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    // Subscribe before reading the backlog (or the feed's head) so nothing falls between.
    let live = state.live_revocations.subscribe();
    let cursor = match last_id {
        Some(cursor) => cursor,
        None => state.feed.latest_cursor().await?,
    };
    let mut revocations = RevocationStream::new(
        Arc::clone(&state.feed),
        Arc::clone(&state.clock),
        live,
        cursor,
    );
    let mut backlog = Vec::new();
    if last_id.is_some() {
        revocations
            .catch_up(|revocation| backlog.push(revocation))
            .await?;
    }
    let live = futures_util::stream::unfold(revocations, |mut revocations| async move {
        match revocations.next_live().await {
            Ok(revocation) => Some((revocation, revocations)),
            Err(end) => {
                tracing::debug!(cursor = revocations.cursor(), %end, "revocation stream ended");
                None
            }
        }
    });
    let events = futures_util::stream::iter(backlog)
        .chain(live)
        .map(|revocation| Ok(event(&revocation)));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn event(revocation: &Revocation) -> Event {
    let data = serde_json::to_string(&RevocationView::from(revocation)).unwrap_or_default();
    Event::default()
        .id(revocation.cursor.to_string())
        .event("revocation")
        .data(data)
}
