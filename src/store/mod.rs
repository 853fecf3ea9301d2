//! The state layer: typed, expiring records over Spin's key-value store.
//!
//! Two levels, as in oauth2-proxy's sessions: [`KeyValue`] is the narrow byte store a
//! backend offers; [`StateStore`] adds records, keys, versioned envelopes and expiry on
//! top, written once for every backend. Spin's key-value store has no TTL, so each
//! record carries its expiry and every read enforces it.

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod envelope;
mod error;
mod keys;
#[cfg(test)]
mod memory;
#[cfg(test)]
pub use memory::MemoryKeyValue;
mod records;
mod seal;
mod spin_kv;
mod sweep;

pub use envelope::Record;
pub use error::StoreError;
pub use keys::SlotKind;
pub use records::{Identity, LoginOutcome, LoginRequest};
pub use seal::{Sealer, StateKey};
pub use spin_kv::SpinKeyValue;
pub use sweep::sweep;

use crate::ids::{RequestId, SignInState, SlotId};

/// Seconds since the Unix epoch; passed in explicitly so expiry is testable.
pub type UnixTime = u64;

pub fn unix_now() -> UnixTime {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// What every backend must offer, and nothing more.
///
/// Deliberately absent: compare-and-swap and get-many, which are broken in
/// Spin 4.0.2's Redis backend, and listing keys, which scans the whole database.
pub trait KeyValue {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Atomically adds `delta` and returns the new value. Counter keys are touched
    /// by `increment` and `delete` only: Spin's SQLite store panics on a counter
    /// that was written with `set`.
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError>;
}

/// One cheap round trip, to tell whether the store answers.
pub async fn ping(kv: &impl KeyValue) -> Result<(), StoreError> {
    kv.get(keys::LIVENESS).await.map(drop)
}

/// Which Spin backend the runtime config bound, as far as the component can tell:
/// Spin's Redis backend stores counters as decimal text, its in-memory and SQLite
/// stores as 8 little-endian bytes.
pub async fn backend_kind(kv: &impl KeyValue) -> Result<&'static str, StoreError> {
    kv.increment(keys::BACKEND_PROBE, 0).await?;
    Ok(match kv.get(keys::BACKEND_PROBE).await?.as_deref() {
        Some(b"0") => "redis",
        Some([0, 0, 0, 0, 0, 0, 0, 0]) => "spin (in-memory or SQLite)",
        _ => "unknown",
    })
}

/// A counter read with `get`, which can be bounded in time (`increment` cannot, see
/// `spin_kv`): `None` when it does not exist. Spin's Redis store keeps counters as
/// decimal text, its in-memory and SQLite stores as 8 little-endian bytes; 8 ASCII
/// digits read as little-endian would be above 3·10¹⁸, which no counter of ours
/// reaches, so the two cannot be confused.
pub async fn read_counter(kv: &impl KeyValue, key: &str) -> Result<Option<i64>, StoreError> {
    let Some(bytes) = kv.get(key).await? else { return Ok(None) };
    let decimal = std::str::from_utf8(&bytes).ok().filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'-'));
    let value = match (decimal, <[u8; 8]>::try_from(bytes.as_slice())) {
        (Some(text), _) => text.parse().ok(),
        (None, Ok(little_endian)) => Some(i64::from_le_bytes(little_endian)),
        (None, Err(_)) => None,
    };
    value.map(Some).ok_or_else(|| StoreError::Corrupt { kind: "counter", reason: "neither decimal text nor 8 bytes".into() })
}

/// A record sealed for something other than the store to carry (a cookie, say):
/// `associated_data` names where it belongs, so that it opens nowhere else.
pub fn seal_record<R: Record>(sealer: &Sealer, associated_data: &str, record: &R) -> Result<Vec<u8>, StoreError> {
    sealer.seal(associated_data, &envelope::seal(record))
}

