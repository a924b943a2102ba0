//! The revocation feed for resource servers that keep their own deny-set: a cursor-paged list
//! and a Server-Sent Events stream whose event ids are the same cursors.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tessera_core::session::{Revocation, RevocationTarget};
use tokio::sync::broadcast;
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
    /// Every token of this user issued at or before `revoked_at` is revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    /// Seconds since the Unix epoch.
    revoked_at: i64,
    /// After this time (seconds since the epoch) no affected token is valid anyway.
    until: i64,
}

impl From<&Revocation> for RevocationView {
    fn from(revocation: &Revocation) -> Self {
        let (sid, user_id) = match revocation.target {
            RevocationTarget::Session(id) => (Some(id.to_string()), None),
            RevocationTarget::User(id) => (None, Some(id.to_string())),
        };
        Self {
            cursor: revocation.cursor,
            sid,
            user_id,
            revoked_at: revocation.revoked_at,
            until: revocation.until,
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
/// came after that cursor; without, it starts live.
#[utoipa::path(get, path = "/auth/revocations/stream", tag = "resource servers", security(("service_key" = [])),
    responses((status = 200, content_type = "text/event-stream"), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn stream(
    State(state): State<AppState>,
    _service: ServiceCaller,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Subscribe before reading the backlog so nothing falls between the two.
    let live = state.live_revocations.subscribe();
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let mut backlog = Vec::new();
    if let Some(mut cursor) = last_id {
        loop {
            let page = state
                .feed
                .revocations_after(cursor, state.clock.unix(), PAGE)
                .await?;
            cursor = page.last().map_or(cursor, |r| r.cursor);
            let done = page.len() < PAGE as usize;
            backlog.extend(page);
            if done {
                break;
            }
        }
    }
    let sent: BTreeSet<i64> = backlog.iter().map(|r| r.cursor).collect();
    let replayed_up_to = sent.last().copied().unwrap_or(i64::MIN);
    let stream = futures_util::stream::unfold(
        (backlog.into_iter(), live, sent, replayed_up_to),
        |(mut backlog, mut live, mut sent, replayed_up_to)| async move {
            if let Some(revocation) = backlog.next() {
                return Some((
                    Ok(event(&revocation)),
                    (backlog, live, sent, replayed_up_to),
                ));
            }
            loop {
                match live.recv().await {
                    // The same revocation can arrive from the bus and from the database read-back.
                    Ok(revocation)
                        if revocation.cursor <= replayed_up_to
                            || !sent.insert(revocation.cursor) => {}
                    Ok(revocation) => {
                        if sent.len() > 100_000 {
                            sent = sent.split_off(&(revocation.cursor - 50_000));
                        }
                        return Some((
                            Ok(event(&revocation)),
                            (backlog, live, sent, replayed_up_to),
                        ));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn event(revocation: &Revocation) -> Event {
    let data = serde_json::to_string(&RevocationView::from(revocation)).unwrap_or_default();
    Event::default()
        .id(revocation.cursor.to_string())
        .event("revocation")
        .data(data)
}
