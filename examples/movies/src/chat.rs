//! A chat room over WebSocket. Browsers cannot set headers on the upgrade, so the client gets a
//! single-use ticket from Tessera (`POST /auth/ws-ticket`) and passes it as `?ticket=`; the
//! room redeems it with Tessera before upgrading and refuses with 401 otherwise.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_verify::{TicketError, redeem_ticket};
use tokio::sync::broadcast;

use crate::AppState;

/// The room: every message goes to every member.
#[derive(Clone)]
pub struct Room(broadcast::Sender<String>);

impl Room {
    /// An empty room.
    pub fn new() -> Self {
        Self(broadcast::channel(256).0)
    }
}

/// Query of `GET /chat`.
#[derive(Debug, Deserialize)]
pub struct Join {
    ticket: Option<String>,
}

/// `GET /chat?ticket=…`: redeem, then upgrade.
pub async fn join(
    State(state): State<AppState>,
    Query(join): Query<Join>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(ticket) = join.ticket else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let settings = &state.settings;
    match redeem_ticket(&settings.tessera_url, &settings.service_key, &ticket).await {
        Ok(ticket) => {
            let room = state.chat.clone();
            upgrade.on_upgrade(move |socket| talk(socket, room, ticket.user_id))
        }
        Err(TicketError::Invalid) => StatusCode::UNAUTHORIZED.into_response(),
        Err(TicketError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn talk(mut socket: WebSocket, room: Room, user_id: String) {
    let mut heard = room.0.subscribe();
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let _ = room.0.send(format!("{user_id}: {}", text.as_str()));
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            said = heard.recv() => match said {
                Ok(line) => {
                    if socket.send(Message::Text(line.into())).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}
