//! One key-value write per request, and nothing else: the floor the broker is measured
//! against (`benches/broker.rs`).

use spin_sdk::http::{Request, Response};
use spin_sdk::http_service;
use spin_sdk::key_value::Store;

#[http_service]
async fn handle(_request: Request) -> Response<String> {
    let written = match Store::open("default").await {
        Ok(store) => store.set("reference", b"0123456789abcdef").await.is_ok(),
        Err(_) => false,
    };
    let status = if written { 200 } else { 503 };
    Response::builder().status(status).body(String::new()).unwrap()
}
