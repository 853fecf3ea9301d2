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

    /// What follows the kind's name in each key a record of this kind may own in its
    /// slot, the record's own first; the others are counters, only ever incremented
    /// or deleted.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            SlotKind::LoginRequest => &[RECORD, IDENTITY_CLAIM, WRONG_CODES, FINISH_CLAIM],
            SlotKind::SignIn => &[RECORD, SIGN_IN_CLAIM],
        }
    }

    /// Every key a record of this kind may own in a slot: what the sweeper deletes.
    pub fn keys(self, bucket: u64, index: u64) -> Vec<String> {
        self.suffixes().iter().map(|suffix| slot_key(self, suffix, bucket, index)).collect()
    }
}

const RECORD: &str = "";
/// The claim on a finished login's identity.
const IDENTITY_CLAIM: &str = "-claim";
/// The login's wrong confirmation codes.
const WRONG_CODES: &str = "-attempts";
/// The claim on finishing the login.
const FINISH_CLAIM: &str = "-finish";
/// The claim on consuming a sign-in.
const SIGN_IN_CLAIM: &str = "-claim";

fn slot_key(kind: SlotKind, suffix: &str, bucket: u64, index: u64) -> String {
    format!("{PREFIX}{}{suffix}:{bucket}:{index}", kind.name())
}

fn key_of(kind: SlotKind, suffix: &str, slot: &SlotId) -> String {
    slot_key(kind, suffix, slot.bucket().into(), slot.index().into())
}

pub fn login_request(id: &RequestId) -> String {
    key_of(SlotKind::LoginRequest, RECORD, id.slot())
}

pub fn identity_claim(id: &RequestId) -> String {
    key_of(SlotKind::LoginRequest, IDENTITY_CLAIM, id.slot())
}

pub fn wrong_codes(id: &RequestId) -> String {
    key_of(SlotKind::LoginRequest, WRONG_CODES, id.slot())
}

pub fn finish_claim(id: &RequestId) -> String {
    key_of(SlotKind::LoginRequest, FINISH_CLAIM, id.slot())
}

pub fn sign_in(state: &SignInState) -> String {
    key_of(SlotKind::SignIn, RECORD, state.slot())
}

pub fn sign_in_claim(state: &SignInState) -> String {
    key_of(SlotKind::SignIn, SIGN_IN_CLAIM, state.slot())
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
