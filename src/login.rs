//! The browser side of a login. The login URL handed to clients leads here.

use http::StatusCode;

use crate::error::HttpError;
use crate::ids::RequestId;
use crate::response::{self, Reply};
use crate::store::{SpinKeyValue, StateStore, unix_now};

/// `GET /oidc/login/:requestId`: no identity provider can be configured yet, so a
/// known request gets a page saying so, and an unknown one a page saying that.
pub async fn start(id_segment: &str) -> Result<Reply, HttpError> {
    let id = RequestId::parse(id_segment)
        .map_err(|_| HttpError::invalid_request("This login link is malformed. Start the login again from your application."))?;
    let store = StateStore::new(SpinKeyValue::open().await?);
    if store.load_login_request(&id, unix_now()).await?.is_none() {
        return Err(HttpError::not_found("This login link is unknown or has expired. Start the login again from your application."));
    }
    Ok(response::page(
        StatusCode::NOT_IMPLEMENTED,
        "Sign-in is not configured",
        "This login broker has no identity provider configured yet, so this login cannot continue. Ask the broker's operator.",
    ))
}
