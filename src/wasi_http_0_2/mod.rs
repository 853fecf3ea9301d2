//! Spin 2.x/3.x hosts (and Spin 4): spin-sdk 5 and `wasi:http` 0.2. Its futures run
//! on spin-sdk's executor, which waits on WASI pollables: timers are pollables too.

mod key_value;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use login_broker_core::host::{FetchError, Host, HostFuture, HostKeyValue, Incoming};
use login_broker_core::web::error::HttpError;
use login_broker_core::web::response::Reply;
use spin_sdk::http::{IncomingRequest, IncomingResponse, Request as OutgoingRequest};
use spin_sdk::http_component;
use wasi::clocks::monotonic_clock;

use key_value::SpinKeyValue;

#[http_component]
async fn handle(request: IncomingRequest) -> Reply {
    match incoming(request) {
        Some(incoming) => login_broker_core::serve(&WasiHttp02, incoming).await,
        None => HttpError::invalid_request("the request line or a header cannot be read").json(),
    }
}

/// The request in the broker's terms; `None` if its line or a header cannot be read.
fn incoming(request: IncomingRequest) -> Option<Incoming> {
    let method = Method::from(request.method());
    let uri = request.path_with_query().unwrap_or_else(|| "/".into()).parse().ok()?;
    let mut headers = HeaderMap::new();
    for (name, value) in request.headers().entries() {
        headers.append(HeaderName::from_bytes(name.as_bytes()).ok()?, HeaderValue::from_bytes(&value).ok()?);
    }
    let read_body = move |limit| -> HostFuture<'static, Option<Vec<u8>>> {
        Box::pin(async move { read_up_to(request.into_body_stream(), limit).await.ok() })
    };
    Some(Incoming::new(method, uri, headers, read_body))
}

struct WasiHttp02;

impl Host for WasiHttp02 {
    fn fetch(&self, request: http::Request<Vec<u8>>, limit: usize) -> HostFuture<'static, Result<http::Response<Vec<u8>>, FetchError>> {
        Box::pin(fetch(request, limit))
    }

    fn sleep(&self, duration: Duration) -> HostFuture<'static, ()> {
        Box::pin(sleep(duration))
    }

    fn variable<'a>(&'a self, name: &'a str) -> HostFuture<'a, Result<String, String>> {
        Box::pin(async move { spin_sdk::variables::get(name).map_err(|error| error.to_string()) })
    }

    fn key_value(&self) -> HostKeyValue {
        HostKeyValue::new(SpinKeyValue::default())
    }
}

async fn read_up_to<E: std::fmt::Debug>(
    chunks: impl futures::Stream<Item = Result<Vec<u8>, E>>,
    limit: usize,
) -> Result<Vec<u8>, FetchError> {
    let mut chunks = std::pin::pin!(chunks);
    let mut body = Vec::new();
    while let Some(chunk) = chunks.next().await {
        body.extend(chunk.map_err(|error| FetchError::Unreadable(format!("{error:?}")))?);
        if body.len() > limit {
            return Err(FetchError::TooLarge);
        }
    }
    Ok(body)
}

async fn fetch(request: http::Request<Vec<u8>>, limit: usize) -> Result<http::Response<Vec<u8>>, FetchError> {
    let (parts, body) = request.into_parts();
    let mut outgoing = OutgoingRequest::builder();
    outgoing.method(parts.method.into()).uri(parts.uri.to_string());
    for (name, value) in &parts.headers {
        outgoing.header(name.as_str(), value.to_str().map_err(|_| FetchError::Failed(format!("header {name} is not text")))?);
    }
    let response: IncomingResponse =
        spin_sdk::http::send(outgoing.body(body).build()).await.map_err(|error| FetchError::Failed(error.to_string()))?;
    let mut answer = http::Response::builder().status(response.status());
    for (name, value) in response.headers().entries() {
        answer = answer.header(name, value);
    }
    let body = read_up_to(response.take_body_stream(), limit).await?;
    answer.body(body).map_err(|error| FetchError::Unreadable(error.to_string()))
}

/// Ready once `duration` has passed, waking the executor through a clock pollable.
fn sleep(duration: Duration) -> impl Future<Output = ()> {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    Sleep { until: monotonic_clock::now().saturating_add(nanos) }
}

struct Sleep {
    until: monotonic_clock::Instant,
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if monotonic_clock::now() >= self.until {
            return Poll::Ready(());
        }
        spin_executor::push_waker(monotonic_clock::subscribe_instant(self.until), cx.waker().clone());
        Poll::Pending
    }
}
