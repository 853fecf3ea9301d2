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

pub fn sign_in(state: &str) -> String {
    format!("{PREFIX}signin:{state}")
}

/// A counter key: only ever incremented or deleted.
pub fn sign_in_claim(state: &str) -> String {
    format!("{PREFIX}signin-claim:{state}")
}

/// One cache entry per issuer; the issuer URL is hashed to keep the key short and plain.
pub fn provider_cache(issuer: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(issuer.as_bytes());
    let hex: String = digest[..12].iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{PREFIX}provider:{hex}")
}