/// The record [`seal_record`] sealed under `associated_data`, if it opens and has not expired.
pub fn open_record<R: Record>(sealer: &Sealer, associated_data: &str, sealed: &[u8], now: UnixTime) -> Option<R> {
    envelope::open(&sealer.open(associated_data, sealed).ok()?, now).ok().flatten()
}

/// Records, sealed, over a byte store.
pub struct StateStore<K> {
    kv: K,
    sealer: Sealer,
}

impl<K: KeyValue> StateStore<K> {
    pub fn new(kv: K, sealer: Sealer) -> Self {
        Self { kv, sealer }
    }

    pub fn kv(&self) -> &K {
        &self.kv
    }

    /// One bounded step of reclaiming expired records (see [`sweep`]).
    pub async fn sweep(&self, now: UnixTime) -> Result<(), StoreError> {
        sweep(&self.kv, now).await
    }

    /// A fresh slot for a record of `kind` expiring at `expires_at`: in the expiry
    /// bucket, allocated from the bucket's counter, so the sweeper can find it.
    pub async fn allocate(&self, kind: SlotKind, expires_at: UnixTime) -> Result<SlotId, StoreError> {
        let bucket = sweep::bucket_of(expires_at);
        let index = self.kv.increment(&keys::allocated(kind, bucket), 1).await?;
        let (Ok(bucket), Ok(index)) = (u32::try_from(bucket), u32::try_from(index)) else {
            return Err(StoreError::Corrupt { kind: "counter", reason: "slot counter out of range".into() });
        };
        SlotId::new(bucket, index).map_err(|_| StoreError::Unavailable("the system has no randomness".into()))
    }

    pub async fn save_login_request(&self, request: &LoginRequest) -> Result<(), StoreError> {
        self.save(&keys::login_request(&request.id), request).await
    }

    /// The request whose id is exactly `id`: its slot may be known to anyone, its
    /// random part is checked here.
    pub async fn load_login_request(&self, id: &RequestId, now: UnixTime) -> Result<Option<LoginRequest>, StoreError> {
        let request: Option<LoginRequest> = self.load(&keys::login_request(id), now).await?;
        Ok(request.filter(|request| request.id.matches(id)))
    }

    /// Hands out a finished login's identity exactly once, however many status
    /// calls (on however many instances) read the finished record at the same time.
    pub async fn take_identity(&self, request: &LoginRequest) -> Result<Option<Identity>, StoreError> {
        let LoginOutcome::Authenticated { identity } = &request.outcome else {
            return Ok(None);
        };
        if !self.claim(&keys::identity_claim(&request.id)).await? {
            return Ok(None);
        }
        // The counter stays: deleting it would let a caller that read the finished
        // record just before this delete win a second claim. A failed delete is
        // harmless for the same reason, so the identity is handed out regardless.
        if let Err(error) = self.kv.delete(&keys::login_request(&request.id)).await {
            crate::log::warn("claimed_record_not_deleted").detail(&error.to_string()).emit();
        }
        Ok(Some(identity.clone()))
    }

    /// Counts one more wrong confirmation code for `id`; returns how many so far.
    /// Counted before the code is compared, so concurrent guesses cannot pass the limit.
    pub async fn count_wrong_code(&self, id: &RequestId) -> Result<u64, StoreError> {
        Ok(self.kv.increment(&keys::wrong_codes(id), 1).await?.max(0) as u64)
    }

    /// Records how the login ended, exactly once across instances: the first finisher
    /// claims the request, later ones (a second tab's sign-in, a finish after the
    /// client took the identity) find it claimed or gone and change nothing. Returns
    /// whether this call recorded the outcome.
    pub async fn finish_login_request(&self, id: &RequestId, outcome: LoginOutcome, now: UnixTime) -> Result<bool, StoreError> {
        let Some(mut request) = self.load_login_request(id, now).await? else {
            return Ok(false);
        };
        if request.outcome != LoginOutcome::Pending || !self.claim(&keys::finish_claim(id)).await? {
            return Ok(false);
        }
        request.outcome = outcome;
        self.save_login_request(&request).await?;
        Ok(true)
    }

