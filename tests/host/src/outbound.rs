//! Outbound HTTP as Spin allows it: only to origins listed in `allowed_outbound_hosts`.

use std::future::Future;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p3::{RequestOptions, WasiHttpHooks, default_send_request};

pub struct Outbound {
    /// `scheme://host:port`, with default ports made explicit.
    allowed: Vec<String>,
}

impl Outbound {
    pub fn new(allowed_hosts: &[String]) -> Self {
        Self { allowed: allowed_hosts.iter().filter_map(|entry| origin_of(entry)).collect() }
    }

    fn allows(&self, uri: &http::Uri) -> bool {
        let Some(origin) = origin_of(&uri.to_string()) else { return false };
        self.allowed.iter().any(|allowed| *allowed == origin)
    }
}

fn origin_of(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?;
    let port = uri.port_u16().or(match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    })?;
    Some(format!("{scheme}://{}:{port}", uri.host()?))
}

type Body = UnsyncBoxBody<Bytes, ErrorCode>;
type SendResult = Result<(http::Response<Body>, Box<dyn Future<Output = Result<(), ErrorCode>> + Send>), wasmtime_wasi::TrappableError<ErrorCode>>;

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<Body>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), ErrorCode>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        drop(fut);
        let allowed = self.allows(request.uri());
        Box::new(async move {
            if !allowed {
                return Err(ErrorCode::HttpRequestDenied.into());
            }
            let (response, io) = default_send_request(request, options).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}
