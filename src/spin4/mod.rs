//! Spin 4.0.x: spin-sdk 6 and `wasi:http@0.3.0-rc-2026-03-15`; with the feature `edge`,
//! the same for Akamai Functions, whose store is replicated and has no atomics.

mod key_value;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use login_broker_core::host::{FetchError, Host, HostFuture, HostKeyValue, Incoming};
use login_broker_core::web::response::Reply;
use spin_sdk::http::FullBody;
use spin_sdk::http_service;

use key_value::SpinKeyValue;

#[http_service]
async fn handle(request: spin_sdk::http::Request) -> Reply {
    let (head, body) = request.into_parts();
    let read_body = move |limit| -> HostFuture<'static, Option<Vec<u8>>> {
        Box::pin(async move { Some(Limited::new(body, limit).collect().await.ok()?.to_bytes().to_vec()) })
    };
    let incoming = Incoming::new(head.method, head.uri, head.headers, read_body);
    #[cfg(not(feature = "conformance"))]
    return login_broker_core::serve(&Spin4, incoming).await;
    #[cfg(feature = "conformance")]
    return conformance(incoming).await;
}

/// The store conformance suite over the store this `spin up` was given, as JSON.
#[cfg(feature = "conformance")]
async fn conformance(_: Incoming) -> Reply {
    let now = login_broker_core::base::clock::unix_now();
    let outcomes = login_broker_core::login::conformance::run(Spin4.key_value(), now).await;
    let report: Vec<serde_json::Value> = outcomes.iter().map(|o| serde_json::json!({"check": o.check, "failure": o.failure})).collect();
    login_broker_core::web::response::json(http::StatusCode::OK, &report)
}

struct Spin4;

impl Host for Spin4 {
    fn fetch(&self, request: http::Request<Vec<u8>>, limit: usize) -> HostFuture<'static, Result<http::Response<Vec<u8>>, FetchError>> {
        Box::pin(async move {
            let response = spin_sdk::http::send(request.map(|body| FullBody::new(Bytes::from(body))))
                .await
                .map_err(|code| FetchError::Failed(format!("{code:?}")))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, limit).collect().await.map_err(|error| {
                if error.is::<LengthLimitError>() { FetchError::TooLarge } else { FetchError::Unreadable(error.to_string()) }
            })?;
            Ok(http::Response::from_parts(parts, body.to_bytes().to_vec()))
        })
    }

    fn sleep(&self, duration: Duration) -> HostFuture<'static, ()> {
        Box::pin(spin_sdk::time::sleep(duration))
    }

    fn variable<'a>(&'a self, name: &'a str) -> HostFuture<'a, Result<String, String>> {
        Box::pin(async move { spin_sdk::variables::get(name).await.map_err(|error| error.to_string()) })
    }

    fn key_value(&self) -> HostKeyValue {
        HostKeyValue::new(SpinKeyValue::default())
    }

    #[cfg(feature = "edge")]
    fn platform(&self) -> login_broker_core::host::Platform {
        login_broker_core::host::Platform::ReplicatedEdge
    }
}
