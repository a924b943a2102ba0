//! WebSocket tickets (API.md §3): a client trades its access token for a short-lived,
//! single-use ticket for the `?ticket=` of a WebSocket upgrade; back ends redeem tickets with a
//! service key; `/ws/echo` proves the flow end to end.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tessera_core::Clock;
use tessera_core::session::Revocation;
use tessera_core::ticket::Ticket;
use tessera_token::DenySet;
use tokio::sync::broadcast;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Code, Problem};
use crate::extract::{Caller, Json, ServiceCaller};
use crate::state::AppState;
use crate::views::NoStore;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(issue))
        .routes(routes!(redeem))
        .routes(routes!(echo))
}

/// A new ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketResponse {
    /// Single use; put it in the upgrade URL's `?ticket=`.
    ticket: String,
    /// Seconds until it expires.
    expires_in: u64,
}

/// Body of `POST /internal/tickets/redeem`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RedeemRequest {
    ticket: String,
}

/// Who a redeemed ticket admits.
#[derive(Debug, Serialize, ToSchema)]
pub struct RedeemedTicket {
    user_id: String,
    session_id: String,
    roles: Vec<String>,
}

/// Query of `GET /ws/echo`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct TicketQuery {
    /// A ticket from `POST /auth/ws-ticket`.
    ticket: Option<String>,
}

/// Issues a single-use ticket for a WebSocket upgrade.
#[utoipa::path(post, path = "/auth/ws-ticket", tag = "websocket", security(("bearer" = [])),
    responses((status = 200, body = TicketResponse), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn issue(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<NoStore<TicketResponse>, ApiError> {
    let token = state
        .tickets
        .issue(
            caller.user_id,
            caller.session_id,
            caller.claims.jti.clone(),
            caller.claims.iat,
            caller.claims.roles.clone(),
        )
        .await?;
    let response = TicketResponse {
        ticket: token,
        expires_in: state.tickets.ttl().as_secs(),
    };
    Ok(NoStore(axum::http::StatusCode::OK, response))
}

/// Redeems a ticket, once, for the back end that received the upgrade.
#[utoipa::path(post, path = "/internal/tickets/redeem", tag = "websocket", security(("service_key" = [])),
    request_body = RedeemRequest,
    responses((status = 200, body = RedeemedTicket), (status = 401, description = "token_invalid: unknown, used or expired", body = Problem, content_type = "application/problem+json")))]
async fn redeem(
    State(state): State<AppState>,
    _service: ServiceCaller,
    Json(body): Json<RedeemRequest>,
) -> Result<axum::Json<RedeemedTicket>, ApiError> {
    let ticket = redeem_live(&state, &body.ticket).await?;
    Ok(axum::Json(RedeemedTicket {
        user_id: ticket.user_id.to_string(),
        session_id: ticket.session_id.to_string(),
        roles: ticket.roles,
    }))
}

/// A WebSocket that echoes every text and binary message; the upgrade needs a ticket and is
/// refused with a 401 before upgrading otherwise, and with a 403 from a page of an origin that
/// may not use Tessera (the ticket came from somewhere, but a page elsewhere must not ride on
/// it). The socket is closed (1008) as soon as its session or user is revoked.
#[utoipa::path(get, path = "/ws/echo", tag = "websocket", params(TicketQuery),
    responses((status = 101, description = "switching protocols"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "csrf_failed: a page of another origin", body = Problem, content_type = "application/problem+json")))]
async fn echo(
    State(state): State<AppState>,
    Query(query): Query<TicketQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ticket = query.ticket.ok_or(Code::TokenMissing)?;
    // Clients that are not browsers send no Origin; a browser always does.
    if let Some(origin) = headers.get(header::ORIGIN)
        && !state.browser.policy().allows_origin(origin.as_bytes())
    {
        return Err(ApiError::new(Code::CsrfFailed)
            .with_detail("a page of this origin may not open this socket"));
    }
    // Check the request is an upgrade before spending the ticket on it.
    let upgrade = upgrade.map_err(|_| {
        ApiError::validation([("upgrade".into(), "expected a WebSocket upgrade".into())])
    })?;
    // Listening before the last check, so no revocation falls between the two.
    let revocations = state.live_revocations.subscribe();
    let ticket = redeem_live(&state, &ticket).await?;
    let watch = Watch {
        deny: Arc::clone(state.keys.revoked().deny_set()),
        clock: Arc::clone(&state.clock),
        ticket,
        revocations,
    };
    Ok(upgrade.on_upgrade(move |socket| echo_messages(socket, watch)))
}

/// What an open socket watches: its ticket's session and user, against every revocation.
struct Watch {
    deny: Arc<DenySet>,
    clock: Arc<dyn Clock>,
    ticket: Ticket,
    revocations: broadcast::Receiver<Revocation>,
}

impl Watch {
    /// Waits until the ticket's session or user is revoked.
    async fn revoked(&mut self) {
        loop {
            match self.revocations.recv().await {
                // Lagging behind means some were missed: the deny-set has them all.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    if denies(&self.deny, &self.ticket, self.clock.unix()) {
                        return;
                    }
                }
                // The server is stopping.
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}

/// Redeems `token`; a ticket whose session has since ended admits nobody.
async fn redeem_live(state: &AppState, token: &str) -> Result<Ticket, ApiError> {
    let ticket = state
        .tickets
        .redeem(token)
        .await?
        .ok_or(Code::TokenInvalid)?;
    if denies(state.keys.revoked().deny_set(), &ticket, state.clock.unix()) {
        return Err(Code::TokenRevoked.into());
    }
    Ok(ticket)
}

/// Whether the access token `ticket` was traded for is revoked at `now`.
fn denies(deny: &DenySet, ticket: &Ticket, now: i64) -> bool {
    let (sid, sub) = (ticket.session_id.to_string(), ticket.user_id.to_string());
    deny.denies(&sid, &ticket.token_id, &sub, ticket.token_issued_at, now)
}

async fn echo_messages(mut socket: WebSocket, mut watch: Watch) {
    loop {
        let message = tokio::select! {
            received = socket.recv() => match received {
                Some(Ok(message)) => message,
                _ => return,
            },
            () = watch.revoked() => {
                let close = CloseFrame {
                    code: close_code::POLICY,
                    reason: "session revoked".into(),
                };
                let _ = socket.send(Message::Close(Some(close))).await;
                return;
            }
        };
        let reply = match message {
            Message::Text(_) | Message::Binary(_) => message,
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}
