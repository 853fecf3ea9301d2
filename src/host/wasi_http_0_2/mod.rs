//! Spin 2.x/3.x hosts (and Spin 4): spin-sdk 5 and `wasi:http` 0.2. Its futures run
//! on spin-sdk's executor, which waits on WASI pollables: timers are pollables too.

mod key_value;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use spin_sdk::http::{IncomingRequest, IncomingResponse, Request as OutgoingRequest};
use spin_sdk::http_component;
use wasi::clocks::monotonic_clock;

pub use key_value::SpinKeyValue;

use super::FetchError;

#[http_component]
async fn handle(request: IncomingRequest) -> http::Response<String> {
    match Incoming::from_host(request) {
        Some(incoming) => crate::handle(incoming).await,
        None => crate::error::HttpError::invalid_request("the request line or a header cannot be read").json(),
    }
}

/// The request being answered; its body is read only where a route needs it.
pub struct Incoming {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    request: IncomingRequest,
}

impl Incoming {
    fn from_host(request: IncomingRequest) -> Option<Self> {
        let method = Method::from(request.method());
        let uri = request.path_with_query().unwrap_or_else(|| "/".into()).parse().ok()?;
        let mut headers = HeaderMap::new();
        for (name, value) in request.headers().entries() {
            headers.append(HeaderName::from_bytes(name.as_bytes()).ok()?, HeaderValue::from_bytes(&value).ok()?);
        }
        Some(Self { method, uri, headers, request })
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body, or `None` if it is longer than `limit` bytes or cannot be read.
    pub async fn body_up_to(self, limit: usize) -> Option<Vec<u8>> {
        read_up_to(self.request.into_body_stream(), limit).await.ok()
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

/// One outbound request; the answer's body is read up to `limit` bytes.
pub async fn fetch(request: http::Request<Vec<u8>>, limit: usize) -> Result<http::Response<Vec<u8>>, FetchError> {
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
pub fn sleep(duration: Duration) -> impl Future<Output = ()> {
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

/// A Spin variable; `Err` carries Spin's reason.
pub async fn variable(name: &str) -> Result<String, String> {
    spin_sdk::variables::get(name).map_err(|error| error.to_string())
}
