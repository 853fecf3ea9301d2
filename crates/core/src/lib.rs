//! login-broker's core: brokers browser logins for clients that cannot do one
//! themselves, in the model of Perforce's Helix Authentication Service (HAS). Plain
//! Rust over plain types, with no host in it: the Spin component (`src/` at the top of
//! the repository) fills the [`host::Host`] port and calls [`serve`].
//!
//! Layers, each importing only those below it (docs/architecture.md; `tests/layers.rs`
//! fails on an import that runs back up): `web` → `settings` → `login`, `validate` →
//! `protocol` → `host` → `state` → `base`.

// A Spin instance answers a request on one thread: the traits' futures need no `Send`.
#![allow(async_fn_in_trait)]

pub mod base;
pub mod host;
pub mod login;
pub mod protocol;
pub mod settings;
pub mod state;
pub mod validate;
pub mod web;

/// Answers one request on `host`.
pub async fn serve(host: &'static dyn host::Host, request: host::Incoming) -> web::response::Reply {
    host::install(host);
    web::handle(request).await
}
