//! The host adapter: everything that differs between the two builds, behind one small
//! surface (the incoming request, outbound HTTP, the key-value store, variables,
//! timers). The rest of the broker is the same code in both.
//!
//! - `spin4` (the default feature): spin-sdk 6, `wasi:http@0.3.0-rc-2026-03-15`, for
//!   Spin 4.0.x. Key-value calls are asynchronous and bounded by timers.
//! - `wasi-http-0-2`: spin-sdk 5, `wasi:http` 0.2, for Spin 2.x/3.x hosts (SpinKube's
//!   shim, managed platforms) and Spin 4 too. Key-value calls are synchronous there and
//!   cannot be bounded: a store that stops answering holds the request until Spin's own
//!   Redis client gives up.

#[cfg(all(feature = "spin4", feature = "wasi-http-0-2"))]
compile_error!("choose one host: the features `spin4` and `wasi-http-0-2` exclude each other");
#[cfg(not(any(feature = "spin4", feature = "wasi-http-0-2")))]
compile_error!("choose a host: the feature `spin4` (the default) or `wasi-http-0-2`");

use crate::store::StoreError;

#[cfg(feature = "spin4")]
mod spin4;
#[cfg(feature = "spin4")]
pub use spin4::{Incoming, SpinKeyValue, fetch, sleep, variable};

#[cfg(all(feature = "wasi-http-0-2", not(feature = "spin4")))]
mod wasi_http_0_2;
#[cfg(all(feature = "wasi-http-0-2", not(feature = "spin4")))]
pub use wasi_http_0_2::{Incoming, SpinKeyValue, fetch, sleep, variable};

/// The key-value store the runtime config binds for the component.
const STORE_LABEL: &str = "default";

/// What `cell` holds, opened by `open` on first use: a request that needs no store does
/// not pay for opening it.
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

/// Why an outbound request brought no answer back.
#[derive(Debug)]
pub enum FetchError {
    /// It could not be sent, or no answer came (Spin's error, as text).
    Failed(String),
    /// The answer's body is longer than the limit.
    TooLarge,
    /// The answer's body could not be read.
    Unreadable(String),
}
