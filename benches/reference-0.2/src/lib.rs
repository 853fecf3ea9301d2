//! One key-value write per request, and nothing else, by wasi:http 0.2: what Spin
//! charges a component it instantiates for every request (`benches/broker.rs`).

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use spin_sdk::key_value::Store;

#[http_component]
fn handle(_request: Request) -> anyhow::Result<impl IntoResponse> {
    let written = Store::open_default().and_then(|store| store.set("reference", b"0123456789abcdef")).is_ok();
    Ok(Response::builder().status(if written { 200 } else { 503 }).build())
}
