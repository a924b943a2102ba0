//! Redeeming a single-use WebSocket ticket (`POST /internal/tickets/redeem`) for the user it was
//! issued to, from a back end that accepts `?ticket=` on its WebSocket upgrade.

use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::FetchError;

/// Timeout of one redemption.
const REDEEM_TIMEOUT: Duration = Duration::from_secs(10);

/// Whom a redeemed ticket was issued to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The user id.
    pub user_id: String,
    /// The session the ticket was issued in.
    pub session_id: String,
    /// The user's roles when the ticket was issued.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Why a ticket was not redeemed.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// 401: the ticket is unknown, already used or expired, or the service key is wrong (the
    /// server answers both with `token_invalid`). Refuse the upgrade with 401.
    #[error("the ticket is invalid, used or expired, or the service key is wrong")]
    Invalid,
    /// The server could not be asked, or answered something else. Refuse the upgrade with 503.
    #[error("the ticket could not be redeemed")]
    Unavailable(#[from] FetchError),
}

/// Redeems `ticket` at the Tessera server at `base_url`, authenticated with `service_key`.
/// A ticket redeems once: a second call with it is [`TicketError::Invalid`].
///
/// Uses one HTTP client shared by the process; see [`redeem_ticket_with`] to pass your own.
pub async fn redeem_ticket(
    base_url: &str,
    service_key: &str,
    ticket: &str,
) -> Result<Ticket, TicketError> {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    let http = HTTP.get_or_init(reqwest::Client::new);
    redeem_ticket_with(http, base_url, service_key, ticket).await
}

/// [`redeem_ticket`] with the HTTP client `http`.
pub async fn redeem_ticket_with(
    http: &reqwest::Client,
    base_url: &str,
    service_key: &str,
    ticket: &str,
) -> Result<Ticket, TicketError> {
    let url = format!("{}/internal/tickets/redeem", base_url.trim_end_matches('/'));
    let response = http
        .post(url)
        .bearer_auth(service_key)
        .json(&serde_json::json!({ "ticket": ticket }))
        .timeout(REDEEM_TIMEOUT)
        .send()
        .await
        .map_err(FetchError::Transport)?;
    match response.status().as_u16() {
        200 => {
            let body = response.bytes().await.map_err(FetchError::Transport)?;
            Ok(serde_json::from_slice(&body).map_err(FetchError::Malformed)?)
        }
        401 => Err(TicketError::Invalid),
        status => Err(FetchError::Status(status).into()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use serde_json::{Value, json};

    use super::*;
    use crate::testkit::serve;

    const SERVICE_KEY: &str = "service-key-for-tests";

    /// Redeems `good-1` and `good-2` once each; `boom` makes it fail.
    async fn redeem(
        State(spent): State<Arc<Mutex<HashSet<String>>>>,
        headers: HeaderMap,
        axum::Json(body): axum::Json<Value>,
    ) -> Response {
        let authorized = headers
            .get(header::AUTHORIZATION)
            .is_some_and(|v| v == &format!("Bearer {SERVICE_KEY}"));
        let ticket = body["ticket"].as_str().unwrap_or_default().to_owned();
        if ticket == "boom" {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        let fresh = ticket.starts_with("good-") && spent.lock().unwrap().insert(ticket);
        if !authorized || !fresh {
            let problem = json!({"type": "about:blank", "title": "Unauthorized", "status": 401,
                "code": "token_invalid", "detail": "the ticket is invalid"});
            return (StatusCode::UNAUTHORIZED, axum::Json(problem)).into_response();
        }
        axum::Json(json!({"user_id": "u1", "session_id": "s1", "roles": ["admin"]})).into_response()
    }

    async fn server() -> String {
        let router = Router::new()
            .route("/internal/tickets/redeem", post(redeem))
            .with_state(Arc::default());
        serve(router).await
    }

    #[tokio::test]
    async fn a_fresh_ticket_redeems_once_for_its_user() {
        let url = server().await;

        let first = redeem_ticket(&url, SERVICE_KEY, "good-1").await.unwrap();
        let second = redeem_ticket(&url, SERVICE_KEY, "good-1").await;

        assert_eq!(
            first,
            Ticket {
                user_id: "u1".into(),
                session_id: "s1".into(),
                roles: vec!["admin".into()]
            }
        );
        assert!(matches!(second, Err(TicketError::Invalid)));
    }

    #[tokio::test]
    async fn an_unknown_ticket_or_a_wrong_service_key_is_invalid() {
        let url = server().await;

        let unknown = redeem_ticket(&url, SERVICE_KEY, "forged").await;
        let wrong_key = redeem_ticket(&url, "wrong", "good-2").await;

        assert!(matches!(unknown, Err(TicketError::Invalid)));
        assert!(matches!(wrong_key, Err(TicketError::Invalid)));
    }

    #[tokio::test]
    async fn a_server_error_or_an_unreachable_server_is_unavailable() {
        let url = server().await;

        let failing = redeem_ticket(&format!("{url}/"), SERVICE_KEY, "boom").await;
        let unreachable = redeem_ticket("http://127.0.0.1:9", SERVICE_KEY, "good-1").await;

        assert!(matches!(
            failing,
            Err(TicketError::Unavailable(FetchError::Status(500)))
        ));
        assert!(matches!(
            unreachable,
            Err(TicketError::Unavailable(FetchError::Transport(_)))
        ));
    }
}
