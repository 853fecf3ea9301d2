//! login-broker: brokers browser logins for clients that cannot do one themselves,
//! in the model of Perforce's Helix Authentication Service (HAS).
//!
//! This file only wires routes to handlers; each concern lives in its own module.

mod api;
mod client_auth;
mod config;
mod error;
mod ids;
mod login;
mod oidc;
mod response;
mod store;

use http::Method;
use http_body_util::{BodyExt, Limited};
use spin_sdk::http::Request;
use spin_sdk::http_service;

use crate::error::HttpError;
use crate::response::Reply;

const MAX_URI_BYTES: usize = 4096;
/// The only body we read is the confirmation form: a token and a short code.
const MAX_FORM_BYTES: usize = 2048;

#[http_service]
async fn handle(request: Request) -> Reply {
    let uri = request.uri().clone();
    let (path, query) = (uri.path(), uri.query().unwrap_or(""));
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let get = request.method() == Method::GET;
    // Our answers never need long URLs; refusing them early bounds all parsing after.
    if request.uri().path_and_query().map_or(0, |pq| pq.as_str().len()) > MAX_URI_BYTES {
        return HttpError::uri_too_long(MAX_URI_BYTES).json();
    }

    match segments.as_slice() {
        // Browser routes answer with pages.
        ["oidc", "login", request_id] if get => login::start(request_id).await.unwrap_or_else(HttpError::page),
        ["oidc", "login", request_id] if request.method() == Method::POST => {
            let headers = request.headers().clone();
            match Limited::new(request.into_body(), MAX_FORM_BYTES).collect().await {
                Ok(form) => login::confirm(request_id, &headers, &form.to_bytes()).await.unwrap_or_else(HttpError::page),
                Err(_) => HttpError::payload_too_large(MAX_FORM_BYTES).page(),
            }
        }
        ["oidc", "callback"] if get => login::callback(query, request.headers()).await.unwrap_or_else(HttpError::page),
        ["oidc", "login", _] => HttpError::method_not_allowed("GET, POST").page(),
        ["oidc", "callback"] => HttpError::method_not_allowed("GET").page(),

        // API routes answer with JSON.
        ["requests", "new", user_id] if get => api::new_request(user_id, query).await.unwrap_or_else(HttpError::json),
        ["requests", "status", request_id] if get => {
            api::request_status(request_id, request.headers()).await.unwrap_or_else(HttpError::json)
        }
        ["liveness"] if get => api::liveness().await.unwrap_or_else(HttpError::json),
        ["requests", "new" | "status", _] | ["liveness"] => HttpError::method_not_allowed("GET").json(),
        _ => HttpError::not_found("no such route").json(),
    }
}
