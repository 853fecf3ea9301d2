//! The state layer: typed, expiring records over Spin's key-value store.
//!
//! Two levels, as in oauth2-proxy's sessions: [`KeyValue`] is the narrow byte store a
//! backend offers; [`StateStore`] adds records, keys, versioned envelopes and expiry on
//! top, written once for every backend. Spin's key-value store has no TTL, so each
//! record carries its expiry and every read enforces it.

pub mod envelope;
mod error;
pub(crate) mod keys;
pub mod memo;
mod memory;
pub use memory::MemoryKeyValue;
pub mod seal;
mod sweep;

pub use envelope::Record;
pub use error::StoreError;
pub use keys::BUCKET_SECS;
/// What the Spin 4 adapter's bounded probe reads before an unboundable `increment`.
pub use keys::LIVENESS as LIVENESS_KEY;
pub use seal::{Sealer, StateKey};
pub use sweep::sweep;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::base::ids::LoginId;

/// Registrations per bucket between two sweep steps (see `take_turn_at_sweeping`).
const SWEEP_EVERY: u64 = 4;

/// What claiming a login's end adds to its counter; each confirmation attempt adds
/// one. One counter for both, so that whichever comes first enters the login in its
/// bucket's registry, and nothing after it does.
pub(crate) const END_CLAIM: i64 = 1 << 32;

pub use crate::base::clock::{UnixTime, unix_now};

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

/// A record sealed for something other than the store to carry (a cookie, a handle), as
/// base64url text: `associated_data` names where it belongs, so that it opens nowhere else.
pub fn seal_record<R: Record>(sealer: &Sealer, associated_data: &str, record: &R) -> Result<String, StoreError> {
    Ok(URL_SAFE_NO_PAD.encode(sealer.seal(associated_data, &envelope::seal(record))?))
}

/// Shorter than any sealed record (header, tag and envelope).
const MIN_SEALED_BYTES: usize = 64;

/// Text that came back from outside where [`seal_record`]'s output went, decoded but
/// not yet opened.
pub struct SealedText(Vec<u8>);

impl SealedText {
    /// `None` when `text` cannot be a sealed record at all (malformed, not merely unknown).
    pub fn parse(text: &str) -> Option<Self> {
        URL_SAFE_NO_PAD.decode(text).ok().filter(|bytes| bytes.len() >= MIN_SEALED_BYTES).map(Self)
    }

    /// The record sealed under `associated_data`, if it opens and has not expired.
    pub fn open<R: Record>(&self, sealer: &Sealer, associated_data: &str, now: UnixTime) -> Option<R> {
        envelope::open(&sealer.open(associated_data, &self.0).ok()?, now).ok().flatten()
    }
}

/// Records, sealed, over a byte store.
pub struct StateStore<K> {
    kv: K,
    pub(crate) sealer: Sealer,
    /// Logins that may own keys per expiry bucket: what a flood can make the store hold.
    logins_per_bucket: u64,
}

impl<K: KeyValue> StateStore<K> {
    pub fn new(kv: K, sealer: Sealer) -> Self {
        Self { kv, sealer, logins_per_bucket: u64::MAX }
    }

    /// Refuses ([`StoreError::Full`]) to enter more than `limit` logins in one bucket.
    pub fn holding_at_most(self, limit: u64) -> Self {
        Self { logins_per_bucket: limit, ..self }
    }

    pub fn kv(&self) -> &K {
        &self.kv
    }

    /// One bounded step of reclaiming expired records (see [`sweep`]).
    pub async fn sweep(&self, now: UnixTime) -> Result<(), StoreError> {
        sweep(&self.kv, now).await
    }

    /// Sweeps where keys are made, so that reclamation keeps pace with them: at the
    /// first registration in each bucket and every [`SWEEP_EVERY`]th after. A failed
    /// sweep does not fail the request that happened to do it.
    async fn take_turn_at_sweeping(&self, index: u64, now: UnixTime) {
        if index % SWEEP_EVERY == 1
            && let Err(error) = self.sweep(now).await
        {
            crate::base::log::warn("sweep_failed").detail(&error.to_string()).emit();
        }
    }

    /// Claims the right to end the login, exactly once across instances: true for the
    /// first caller (a second tab's sign-in, a replayed answer, a finish after the
    /// client gave up find it taken). The winner then stores the outcome.
    pub async fn claim_finish(&self, id: &LoginId, now: UnixTime) -> Result<bool, StoreError> {
        Ok(self.count(id, END_CLAIM, now).await? / END_CLAIM == 1)
    }

