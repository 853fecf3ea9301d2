//! Key names. Every key starts with a versioned prefix, so the broker can share a
//! Redis database and a future format can live beside this one.

use crate::ids::RequestId;

const PREFIX: &str = "lb:v1:";

pub const LIVENESS: &str = "lb:v1:liveness";

pub fn login_request(id: &RequestId) -> String {
    format!("{PREFIX}req:{}", id.as_str())
}

/// A counter key: only ever incremented or deleted.
pub fn identity_claim(id: &RequestId) -> String {
    format!("{PREFIX}claim:{}", id.as_str())
}
