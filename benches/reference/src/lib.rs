//! One key-value write per request, and nothing else: the floor the broker is measured
//! against (`benches/broker.rs`). With `?fetch=<url>` it also makes one outbound GET and
//! reads the answer whole: the floor of a call to an identity provider.

use http_body_util::BodyExt;
use spin_sdk::http::{EmptyBody, Request, Response};
use spin_sdk::http_service;
use spin_sdk::key_value::Store;

#[http_service]
async fn handle(request: Request) -> Response<String> {
    let written = match Store::open("default").await {
        Ok(store) => store.set("reference", b"0123456789abcdef").await.is_ok(),
        Err(_) => false,
    };
    let fetched = match request.uri().query().and_then(|query| query.strip_prefix("fetch=")) {
        Some(url) => fetch(url).await,
        None => true,
    };
    let status = if written && fetched { 200 } else { 503 };
    Response::builder().status(status).body(String::new()).unwrap()
}

async fn fetch(url: &str) -> bool {
    let Ok(request) = http::Request::get(url).body(EmptyBody::new()) else { return false };
    match spin_sdk::http::send(request).await {
        Ok(response) => response.into_body().collect().await.is_ok(),
        Err(_) => false,
    }
}