    /// Adds `delta` to the login's counter; its new value. `increment` is atomic in
    /// every Spin backend (compare-and-swap is not, on Redis), so exactly one caller
    /// moves the counter from zero: that one enters the login in its bucket's registry
    /// (unless it was entered when it was made), and no replay, flood or later step of
    /// the same login enters it again. Past the bound the counter is deleted again
    /// (nothing of the login stays) and the caller refused.
    pub(crate) async fn count(&self, id: &LoginId, delta: i64, now: UnixTime) -> Result<i64, StoreError> {
        let counter = keys::counter(id);
        let value = self.kv.increment(&counter, delta).await?;
        if value == delta
            && !id.entered()
            && let Err(error) = self.register(id, now).await
        {
            self.kv.delete(&counter).await?;
            return Err(error);
        }
        Ok(value)
    }

    /// Enters `id` in its bucket's registry, so that the sweeper finds everything the
    /// login comes to own: its counter, written just before, and what follows it.
    pub(crate) async fn register(&self, id: &LoginId, now: UnixTime) -> Result<(), StoreError> {
        let bucket = keys::bucket_of(id);
        let index = self.kv.increment(&keys::allocated(bucket), 1).await?;
        let index =
            u64::try_from(index).map_err(|_| StoreError::Corrupt { kind: "counter", reason: "registry counter out of range".into() })?;
        // Past the limit nothing is written, and the count is given back, so that the
        // sweeper walks no further than the entries that exist.
        if index > self.logins_per_bucket {
            self.kv.increment(&keys::allocated(bucket), -1).await?;
            return Err(StoreError::Full { limit: self.logins_per_bucket });
        }
        self.kv.set(&keys::registry(bucket, index), id.nonce().as_bytes()).await?;
        self.take_turn_at_sweeping(index, now).await;
        Ok(())
    }

    /// True for one caller per `name` and minute, across instances: for work that must
    /// not be repeated more often, such as fetching a key set again on an unknown
    /// `kid`. The claim is kept as a login's finish claim is, under an id derived from
    /// `name` and the minute, and reclaimed as it is once the minute is over. Once the
    /// minute is claimed, asking again costs one read and writes nothing, so that a
    /// flood of askers cannot fill the store (or the bound on logins per window).
    pub async fn claim_minute(&self, name: &str, now: UnixTime) -> Result<bool, StoreError> {
        let minute = now / 60;
        let Some(slot) = claim_slot(&format!("lb:minute:{name}:{minute}"), (minute + 1) * 60) else {
            return Ok(false);
        };
        if read_counter(&self.kv, &keys::counter(&slot)).await?.is_some() {
            return Ok(false);
        }
        self.claim_finish(&slot, now).await
    }

    /// True for the first caller per `name` until `until`, across instances: for what
    /// may be accepted once, such as a SAML assertion's ID. Kept and reclaimed as a
    /// login's finish claim is, under an id derived from `name`, expiring at `until`.
    pub async fn claim_once(&self, name: &str, until: UnixTime, now: UnixTime) -> Result<bool, StoreError> {
        let Some(slot) = claim_slot(&format!("lb:once:{name}"), until) else {
            return Ok(false);
        };
        self.claim_finish(&slot, now).await
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
    pub(crate) async fn claim(&self, counter: &str) -> Result<bool, StoreError> {
        Ok(self.kv.increment(counter, 1).await? == 1)
    }

    pub(crate) async fn save<R: Record>(&self, key: &str, record: &R) -> Result<(), StoreError> {
        self.kv.set(key, &self.sealer.seal(key, &envelope::seal(record))?).await
    }

    pub(crate) async fn load<R: Record>(&self, key: &str, now: UnixTime) -> Result<Option<R>, StoreError> {
        match self.kv.get(key).await? {
            Some(sealed) => envelope::open(&self.sealer.open(key, &sealed)?, now),
            None => Ok(None),
        }
    }
}

/// The login-shaped slot a claim on `name` is kept under, expiring at `expires_at`.
fn claim_slot(name: &str, expires_at: UnixTime) -> Option<LoginId> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    LoginId::from_parts(&URL_SAFE_NO_PAD.encode(&digest[..16]), expires_at)
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
    use crate::login::conformance;
    use crate::login::records::{LoginOutcome, LoginRequest};
    use crate::protocol::Identity;
    use futures::executor::block_on;

