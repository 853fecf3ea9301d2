//! login-broker: brokers browser logins for clients that cannot do one themselves,
//! in the model of Perforce's Helix Authentication Service (HAS).
//!
//! This file only wires routes to handlers; each concern lives in its own module. A
//! failure becomes an answer here, as JSON on API routes and as a page on browser
//! routes (`HttpError::json`, `HttpError::page`), which is also where it is logged.

mod api;
mod browser;
mod client_auth;
mod config;
mod connector;
mod context;
mod error;
mod failure;
mod ids;
mod log;
mod login;
mod oidc;
mod operations;
mod pages;
mod parse;
mod protocols;
mod response;
mod secret;
mod store;

use std::time::Instant;

use http::Method;
use spin_sdk::http::Request;
use spin_sdk::http_service;

use crate::error::HttpError;
use crate::response::Reply;

const MAX_URI_BYTES: usize = 4096;

#[http_service]
async fn handle(request: Request) -> Reply {
    let started = Instant::now();
    let method = request.method().clone();
    let (route, reply) = route(request).await;
    // One line per request, by route pattern: paths hold request ids.
    log::info("http_request")
        .field("method", method.as_str())
        .field("route", route)
        .field("status", reply.status().as_u16())
        .duration_ms(started.elapsed().as_millis() as u64)
        .emit();
    reply
}

async fn route(request: Request) -> (&'static str, Reply) {
    // Our answers never need long URLs; refusing them early bounds all parsing after.
    if request.uri().path_and_query().map_or(0, |pq| pq.as_str().len()) > MAX_URI_BYTES {
        return ("(too long)", HttpError::uri_too_long(MAX_URI_BYTES).json());
    }
    let uri = request.uri().clone();
    let (path, query) = (uri.path(), uri.query().unwrap_or(""));
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (get, post) = (request.method() == Method::GET, request.method() == Method::POST);

    match segments.as_slice() {
        // Browser routes answer with pages.
        ["multi", "login", id] if get => ("/multi/login/:id", browser::choose_provider(id).await.unwrap_or_else(HttpError::page)),
        ["oidc", "login", id] if get => ("/oidc/login/:id", browser::start(id, query).await.unwrap_or_else(HttpError::page)),
        ["oidc", "login", id] if post => ("/oidc/login/:id", browser::confirm(id, query, request).await.unwrap_or_else(HttpError::page)),
        ["oidc", "callback"] if get => {
            ("/oidc/callback", browser::oidc_callback(query, request.headers()).await.unwrap_or_else(HttpError::page))
        }
        ["oidc", "logout"] if get => ("/oidc/logout", browser::logout(request.headers()).await.unwrap_or_else(HttpError::page)),
        ["oidc", "logged_out"] if get => ("/oidc/logged_out", browser::logged_out()),
        ["oidc", "login", _] => ("/oidc/login/:id", HttpError::method_not_allowed("GET, POST").page()),
        ["multi", "login", _] | ["oidc", "callback" | "logout" | "logged_out"] => {
            ("(browser)", HttpError::method_not_allowed("GET").page())
        }

        // API routes answer with JSON.
        ["requests", "new", user_id] if get => {
            ("/requests/new/:userId", api::new_request(user_id, query).await.unwrap_or_else(HttpError::json))
        }
        ["requests", "status", id] if get => {
            ("/requests/status/:id", api::request_status(id, request.headers()).await.unwrap_or_else(HttpError::json))
        }
        ["liveness"] if get => ("/liveness", operations::liveness().await.unwrap_or_else(HttpError::json)),
        ["readiness"] if get => ("/readiness", operations::readiness().await.unwrap_or_else(|error| error.unavailable().json())),
        ["status"] if get => ("/status", operations::status().await.unwrap_or_else(HttpError::json)),
        #[cfg(feature = "conformance")]
        ["_conformance"] if get => ("/_conformance", operations::conformance().await.unwrap_or_else(HttpError::json)),
        ["requests", "new" | "status", _] | ["liveness" | "readiness" | "status"] => ("(api)", HttpError::method_not_allowed("GET").json()),
        _ => ("(unknown)", HttpError::not_found("no such route").json()),
    }
}
