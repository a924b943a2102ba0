//! One request to the Tessera server: send it, check the status, decode the JSON body. What the
//! answer means is for the caller.

use crate::FetchError;

/// Sends `request`; its response if the status is 2xx, else [`FetchError::Status`].
pub(crate) async fn send_checked(
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, FetchError> {
    let response = request.send().await.map_err(FetchError::Transport)?;
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status(status.as_u16()));
    }
    Ok(response)
}

/// Sends `request` and decodes the body of a 2xx answer with `decode`, such as
/// `|body| serde_json::from_slice(body)` or [`KeySet::from_jwks_json`](crate::KeySet::from_jwks_json).
pub(crate) async fn fetch_json<T>(
    request: reqwest::RequestBuilder,
    decode: impl FnOnce(&[u8]) -> Result<T, serde_json::Error>,
) -> Result<T, FetchError> {
    let response = send_checked(request).await?;
    let body = response.bytes().await.map_err(FetchError::Transport)?;
    decode(&body).map_err(FetchError::Malformed)
}