    pub async fn save_sign_in<R: Record>(&self, state: &SignInState, sign_in: &R) -> Result<(), StoreError> {
        self.save(&keys::sign_in(state), sign_in).await
    }

    /// The sign-in record in `state`'s slot; its owner checks that the record's state
    /// is exactly `state` (the slot may be known to anyone).
    pub async fn load_sign_in<R: Record>(&self, state: &SignInState, now: UnixTime) -> Result<Option<R>, StoreError> {
        self.load(&keys::sign_in(state), now).await
    }

    /// Consumes a sign-in: true for exactly one caller, even when two callbacks with
    /// the same state reach two instances at once. The record is deleted after a
    /// successful claim.
    pub async fn consume_sign_in(&self, state: &SignInState) -> Result<bool, StoreError> {
        if !self.claim(&keys::sign_in_claim(state)).await? {
            return Ok(false);
        }
        if let Err(error) = self.kv.delete(&keys::sign_in(state)).await {
            crate::log::warn("consumed_sign_in_not_deleted").detail(&error.to_string()).emit();
        }
        Ok(true)
    }

    /// A protocol's cache entry, under a key from [`cache_key`].
    pub async fn save_cached<R: Record>(&self, key: &CacheKey, record: &R) -> Result<(), StoreError> {
        self.save(&key.0, record).await
    }

    pub async fn load_cached<R: Record>(&self, key: &CacheKey, now: UnixTime) -> Result<Option<R>, StoreError> {
        self.load(&key.0, now).await
    }

    /// True for exactly one caller per `counter`: `increment` is atomic in every Spin
    /// backend (compare-and-swap is not, on Redis), so the claim goes to whoever moves
    /// the counter from 0 to 1.
    async fn claim(&self, counter: &str) -> Result<bool, StoreError> {
        Ok(self.kv.increment(counter, 1).await? == 1)
    }

    async fn save<R: Record>(&self, key: &str, record: &R) -> Result<(), StoreError> {
        self.kv.set(key, &self.sealer.seal(key, &envelope::seal(record))?).await
    }

    async fn load<R: Record>(&self, key: &str, now: UnixTime) -> Result<Option<R>, StoreError> {
        match self.kv.get(key).await? {
            Some(sealed) => envelope::open(&self.sealer.open(key, &sealed)?, now),
            None => Ok(None),
        }
    }
}

/// Where a protocol keeps one cache entry (see [`keys::cache`]).
pub struct CacheKey(String);

pub fn cache_key(namespace: &str, name: &str) -> CacheKey {
    CacheKey(keys::cache(namespace, name))
}

#[cfg(test)]
mod tests {
    use super::memory::MemoryKeyValue;
    use super::*;
    use crate::ids::UserId;
    use crate::secret::Secret;
    use futures::executor::block_on;

    const NOW: UnixTime = 1_800_000_000;

    fn test_store() -> StateStore<MemoryKeyValue> {
        StateStore::new(MemoryKeyValue::default(), Sealer::new(StateKey::from_bytes(&[9; 32]), vec![]))
    }

    #[test]
    fn the_in_process_double_passes_the_conformance_suite() {
        let outcomes = block_on(conformance::run(MemoryKeyValue::default(), NOW));
        let failures: Vec<String> = outcomes.iter().filter_map(|o| o.failure.as_ref().map(|f| format!("{}: {f}", o.check))).collect();
        assert!(outcomes.len() >= 10 && failures.is_empty(), "{failures:#?}");
    }

    fn pending_request(id: RequestId) -> LoginRequest {
        LoginRequest {
            id,
            user_id: UserId::from_path_segment("alice").unwrap(),
            provider_id: None,
            force_authn: false,
            user_code: Secret::new("BCDF-GHJK".into()),
            created_at: NOW,
            expires_at: NOW + 300,
            outcome: LoginOutcome::Pending,
        }
    }

