//! The HTTP client `openidconnect` calls (for discovery, keys, tokens, userinfo, and
//! `/oauth/validate`'s key set), over Spin's outbound HTTP. Spin lets the component
//! reach only the origins in `allowed_outbound_hosts`. A provider's answer
//! is bounded in size while it is read, and in time, so a hostile or broken provider
//! can neither exhaust the instance's memory nor hold the browser's request.

use std::fmt;
use std::pin::pin;
use std::time::Duration;

use openidconnect::{HttpRequest, HttpResponse};

use crate::host::{self, FetchError};

/// Provider documents are small; anything larger is refused rather than buffered.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// How long one request to a provider may take, answer read included.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct OutboundError(String);

impl fmt::Display for OutboundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OutboundError {}

/// `scheme://host[:port]` of an absolute URL, as `allowed_outbound_hosts` names it.
pub fn origin_of(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
}

pub async fn send(mut request: HttpRequest) -> Result<HttpResponse, OutboundError> {
    let origin = request.uri().authority().map(|a| a.to_string()).unwrap_or_default();
    // Spin sends a body of unknown length chunked, and some providers (WSGI servers,
    // some proxies) then read it as empty: say how long it is.
    if !request.body().is_empty() || request.method() == http::Method::POST {
        let length = http::HeaderValue::from(request.body().len());
        request.headers_mut().insert(http::header::CONTENT_LENGTH, length);
    }
    let timer = pin!(host::sleep(PROVIDER_TIMEOUT));
    let answer = crate::base::timeout::race(host::fetch(request, MAX_RESPONSE_BYTES), timer).await;
    answer
        .ok_or_else(|| OutboundError(format!("{origin} did not answer within {} s", PROVIDER_TIMEOUT.as_secs())))?
        .map_err(|error| {
            OutboundError(match error {
                FetchError::Failed(why) => format!(
                    "request to {origin} failed ({why}); is its origin allowed (`oidc_provider_origin`, `auth_provider_origin_*`, `oauth_jwks_origin`, `saml_idp_origin`)?"
                ),
                FetchError::TooLarge => format!("the answer of {origin} is larger than {MAX_RESPONSE_BYTES} bytes"),
                FetchError::Unreadable(why) => format!("reading the answer of {origin} failed ({why})"),
            })
        })
}
