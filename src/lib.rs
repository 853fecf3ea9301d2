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
mod parse;
mod response;
mod store;

use http::Method;
use spin_sdk::http::Request;
use spin_sdk::http_service;

use crate::error::HttpError;
use crate::response::Reply;

const MAX_URI_BYTES: usize = 4096;

#[http_service]
async fn handle(request: Request) -> Reply {
    // Our answers never need long URLs; refusing them early bounds all parsing after.
    if request.uri().path_and_query().map_or(0, |pq| pq.as_str().len()) > MAX_URI_BYTES {
        return HttpError::uri_too_long(MAX_URI_BYTES).json();
    }
    let uri = request.uri().clone();
    let (path, query) = (uri.path(), uri.query().unwrap_or(""));
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (get, post) = (request.method() == Method::GET, request.method() == Method::POST);

    match segments.as_slice() {
        // Browser routes answer with pages.
        ["oidc", "login", request_id] if get => login::start(request_id).await.unwrap_or_else(HttpError::page),
        ["oidc", "login", request_id] if post => login::confirm(request_id, request).await.unwrap_or_else(HttpError::page),
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
