//! The store's pure parts: its error type, envelopes and sealing.

#[path = "../../src/store/envelope.rs"]
pub mod envelope;
#[path = "../../src/store/error.rs"]
mod error;
#[path = "../../src/store/seal.rs"]
pub mod seal;

pub use envelope::Record;
pub use error::StoreError;
pub type UnixTime = u64;
