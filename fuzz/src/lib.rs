//! The broker's parsers of outside input, compiled natively from the product's own
//! source files: the component itself builds for wasm32-wasip2 only.

#[path = "../../src/ids.rs"]
pub mod ids;
#[path = "../../src/parse.rs"]
pub mod parse;
#[path = "../../src/secret.rs"]
pub mod secret;
pub mod store;
