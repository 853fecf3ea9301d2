//! The HTTP client `openidconnect` calls, over Spin's outbound HTTP. Spin lets the
//! component reach only the origins in `allowed_outbound_hosts`.

use std::fmt;

use bytes::Bytes;
use openidconnect::{HttpRequest, HttpResponse};
use spin_sdk::http::FullBody;
use spin_sdk::http::body::IncomingBodyExt;

/// Provider documents are small; anything larger is refused rather than buffered.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

#[derive(Debug)]
pub struct OutboundError(String);

impl fmt::Display for OutboundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OutboundError {}

pub async fn send(mut request: HttpRequest) -> Result<HttpResponse, OutboundError> {
    let origin = request.uri().authority().map(|a| a.to_string()).unwrap_or_default();
    // Spin sends a body of unknown length chunked, and some providers (WSGI servers,
    // some proxies) then read it as empty: say how long it is.
    if !request.body().is_empty() || request.method() == http::Method::POST {
        let length = http::HeaderValue::from(request.body().len());
        request.headers_mut().insert(http::header::CONTENT_LENGTH, length);
    }
    let response = spin_sdk::http::send(request.map(|body| FullBody::new(Bytes::from(body))))
        .await
        .map_err(|code| OutboundError(format!("request to {origin} failed ({code:?}); is it allowed by `oidc_provider_origin`?")))?;
    let (parts, body) = response.into_parts();
    let body = body.bytes().await.map_err(|code| OutboundError(format!("reading the answer of {origin} failed ({code:?})")))?;
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(OutboundError(format!("the answer of {origin} is larger than {MAX_RESPONSE_BYTES} bytes")));
    }
    Ok(http::Response::from_parts(parts, body.to_vec()))
}
