//! Key names. Every key starts with a versioned prefix, so the broker can share a
//! Redis database and a future format can live beside this one.
//!
//! Records that expire live in *slots*: `<kind>:<bucket>:<index>`, where the bucket is
//! the record's expiry time divided by [`BUCKET_SECS`] and the index was allocated from
//! the bucket's counter. The sweeper enumerates a bucket's slots from that counter alone.

use crate::ids::{RequestId, SignInState, SlotId};

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

    /// Every key a record of this kind may own in a slot, the record first; the
    /// others are counters, only ever incremented or deleted.
    pub fn keys(self, bucket: u64, index: u64) -> Vec<String> {
        let name = self.name();
        let owned: &[&str] = match self {
            // The record, the claim on its identity, its wrong confirmation codes, and
            // the claim on finishing it.
            SlotKind::LoginRequest => &["", "-claim", "-attempts", "-finish"],
            // The record and the claim on consuming it.
            SlotKind::SignIn => &["", "-claim"],
        };
        owned.iter().map(|suffix| format!("{PREFIX}{name}{suffix}:{bucket}:{index}")).collect()
    }
}

fn slot_key(kind: SlotKind, slot: &SlotId, which: usize) -> String {
    let mut keys = kind.keys(slot.bucket().into(), slot.index().into());
    keys.swap_remove(which)
}

pub fn login_request(id: &RequestId) -> String {
    slot_key(SlotKind::LoginRequest, id.slot(), 0)
}

pub fn identity_claim(id: &RequestId) -> String {
    slot_key(SlotKind::LoginRequest, id.slot(), 1)
}

pub fn wrong_codes(id: &RequestId) -> String {
    slot_key(SlotKind::LoginRequest, id.slot(), 2)
}

pub fn finish_claim(id: &RequestId) -> String {
    slot_key(SlotKind::LoginRequest, id.slot(), 3)
}

pub fn sign_in(state: &SignInState) -> String {
    slot_key(SlotKind::SignIn, state.slot(), 0)
}

pub fn sign_in_claim(state: &SignInState) -> String {
    slot_key(SlotKind::SignIn, state.slot(), 1)
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

/// A cache entry a protocol keeps (provider metadata, health): `namespace` names
/// the kind, and `name` (an issuer URL, say) is hashed to keep the key short and plain.
/// Cache entries are not slot-allocated: there is one per name, overwritten in place.
pub fn cache(namespace: &str, name: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(name.as_bytes())[..12].iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{PREFIX}{namespace}:{hash}")
}
