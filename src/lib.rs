//! The Spin component: a thin adapter that fills the broker's host port
//! (`login_broker_core::host::Host`) with one build's spin-sdk and hands it each request.
//! Everything else is `crates/core`, the same in every build.
//!
//! - `spin4` (the default feature): spin-sdk 6, `wasi:http@0.3.0-rc-2026-03-15`, for
//!   Spin 4.0.x. Key-value calls are asynchronous and bounded by timers.
//! - `wasi-http-0-2`: spin-sdk 5, `wasi:http` 0.2, for Spin 2.x/3.x hosts (SpinKube's
//!   shim, managed platforms) and Spin 4 too. Key-value calls are synchronous there and
//!   cannot be bounded: a store that stops answering holds the request until Spin's own
//!   Redis client gives up.
//! - `edge`: the Spin 4 build for Akamai Functions, whose key-value store is replicated
//!   across regions and offers no atomic increment (no `wasi:keyvalue` import at all).
//! - `conformance`, with `spin4`: a test component that runs the store conformance suite
//!   over the store `spin up` gives it (tests/store_conformance.rs), in place of the broker.

#[cfg(all(feature = "spin4", feature = "wasi-http-0-2"))]
compile_error!("choose one host: the features `spin4` and `wasi-http-0-2` exclude each other");
#[cfg(not(any(feature = "spin4", feature = "wasi-http-0-2")))]
compile_error!("choose a host: the feature `spin4` (the default) or `wasi-http-0-2`");

// spin-sdk 5's macros name the crate `spin_sdk`: in the wasi:http 0.2 build it is.
#[cfg(all(feature = "wasi-http-0-2", not(feature = "spin4")))]
extern crate spin_sdk_5 as spin_sdk;

#[cfg(feature = "spin4")]
mod spin4;
#[cfg(all(feature = "wasi-http-0-2", not(feature = "spin4")))]
mod wasi_http_0_2;

use login_broker_core::state::StoreError;

/// The key-value store the runtime config binds for the component.
const STORE_LABEL: &str = "default";

/// What `cell` holds, opened by `open` on first use: a request that needs no store does
/// not pay for opening it.
#[cfg(not(feature = "edge"))]
fn opened<T, E: std::fmt::Debug>(cell: &std::cell::OnceCell<T>, open: impl FnOnce() -> Result<T, E>) -> Result<&T, StoreError> {
    if let Some(value) = cell.get() {
        return Ok(value);
    }
    let value = open().map_err(unavailable)?;
    Ok(cell.get_or_init(|| value))
}

fn unavailable(error: impl std::fmt::Debug) -> StoreError {
    StoreError::Unavailable(format!("{error:?}"))
}
