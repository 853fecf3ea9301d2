//! How the store fails: it does not answer, or it holds something we cannot read.

use std::fmt;

#[derive(Debug)]
pub enum StoreError {
    /// The backend did not answer (Redis down, store not configured, …).
    Unavailable(String),
    /// A value exists but is not a record we can read.
    Corrupt { kind: &'static str, reason: String },
    /// As many logins own keys in this expiry bucket as the deployment allows.
    Full { limit: u64 },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(detail) => write!(f, "key-value store unavailable: {detail}"),
            StoreError::Corrupt { kind, reason } => write!(f, "stored {kind} record unreadable: {reason}"),
            StoreError::Full { limit } => write!(f, "{limit} logins already own keys in this expiry bucket"),
        }
    }
}
