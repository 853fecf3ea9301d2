//! The test-only admin port: list the keys of the instance's `default` store, and read
//! or reset the counts of the key-value operations the component made.
//!
//! `GET /keys`, `GET /stats`, `DELETE /stats`.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::net::TcpListener;

use crate::App;

pub async fn serve(listener: TcpListener, app: Arc<App>) -> anyhow::Result<()> {
    crate::server::accept_loop(listener, app, answer).await
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn answer(app: Arc<App>, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let Some(store) = app.stores.get("default") else {
        return reply(StatusCode::NOT_FOUND, "no `default` store");
    };
    let outcome = match (request.method(), request.uri().path()) {
        (&Method::GET, "/keys") => store.keys().await.map(|keys| reply(StatusCode::OK, serde_json::to_vec(&keys).unwrap_or_default())),
        (&Method::GET, "/stats") => Ok(reply(StatusCode::OK, serde_json::to_vec(&store.stats).unwrap_or_default())),
        (&Method::DELETE, "/stats") => {
            store.stats.reset();
            Ok(reply(StatusCode::NO_CONTENT, ""))
        }
        _ => Ok(reply(StatusCode::NOT_FOUND, "")),
    };
    outcome.unwrap_or_else(|error| reply(StatusCode::SERVICE_UNAVAILABLE, error))
}
