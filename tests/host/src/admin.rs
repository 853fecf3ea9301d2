//! The test-only admin port: read and write the instance's `default` store the way a
//! second process sharing it would, and read the operation counts.
//!
//! `GET|PUT|DELETE /kv/<key>`, `GET /keys`, `GET /stats`, `DELETE /stats`.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
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
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let outcome = match (&method, path.as_str()) {
        (&Method::GET, "/keys") => store.keys().await.map(|keys| reply(StatusCode::OK, serde_json::to_vec(&keys).unwrap_or_default())),
        (&Method::GET, "/stats") => Ok(reply(StatusCode::OK, serde_json::to_vec(&store.stats).unwrap_or_default())),
        (&Method::DELETE, "/stats") => {
            store.stats.reset();
            Ok(reply(StatusCode::NO_CONTENT, ""))
        }
        (_, path) if path.starts_with("/kv/") => {
            let key = &path["/kv/".len()..];
            match method {
                Method::GET => store.get(key).await.map(|value| match value {
                    Some(bytes) => reply(StatusCode::OK, bytes),
                    None => reply(StatusCode::NOT_FOUND, ""),
                }),
                Method::PUT => match request.into_body().collect().await {
                    Ok(body) => store.set(key, body.to_bytes().to_vec()).await.map(|()| reply(StatusCode::NO_CONTENT, "")),
                    Err(error) => Ok(reply(StatusCode::BAD_REQUEST, error.to_string())),
                },
                Method::DELETE => store.delete(key).await.map(|()| reply(StatusCode::NO_CONTENT, "")),
                _ => Ok(reply(StatusCode::METHOD_NOT_ALLOWED, "")),
            }
        }
        _ => Ok(reply(StatusCode::NOT_FOUND, "")),
    };
    outcome.unwrap_or_else(|error| reply(StatusCode::SERVICE_UNAVAILABLE, error))
}
