//! Spin 4.0.x: spin-sdk 6 and `wasi:http@0.3.0-rc-2026-03-15`.

mod key_value;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use spin_sdk::http::FullBody;
use spin_sdk::http_service;

pub use key_value::SpinKeyValue;

use super::FetchError;
use crate::response::Reply;

#[http_service]
async fn handle(request: spin_sdk::http::Request) -> Reply {
    crate::handle(Incoming(request)).await
}

/// The request being answered; its body is read only where a route needs it.
pub struct Incoming(spin_sdk::http::Request);

impl Incoming {
    pub fn method(&self) -> &Method {
        self.0.method()
    }

    pub fn uri(&self) -> &Uri {
        self.0.uri()
    }

    pub fn headers(&self) -> &HeaderMap {
        self.0.headers()
    }

    /// The body, or `None` if it is longer than `limit` bytes or cannot be read.
    pub async fn body_up_to(self, limit: usize) -> Option<Vec<u8>> {
        let body = Limited::new(self.0.into_body(), limit).collect().await.ok()?;
        Some(body.to_bytes().to_vec())
    }
}

/// One outbound request; the answer's body is read up to `limit` bytes.
pub async fn fetch(request: http::Request<Vec<u8>>, limit: usize) -> Result<http::Response<Vec<u8>>, FetchError> {
    let response = spin_sdk::http::send(request.map(|body| FullBody::new(Bytes::from(body))))
        .await
        .map_err(|code| FetchError::Failed(format!("{code:?}")))?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|error| if error.is::<LengthLimitError>() { FetchError::TooLarge } else { FetchError::Unreadable(error.to_string()) })?;
    Ok(http::Response::from_parts(parts, body.to_bytes().to_vec()))
}

pub async fn sleep(duration: Duration) {
    spin_sdk::time::sleep(duration).await;
}

/// A Spin variable; `Err` carries Spin's reason.
pub async fn variable(name: &str) -> Result<String, String> {
    spin_sdk::variables::get(name).await.map_err(|error| error.to_string())
}