    #[test]
    fn keys_are_namespaced_and_versioned() {
        block_on(async {
            let store = test_store();
            let request = pending_request(RequestId::from_slot(SlotId::new(7, 9).unwrap()));
            store.save_login_request(&request).await.unwrap();
            assert_eq!(store.kv.keys(), vec!["lb:v1:req:7:9".to_owned()]);
        });
    }

    #[test]
    fn the_backend_is_told_by_how_it_keeps_counters() {
        block_on(async {
            // The double keeps counters as Spin's in-memory store does: 8 little-endian bytes.
            let kv = MemoryKeyValue::default();
            assert_eq!(backend_kind(&kv).await.unwrap(), "spin (in-memory or SQLite)");
            assert_eq!(backend_kind(&kv).await.unwrap(), "spin (in-memory or SQLite)", "the probe stays at 0");
        });
    }

    #[test]
    fn a_record_sealed_for_elsewhere_opens_only_there_and_until_it_expires() {
        let sealer = Sealer::new(StateKey::from_bytes(&[9; 32]), vec![]);
        let request = pending_request(RequestId::from_slot(SlotId::new(7, 9).unwrap()));
        let sealed = seal_record(&sealer, "lb_session", &request).unwrap();
        assert_eq!(open_record::<LoginRequest>(&sealer, "lb_session", &sealed, NOW), Some(request));
        assert!(open_record::<LoginRequest>(&sealer, "lb_signin", &sealed, NOW).is_none());
        assert!(open_record::<LoginRequest>(&sealer, "lb_session", &sealed, NOW + 300).is_none());
        assert!(open_record::<LoginRequest>(&sealer, "lb_session", b"garbage", NOW).is_none());
    }

    #[test]
    fn one_sweep_step_does_bounded_work() {
        block_on(async {
            let store = test_store();
            store.sweep(NOW).await.unwrap();
            for _ in 0..200 {
                let id = RequestId::from_slot(store.allocate(SlotKind::LoginRequest, NOW + 10).await.unwrap());
                let mut request = pending_request(id);
                request.expires_at = NOW + 10;
                store.save_login_request(&request).await.unwrap();
            }
            let records = |store: &StateStore<MemoryKeyValue>| store.kv.keys().iter().filter(|key| key.starts_with("lb:v1:req:")).count();
            let before = records(&store);
            store.sweep(NOW + 100).await.unwrap();
            let cleared = before - records(&store);
            assert!(cleared > 0 && cleared <= 16, "cleared {cleared} records in one step");
        });
    }

    #[test]
    fn a_store_that_does_not_answer_is_reported_unavailable() {
        block_on(async {
            let store = test_store();
            store.kv.set_down(true);
            assert!(matches!(ping(&store.kv).await, Err(StoreError::Unavailable(_))));
            let request = pending_request(RequestId::from_slot(SlotId::new(7, 9).unwrap()));
            assert!(matches!(store.save_login_request(&request).await, Err(StoreError::Unavailable(_))));
        });
    }

    #[test]
    fn a_foreign_value_under_our_key_is_reported_corrupt() {
        block_on(async {
            let store = test_store();
            let request = pending_request(RequestId::from_slot(SlotId::new(7, 9).unwrap()));
            store.kv.set(&keys::login_request(&request.id), b"not sealed").await.unwrap();
            let error = store.load_login_request(&request.id, NOW).await.unwrap_err();
            assert!(matches!(error, StoreError::Corrupt { kind: "sealed value", .. }));
            let sealed_garbage = store.sealer.seal(&keys::login_request(&request.id), b"not json").unwrap();
            store.kv.set(&keys::login_request(&request.id), &sealed_garbage).await.unwrap();
            let error = store.load_login_request(&request.id, NOW).await.unwrap_err();
            assert!(matches!(error, StoreError::Corrupt { kind: "login_request", .. }));
        });
    }
}