    const NOW: UnixTime = 1_800_000_000;

    fn test_store() -> StateStore<MemoryKeyValue> {
        StateStore::new(MemoryKeyValue::default(), Sealer::new(StateKey::from_bytes(&[9; 32]), vec![]))
    }

    fn authenticated() -> LoginOutcome {
        LoginOutcome::Authenticated { identity: Identity::from_claims(serde_json::Map::new()) }
    }

    #[test]
    fn the_in_process_double_passes_the_conformance_suite() {
        let outcomes = block_on(conformance::run(MemoryKeyValue::default(), NOW));
        let failures: Vec<String> = outcomes.iter().filter_map(|o| o.failure.as_ref().map(|f| format!("{}: {f}", o.check))).collect();
        assert!(outcomes.len() >= 10 && failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn a_name_is_claimed_once_until_its_claim_expires_and_is_swept_with_its_bucket() {
        block_on(async {
            let store = test_store();
            assert!(store.claim_once("saml-assertion:idp:_a1", NOW + 300, NOW).await.unwrap());
            assert!(!store.claim_once("saml-assertion:idp:_a1", NOW + 300, NOW + 1).await.unwrap(), "not twice");
            assert!(store.claim_once("saml-assertion:idp:_a2", NOW + 300, NOW).await.unwrap(), "another name is its own");
            let claimed = store.kv.keys().into_iter().filter(|key| key.contains(":login")).count();
            // Once the claim's bucket has expired, a sweep clears it like a login's keys.
            for step in 0..40 {
                store.sweep(NOW + 400 + step).await.unwrap();
            }
            let left: Vec<String> = store.kv.keys().into_iter().filter(|key| key.contains(":login")).collect();
            assert!(left.is_empty() && claimed > 0, "{left:?}");
        });
    }

    #[test]
    fn a_login_owns_keys_only_once_it_ends_and_is_registered_first() {
        block_on(async {
            let store = test_store();
            let id = conformance::login(NOW + 300).unwrap();
            assert!(store.load_outcome(&id, NOW).await.unwrap().is_none());
            assert!(store.kv.keys().is_empty(), "reading a pending login writes nothing");
            assert!(store.claim_finish(&id, NOW).await.unwrap());
            store.save_outcome(&id, authenticated()).await.unwrap();
            let bucket = (NOW + 300) / keys::BUCKET_SECS;
            let mut expected = vec![
                format!("lb:v2:login-finish:{bucket}:{}", id.nonce()),
                format!("lb:v2:login:{bucket}:{}", id.nonce()),
                format!("lb:v2:reg:{bucket}:1"),
                format!("lb:v2:sweep:{bucket}:allocated"),
            ];
            expected.sort();
            let login_keys: Vec<String> =
                store.kv.keys().into_iter().filter(|key| !key.starts_with("lb:v2:sweep:cursor") && !key.ends_with(":start")).collect();
            assert_eq!(login_keys, expected, "and the first registration started the sweep");
            assert_eq!(store.kv.get(&keys::registry(bucket, 1)).await.unwrap().as_deref(), Some(id.nonce().as_bytes()));
        });
    }

    #[test]
    fn past_its_limit_a_bucket_takes_no_more_logins_and_keeps_its_count() {
        block_on(async {
            let store = test_store().holding_at_most(2);
            for _ in 0..2 {
                assert!(store.claim_finish(&conformance::login(NOW + 300).unwrap(), NOW).await.unwrap());
            }
            let refused = conformance::login(NOW + 300).unwrap();
            assert!(matches!(store.claim_finish(&refused, NOW).await, Err(StoreError::Full { limit: 2 })));
            assert!(matches!(store.count_code_attempt(&refused, NOW).await, Err(StoreError::Full { limit: 2 })));
            let bucket = (NOW + 300) / keys::BUCKET_SECS;
            assert_eq!(read_counter(&store.kv, &keys::allocated(bucket)).await.unwrap(), Some(2), "the sweeper walks two entries");
            assert!(!store.kv.keys().iter().any(|key| key.contains(refused.nonce())), "nothing written for the refused login");
            let later = conformance::login(NOW + 310).unwrap();
            assert!(store.claim_finish(&later, NOW).await.unwrap(), "the next bucket takes logins again");
        });
    }

    #[test]
    fn a_login_is_entered_once_whatever_happens_to_it() {
        block_on(async {
            let store = test_store();
            let id = conformance::login(NOW + 300).unwrap();
            let bucket = (NOW + 300) / keys::BUCKET_SECS;
            for attempt in 1..=3 {
                assert_eq!(store.count_code_attempt(&id, NOW).await.unwrap(), attempt);
            }
            assert!(store.claim_finish(&id, NOW).await.unwrap(), "attempts do not take the end");
            assert!(!store.claim_finish(&id, NOW).await.unwrap(), "the end is taken once");
            assert_eq!(store.count_code_attempt(&id, NOW).await.unwrap(), 4, "the end does not count as an attempt");
            assert_eq!(read_counter(&store.kv, &keys::allocated(bucket)).await.unwrap(), Some(1), "one registry entry");

            let ended_first = conformance::login(NOW + 300).unwrap();
            assert!(store.claim_finish(&ended_first, NOW).await.unwrap());
            assert_eq!(store.count_code_attempt(&ended_first, NOW).await.unwrap(), 1);
            assert_eq!(read_counter(&store.kv, &keys::allocated(bucket)).await.unwrap(), Some(2));
        });
    }

    #[test]
    fn a_minute_is_claimed_once_per_name() {
        block_on(async {
            let store = test_store();
            let minute_start = NOW - NOW % 60;
            assert!(store.claim_minute("jwks a", minute_start).await.unwrap());
            let keys_before = store.kv.keys();
            assert!(!store.claim_minute("jwks a", minute_start + 59).await.unwrap(), "once in that minute");
            assert_eq!(store.kv.keys(), keys_before, "asking again writes nothing");
            assert!(store.claim_minute("jwks b", minute_start + 1).await.unwrap(), "per name");
            assert!(store.claim_minute("jwks a", minute_start + 60).await.unwrap(), "and again the next minute");
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
        let request = LoginRequest::example(NOW);
        let sealed = SealedText::parse(&seal_record(&sealer, "lb_session", &request).unwrap()).unwrap();
        assert_eq!(sealed.open::<LoginRequest>(&sealer, "lb_session", NOW), Some(request));
        assert!(sealed.open::<LoginRequest>(&sealer, "lb_signin", NOW).is_none());
        assert!(sealed.open::<LoginRequest>(&sealer, "lb_session", NOW + 300).is_none());
        for malformed in ["", "garbage!", &"A".repeat(40)] {
            assert!(SealedText::parse(malformed).is_none(), "{malformed:?}");
        }
        assert!(SealedText::parse(&"A".repeat(120)).unwrap().open::<LoginRequest>(&sealer, "lb_session", NOW).is_none());
    }

    #[test]
    fn one_sweep_step_does_bounded_work() {
        block_on(async {
            let store = test_store();
            store.sweep(NOW).await.unwrap();
            for _ in 0..200 {
                let id = conformance::login(NOW + 10).unwrap();
                assert!(store.claim_finish(&id, NOW).await.unwrap());
                store.save_outcome(&id, authenticated()).await.unwrap();
            }
            let records = |store: &StateStore<MemoryKeyValue>| store.kv.keys().iter().filter(|key| key.starts_with("lb:v2:login:")).count();
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
            let id = conformance::login(NOW + 300).unwrap();
            assert!(matches!(store.save_outcome(&id, authenticated()).await, Err(StoreError::Unavailable(_))));
        });
    }

    #[test]
    fn a_foreign_value_under_our_key_is_reported_corrupt() {
        block_on(async {
            let store = test_store();
            let id = conformance::login(NOW + 300).unwrap();
            store.kv.set(&keys::outcome(&id), b"not sealed").await.unwrap();
            let error = store.load_outcome(&id, NOW).await.unwrap_err();
            assert!(matches!(error, StoreError::Corrupt { kind: "sealed value", .. }));
            let sealed_garbage = store.sealer.seal(&keys::outcome(&id), b"not json").unwrap();
            store.kv.set(&keys::outcome(&id), &sealed_garbage).await.unwrap();
            let error = store.load_outcome(&id, NOW).await.unwrap_err();
            assert!(matches!(error, StoreError::Corrupt { kind: "finished_login", .. }));
        });
    }
}
