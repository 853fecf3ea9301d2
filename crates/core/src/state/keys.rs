//! Key names. Every key starts with a versioned prefix, so the broker can share a
//! Redis database and a future format can live beside this one.
//!
//! A login owns keys only once something happened to it (a wrong code, a finish):
//! `login:<bucket>:<nonce>` and its counters, where the bucket is the login's expiry
//! time divided by [`BUCKET_SECS`]. Before its first key is written, the login is
//! entered in its bucket's *registry* (`reg:<bucket>:<index>`, the index allocated
//! from the bucket's counter), which is how the sweeper finds the keys to reclaim
//! without listing any.

use crate::base::ids::LoginId;

const PREFIX: &str = "lb:v2:";

/// Width of an expiry bucket: records are reclaimed at most this long after they expire
/// (plus however long it takes for a request to come by and sweep).
pub const BUCKET_SECS: u64 = 10;

pub const LIVENESS: &str = "lb:v2:liveness";

/// A counter left at 0, read back to tell the backend (see `backend_kind`).
pub const BACKEND_PROBE: &str = "lb:v2:backend-probe";

/// The next bucket to sweep (a counter).
pub const SWEEP_CURSOR: &str = "lb:v2:sweep:cursor";

pub fn bucket_of(id: &LoginId) -> u64 {
    id.expires_at() / BUCKET_SECS
}

/// The login's outcome record.
pub fn outcome(id: &LoginId) -> String {
    login_key(id, "")
}

/// The login's counter: the claim on finishing it and its confirmation attempts (see
/// `StateStore::count`).
pub fn counter(id: &LoginId) -> String {
    login_key(id, "-finish")
}

/// The claim on a finished login's identity (a counter).
pub fn identity_claim(id: &LoginId) -> String {
    login_key(id, "-claim")
}

/// The login request its short login link opens (see `handles::LinkToken`).
pub fn login_link(id: &LoginId) -> String {
    login_key(id, "-link")
}

/// Every key a login may own: what the sweeper deletes.
pub fn login_keys(id: &LoginId) -> [String; 4] {
    [outcome(id), counter(id), identity_claim(id), login_link(id)]
}

fn login_key(id: &LoginId, suffix: &str) -> String {
    format!("{PREFIX}login{suffix}:{}:{}", bucket_of(id), id.nonce())
}

/// One entry of a bucket's registry: the nonce of a login that owns keys.
pub fn registry(bucket: u64, index: u64) -> String {
    format!("{PREFIX}reg:{bucket}:{index}")
}

/// Counters of a bucket: registry entries allocated, entries claimed by sweepers, and
/// whether the bucket is finished, and the claim to start the sweep cursor there.
pub fn allocated(bucket: u64) -> String {
    format!("{PREFIX}sweep:{bucket}:allocated")
}

pub fn swept(bucket: u64) -> String {
    format!("{PREFIX}sweep:{bucket}:swept")
}

pub fn bucket_done(bucket: u64) -> String {
    format!("{PREFIX}sweep:{bucket}:done")
}

pub fn cursor_start(bucket: u64) -> String {
    format!("{PREFIX}sweep:{bucket}:start")
}

/// A cache entry a protocol keeps (provider metadata, health): `namespace` names
/// the kind, and `name` (an issuer URL, say) is hashed to keep the key short and plain.
/// Cache entries are not registered: there is one per name, overwritten in place.
pub fn cache(namespace: &str, name: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(name.as_bytes())[..12].iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{PREFIX}{namespace}:{hash}")
}
