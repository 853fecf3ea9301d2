//! Serves the component over HTTP/1.1, a fresh instance per request as in Spin.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wasmtime::Store;
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode;

use crate::{App, Ctx};

pub async fn serve(listener: TcpListener, app: Arc<App>) -> anyhow::Result<()> {
    accept_loop(listener, app, answer).await
}

/// Serves each connection on its own task, answering every request with `answer`.
pub async fn accept_loop<F>(listener: TcpListener, app: Arc<App>, answer: fn(Arc<App>, hyper::Request<Incoming>) -> F) -> anyhow::Result<()>
where
    F: Future<Output = hyper::Response<Full<Bytes>>> + Send + 'static,
{
    loop {
        let (stream, _) = listener.accept().await?;
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let answered = answer(app.clone(), request);
                async move { Ok::<_, Infallible>(answered.await) }
            });
            // A client hanging up mid-request is not the host's problem.
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn answer(app: Arc<App>, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    match run_component(app, request).await {
        Ok(response) => response,
        Err(error) => {
            // Spin answers a trapped or failed component with a bare 500.
            eprintln!("spin-test-host: component failed: {error:?}");
            let mut response = hyper::Response::new(Full::new(Bytes::from_static(b"Internal Server Error")));
            *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}

async fn run_component(app: Arc<App>, request: hyper::Request<Incoming>) -> anyhow::Result<hyper::Response<Full<Bytes>>> {
    let (mut parts, body) = request.into_parts();
    // Spin hands the component an absolute URL.
    let host = parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost").to_owned();
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    parts.uri = format!("http://{host}{path_and_query}").parse()?;
    let body = body.map_err(|error| ErrorCode::InternalError(Some(error.to_string())));
    let (request, request_io) = wasmtime_wasi_http::p3::Request::from_http(hyper::Request::from_parts(parts, body));

    let mut store = Store::new(&app.engine, Ctx::new(app.clone()));
    let service = app.service.instantiate_async(&mut store).await?;
    store
        .run_concurrent(async move |accessor| {
            let respond = async {
                let response = service.handle(accessor, request).await??;
                let response = accessor.with(|access| response.into_http(access, async { Ok(()) }))?;
                let (parts, body) = response.into_parts();
                let body = body.collect().await.map_err(|code| anyhow::anyhow!("response body: {code:?}"))?.to_bytes();
                anyhow::Ok(hyper::Response::from_parts(parts, Full::new(body)))
            };
            let (response, ()) = tokio::try_join!(respond, async {
                request_io.await.map_err(|code| anyhow::anyhow!("request body: {code:?}"))
            })?;
            anyhow::Ok(response)
        })
        .await?
}
