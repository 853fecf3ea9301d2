//! Key names. Every key starts with a versioned prefix, so the broker can share a
//! Redis database and a future format can live beside this one.
//!
//! Records that expire live in *slots*: `<kind>:<bucket>:<index>`, where the bucket is
//! the record's expiry time divided by [`BUCKET_SECS`] and the index was allocated from
//! the bucket's counter. The sweeper enumerates a bucket's slots from that counter alone.

use crate::ids::SlotId;

const PREFIX: &str = "lb:v1:";

/// Width of an expiry bucket: records are reclaimed at most this long after they expire
/// (plus however long it takes for a request to come by and sweep).
pub const BUCKET_SECS: u64 = 10;

pub const LIVENESS: &str = "lb:v1:liveness";

/// A counter left at 0, read back to tell the backend (see `backend_kind`).
pub const BACKEND_PROBE: &str = "lb:v1:backend-probe";

/// The next bucket to sweep (a counter).
pub const SWEEP_CURSOR: &str = "lb:v1:sweep:cursor";

/// The kinds of slot-allocated records, each with its own counters per bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SlotKind {
    LoginRequest,
    SignIn,
}

impl SlotKind {
    pub const ALL: [SlotKind; 2] = [SlotKind::LoginRequest, SlotKind::SignIn];

    fn name(self) -> &'static str {
        match self {
            SlotKind::LoginRequest => "req",
            SlotKind::SignIn => "signin",
        }
    }

    /// Every key a record of this kind may own in a slot: the record, its claim
    /// counter, and its counter of wrong confirmation codes.
    pub fn keys(self, bucket: u64, index: u64) -> [String; 3] {
        let name = self.name();
        [
            format!("{PREFIX}{name}:{bucket}:{index}"),
            format!("{PREFIX}{name}-claim:{bucket}:{index}"),
            format!("{PREFIX}{name}-attempts:{bucket}:{index}"),
        ]
    }
}

fn slot_key(kind: SlotKind, id: &SlotId, which: usize) -> String {
    let mut keys = kind.keys(id.bucket().into(), id.index().into());
    std::mem::take(&mut keys[which])
}

pub fn login_request(id: &SlotId) -> String {
    slot_key(SlotKind::LoginRequest, id, 0)
}

/// A counter key: only ever incremented or deleted.
pub fn identity_claim(id: &SlotId) -> String {
    slot_key(SlotKind::LoginRequest, id, 1)
}

/// A counter key: only ever incremented or deleted.
pub fn wrong_codes(id: &SlotId) -> String {
    slot_key(SlotKind::LoginRequest, id, 2)
}

pub fn sign_in(state: &SlotId) -> String {
    slot_key(SlotKind::SignIn, state, 0)
}

/// A counter key: only ever incremented or deleted.
pub fn sign_in_claim(state: &SlotId) -> String {
    slot_key(SlotKind::SignIn, state, 1)
}

/// Counters of a bucket: slots allocated, slots claimed by sweepers (per kind), and
/// whether the bucket is finished, and the claim to start the sweep cursor there.
pub fn allocated(kind: SlotKind, bucket: u64) -> String {
    format!("{PREFIX}sweep:{bucket}:{}:allocated", kind.name())
}

pub fn swept(kind: SlotKind, bucket: u64) -> String {
    format!("{PREFIX}sweep:{bucket}:{}:swept", kind.name())
}

pub fn bucket_done(bucket: u64) -> String {
    format!("{PREFIX}sweep:{bucket}:done")
}

pub fn cursor_start(bucket: u64) -> String {
    format!("{PREFIX}sweep:{bucket}:start")
}

/// One cache entry per issuer; the issuer URL is hashed to keep the key short and plain.
pub fn provider_cache(issuer: &str) -> String {
    format!("{PREFIX}provider:{}", issuer_hash(issuer))
}

pub fn provider_health(issuer: &str) -> String {
    format!("{PREFIX}provider-health:{}", issuer_hash(issuer))
}

fn issuer_hash(issuer: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(issuer.as_bytes())[..12].iter().map(|byte| format!("{byte:02x}")).collect()
}
