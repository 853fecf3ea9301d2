//! The web layer: routes, the API, the browser's pages and cookies, operations. The one
//! place where the flow's outcomes and failures become status codes, JSON and pages
//! (`HttpError::json`, `HttpError::page`), which is also where failures are logged.

pub mod api;
pub mod browser;
pub mod context;
pub mod error;
pub mod operations;
pub mod pages;
pub mod response;

use http::Method;

use crate::host::Incoming;
use error::HttpError;
use response::Reply;

const MAX_URI_BYTES: usize = 4096;

/// No line per request: each log line is a host call that cost a fast route a quarter
/// of its throughput. A login's milestones and every failure are logged where they happen.
/// Every request, from [`crate::serve`].
pub async fn handle(request: Incoming) -> Reply {
    let mut reply = route(request).await;
    // From the configuration the route read: `/liveness` reads none, and a browser
    // never starts there.
    if let Some(essentials) = context::loaded_essentials() {
        response::require_https_from_now_on(&mut reply, &essentials.base_url);
    }
    reply
}

async fn route(request: Incoming) -> Reply {
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
        ["multi", "login", handle] if get => browser::choose_provider(handle).await.unwrap_or_else(HttpError::page),
        ["oidc", "login", handle] if get => browser::start(handle, query).await.unwrap_or_else(HttpError::page),
        ["oidc", "login", handle] if post => browser::confirm(handle, query, request).await.unwrap_or_else(HttpError::page),
        ["oidc", "callback"] if get => browser::oidc_callback(query, request.headers()).await.unwrap_or_else(HttpError::page),
        ["oidc", "logout"] if get => browser::logout(request.headers()).await.unwrap_or_else(HttpError::page),
        ["oidc", "logged_out"] if get => browser::logged_out(),
        ["saml", "login", handle] if get => browser::start(handle, query).await.unwrap_or_else(HttpError::page),
        ["saml", "login", handle] if post => browser::confirm(handle, query, request).await.unwrap_or_else(HttpError::page),
        ["saml", "sso"] if post => browser::saml_answer(request).await.unwrap_or_else(HttpError::page),
        ["saml", "logout"] if get => browser::saml_logout().await.unwrap_or_else(HttpError::page),
        ["saml", "slo"] if get || post => browser::saml_single_logout(query, request).await.unwrap_or_else(HttpError::page),
        ["saml", "logout"] => HttpError::method_not_allowed("GET").page(),
        ["saml", "slo"] => HttpError::method_not_allowed("GET, POST").page(),
        ["saml", "login", _] => HttpError::method_not_allowed("GET, POST").page(),
        ["saml", "sso"] => HttpError::method_not_allowed("POST").page(),
        ["oidc", "login", _] => HttpError::method_not_allowed("GET, POST").page(),
        ["multi", "login", _] | ["oidc", "callback" | "logout" | "logged_out"] => HttpError::method_not_allowed("GET").page(),

        // API routes answer with JSON.
        ["requests", "new", user_id] if get => api::new_request(user_id, query, request.headers()).await.unwrap_or_else(HttpError::json),
        ["requests", "status", handle] if get => api::request_status(handle, request.headers()).await.unwrap_or_else(HttpError::json),
        ["oauth", "validate"] if get => api::validate_token(request.headers()).await.unwrap_or_else(HttpError::json),
        ["saml", "metadata"] if get => api::saml_metadata(query).await.unwrap_or_else(HttpError::json),
        ["saml", "validate"] if post => api::validate_saml(query, request).await.unwrap_or_else(HttpError::json),
        ["saml", "validate"] => HttpError::method_not_allowed("POST").json(),
        ["liveness"] if get => operations::liveness().await.unwrap_or_else(HttpError::json),
        ["readiness"] if get => operations::readiness().await.unwrap_or_else(|error| error.unavailable().json()),
        ["status"] if get => operations::status().await.unwrap_or_else(HttpError::json),
        ["requests", "new" | "status", _] | ["oauth", "validate"] | ["saml", "metadata"] | ["liveness" | "readiness" | "status"] => {
            HttpError::method_not_allowed("GET").json()
        }
        _ => HttpError::not_found("no such route").json(),
    }
}
