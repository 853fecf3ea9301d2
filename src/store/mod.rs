//! The state layer: typed, expiring records over Spin's key-value store.
//!
//! Two levels, as in oauth2-proxy's sessions: [`KeyValue`] is the narrow byte store a
//! backend offers; [`StateStore`] adds records, keys, versioned envelopes and expiry on
//! top, written once for every backend. Spin's key-value store has no TTL, so each
//! record carries its expiry and every read enforces it.

mod envelope;
mod error;
mod keys;
#[cfg(test)]
mod memory;
mod records;
mod seal;
mod spin_kv;
mod sweep;

pub use error::StoreError;
pub use keys::SlotKind;
pub use records::{BrowserSession, Identity, LoginOutcome, LoginRequest, ProviderCache, ProviderHealth, SignIn};
pub use seal::{Sealer, StateKey};
pub use spin_kv::SpinKeyValue;
pub use sweep::sweep;

use crate::ids::{RequestId, SlotId};
use envelope::Record;

/// Seconds since the Unix epoch; passed in explicitly so expiry is testable.
pub type UnixTime = u64;

pub fn unix_now() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
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

/// Seals a record for the browser to carry in the cookie `cookie_name` (the name is
/// the associated data, so a value moved to another cookie does not open).
pub fn seal_for_browser<R: Record>(sealer: &Sealer, cookie_name: &str, record: &R) -> Result<String, StoreError> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealer.seal(cookie_name, &envelope::seal(record))?))
}

/// The record a browser's cookie carries, if it opens and has not expired.
pub fn open_from_browser<R: Record>(sealer: &Sealer, cookie_name: &str, value: &str, now: UnixTime) -> Option<R> {
    use base64::Engine;
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value).ok()?;
    envelope::open(&sealer.open(cookie_name, &sealed).ok()?, now).ok().flatten()
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

    /// One bounded step of reclaiming expired records (see [`sweep`]).
    pub async fn sweep(&self, now: UnixTime) -> Result<(), StoreError> {
        sweep(&self.kv, now).await
    }

    /// A fresh id for a record of `kind` expiring at `expires_at`: its slot in the
    /// expiry bucket, allocated from the bucket's counter, so the sweeper can find it.
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
        // `increment` is atomic in every Spin backend (compare-and-swap is not, on
        // Redis), so the claim goes to whoever moves the counter from 0 to 1.
        if self.kv.increment(&keys::identity_claim(&request.id), 1).await? != 1 {
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
    pub async fn count_wrong_code(&self, id: &RequestId) -> Result<u64, StoreError> {
        Ok(self.kv.increment(&keys::wrong_codes(id), 1).await?.max(0) as u64)
    }

    /// Records how the sign-in ended, unless the request is gone or already ended:
    /// a finished login is never overwritten. Returns whether it was recorded.
    pub async fn finish_login_request(&self, id: &RequestId, outcome: LoginOutcome, now: UnixTime) -> Result<bool, StoreError> {
        let Some(mut request) = self.load_login_request(id, now).await? else {
            return Ok(false);
        };
        if request.outcome != LoginOutcome::Pending {
            return Ok(false);
        }
        request.outcome = outcome;
        self.save_login_request(&request).await?;
        Ok(true)
    }

    pub async fn save_sign_in(&self, sign_in: &SignIn) -> Result<(), StoreError> {
        self.save(&keys::sign_in(&sign_in.state), sign_in).await
    }

    pub async fn load_sign_in(&self, state: &SlotId, now: UnixTime) -> Result<Option<SignIn>, StoreError> {
        let sign_in: Option<SignIn> = self.load(&keys::sign_in(state), now).await?;
        Ok(sign_in.filter(|sign_in| sign_in.state.matches(state)))
    }

    /// Consumes a sign-in: true for exactly one caller, even when two callbacks with
    /// the same state reach two instances at once (same `increment` claim as
    /// [`Self::take_identity`]). The record is deleted after a successful claim.
    pub async fn consume_sign_in(&self, state: &SlotId) -> Result<bool, StoreError> {
        if self.kv.increment(&keys::sign_in_claim(state), 1).await? != 1 {
            return Ok(false);
        }
        if let Err(error) = self.kv.delete(&keys::sign_in(state)).await {
            crate::log::warn("consumed_sign_in_not_deleted").detail(&error.to_string()).emit();
        }
        Ok(true)
    }

    pub async fn save_provider_cache(&self, issuer: &str, cache: &ProviderCache) -> Result<(), StoreError> {
        self.save(&keys::provider_cache(issuer), cache).await
    }

    pub async fn load_provider_cache(&self, issuer: &str, now: UnixTime) -> Result<Option<ProviderCache>, StoreError> {
        self.load(&keys::provider_cache(issuer), now).await
    }

    pub async fn save_provider_health(&self, issuer: &str, health: &ProviderHealth) -> Result<(), StoreError> {
        self.save(&keys::provider_health(issuer), health).await
    }

    pub async fn load_provider_health(&self, issuer: &str, now: UnixTime) -> Result<Option<ProviderHealth>, StoreError> {
        self.load(&keys::provider_health(issuer), now).await
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

#[cfg(test)]
mod tests {
    use super::memory::MemoryKeyValue;
    use super::*;
    use crate::ids::UserId;
    use futures::executor::block_on;

    const NOW: UnixTime = 1_800_000_000;

    fn test_store() -> StateStore<MemoryKeyValue> {
        StateStore::new(MemoryKeyValue::default(), Sealer::new(StateKey::from_bytes(&[9; 32]), vec![]))
    }

    /// An id in a slot of its own (tests that need the sweeper allocate for real).
    fn fresh_id() -> SlotId {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(1);
        SlotId::new(u32::try_from(sweep::bucket_of(NOW)).unwrap(), NEXT.fetch_add(1, Ordering::Relaxed)).unwrap()
    }

    fn pending_request(ttl: u64) -> LoginRequest {
        LoginRequest {
            id: fresh_id(),
            user_id: UserId::from_path_segment("alice").unwrap(),
            provider_id: None,
            force_authn: false,
            user_code: "BCDF-GHJK".into(),
            created_at: NOW,
            expires_at: NOW + ttl,
            outcome: LoginOutcome::Pending,
        }
    }

    fn finished(mut request: LoginRequest) -> LoginRequest {
        let identity: Identity = serde_json::from_value(serde_json::json!({"sub": "alice-sub", "email": "alice@example.com"})).unwrap();
        request.outcome = LoginOutcome::Authenticated { identity };
        request
    }

    #[test]
    fn a_saved_request_loads_back_until_it_expires() {
        block_on(async {
            let store = test_store();
            let request = pending_request(300);
            store.save_login_request(&request).await.unwrap();
            assert_eq!(store.load_login_request(&request.id, NOW + 299).await.unwrap(), Some(request.clone()));
            assert_eq!(store.load_login_request(&request.id, NOW + 300).await.unwrap(), None);
        });
    }

    #[test]
    fn an_unknown_request_loads_as_none() {
        block_on(async {
            let store = test_store();
            assert_eq!(store.load_login_request(&fresh_id(), NOW).await.unwrap(), None);
        });
    }

    #[test]
    fn keys_are_namespaced_and_versioned() {
        block_on(async {
            let store = test_store();
            let request = pending_request(300);
            store.save_login_request(&request).await.unwrap();
            assert_eq!(store.kv.keys(), vec![format!("lb:v1:req:{}:{}", request.id.bucket(), request.id.index())]);
        });
    }

    #[test]
    fn the_identity_is_taken_once_only() {
        block_on(async {
            let store = test_store();
            let request = finished(pending_request(300));
            store.save_login_request(&request).await.unwrap();
            // Both callers read the finished record before either took it.
            let first_read = store.load_login_request(&request.id, NOW).await.unwrap().unwrap();
            let second_read = store.load_login_request(&request.id, NOW).await.unwrap().unwrap();
            let first = store.take_identity(&first_read).await.unwrap();
            let second = store.take_identity(&second_read).await.unwrap();
            assert_eq!(first.unwrap().claim("sub"), Some("alice-sub"));
            assert_eq!(second, None);
            assert_eq!(store.load_login_request(&request.id, NOW).await.unwrap(), None);
        });
    }

    #[test]
    fn a_pending_request_has_no_identity_to_take() {
        block_on(async {
            let store = test_store();
            let request = pending_request(300);
            store.save_login_request(&request).await.unwrap();
            assert_eq!(store.take_identity(&request).await.unwrap(), None);
            assert!(store.load_login_request(&request.id, NOW).await.unwrap().is_some());
        });
    }

    fn sign_in(state: &SlotId) -> SignIn {
        SignIn {
            state: state.clone(),
            request_id: fresh_id(),
            provider_id: crate::ids::ProviderId::parse("oidc").unwrap(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            browser_binding_hash: "h".into(),
            started_at: NOW,
            expires_at: NOW + 60,
        }
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
    fn a_record_sealed_for_a_browser_opens_only_under_its_cookie_name_and_until_it_expires() {
        let sealer = Sealer::new(StateKey::from_bytes(&[9; 32]), vec![]);
        let session = BrowserSession { provider_id: crate::ids::ProviderId::parse("corp").unwrap(), id_token: None, expires_at: NOW + 60 };
        let value = seal_for_browser(&sealer, "lb_session", &session).unwrap();
        assert!(value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "cookie-safe: {value}");
        assert!(open_from_browser::<BrowserSession>(&sealer, "lb_session", &value, NOW).is_some());
        assert!(open_from_browser::<BrowserSession>(&sealer, "lb_signin", &value, NOW).is_none());
        assert!(open_from_browser::<BrowserSession>(&sealer, "lb_session", &value, NOW + 61).is_none());
        assert!(open_from_browser::<BrowserSession>(&sealer, "lb_session", "garbage!", NOW).is_none());
    }

    #[test]
    fn a_sign_in_is_consumed_once_only() {
        block_on(async {
            let store = test_store();
            let state = fresh_id();
            let saved = sign_in(&state);
            store.save_sign_in(&saved).await.unwrap();
            assert_eq!(store.load_sign_in(&state, NOW).await.unwrap(), Some(saved));
            assert!(store.consume_sign_in(&state).await.unwrap());
            assert!(!store.consume_sign_in(&state).await.unwrap());
            assert_eq!(store.load_sign_in(&state, NOW).await.unwrap(), None);
        });
    }

    #[test]
    fn a_finished_login_is_never_overwritten() {
        block_on(async {
            let store = test_store();
            let request = pending_request(300);
            store.save_login_request(&request).await.unwrap();
            let failed = LoginOutcome::Failed { error: "access_denied".into(), error_description: "no".into() };
            assert!(store.finish_login_request(&request.id, failed.clone(), NOW).await.unwrap());
            let authenticated = finished(request.clone()).outcome;
            assert!(!store.finish_login_request(&request.id, authenticated, NOW).await.unwrap());
            assert_eq!(store.load_login_request(&request.id, NOW).await.unwrap().unwrap().outcome, failed);
            assert!(!store.finish_login_request(&fresh_id(), failed, NOW).await.unwrap());
        });
    }

    #[test]
    fn an_id_with_the_right_slot_but_another_secret_finds_nothing() {
        block_on(async {
            let store = test_store();
            let request = pending_request(300);
            store.save_login_request(&request).await.unwrap();
            let forged = SlotId::new(request.id.bucket(), request.id.index()).unwrap();
            assert_eq!(store.load_login_request(&forged, NOW).await.unwrap(), None);
        });
    }

    /// Creates `count` records of each kind expiring at `expires_at`, at every stage a
    /// login can be abandoned in: pending, signing in, finished but never taken, taken.
    async fn abandon_logins(store: &StateStore<MemoryKeyValue>, count: usize, expires_at: UnixTime) {
        for n in 0..count {
            let mut request = pending_request(0);
            request.id = store.allocate(SlotKind::LoginRequest, expires_at).await.unwrap();
            request.expires_at = expires_at;
            if n % 4 >= 2 {
                request = finished(request);
            }
            store.save_login_request(&request).await.unwrap();
            if n % 4 == 3 {
                store.take_identity(&request).await.unwrap().unwrap();
            }
            if n % 2 == 1 {
                let mut sign_in = sign_in(&store.allocate(SlotKind::SignIn, expires_at).await.unwrap());
                sign_in.expires_at = expires_at;
                store.save_sign_in(&sign_in).await.unwrap();
                if n % 4 == 3 {
                    assert!(store.consume_sign_in(&sign_in.state).await.unwrap());
                }
            }
        }
    }

    /// Sweeps once a second from `from` to `to`, as steady traffic would.
    async fn sweep_through(store: &StateStore<MemoryKeyValue>, from: UnixTime, to: UnixTime) {
        for now in from..=to {
            store.sweep(now).await.unwrap();
        }
    }

    fn record_keys(store: &StateStore<MemoryKeyValue>) -> Vec<String> {
        store.kv.keys().into_iter().filter(|key| !key.starts_with("lb:v1:sweep:")).collect()
    }

    #[test]
    fn after_their_expiry_abandoned_records_are_swept_back_to_the_baseline() {
        block_on(async {
            let store = test_store();
            sweep_through(&store, NOW, NOW + 120).await;
            let baseline = store.kv.keys().len();

            abandon_logins(&store, 200, NOW + 150).await;
            // 150 requests (50 taken), 50 identity claims, 50 sign-ins (50 consumed), 50 sign-in claims.
            assert_eq!(record_keys(&store).len(), 300);
            // Nothing is reclaimed before it expires...
            sweep_through(&store, NOW + 121, NOW + 149).await;
            assert_eq!(record_keys(&store).len(), 300);
            // ...and everything is, soon after.
            sweep_through(&store, NOW + 150, NOW + 300).await;
            assert_eq!(record_keys(&store), Vec::<String>::new());
            assert_eq!(store.kv.keys().len(), baseline, "{:?}", store.kv.keys());
        });
    }

    #[test]
    fn one_sweep_step_does_bounded_work() {
        block_on(async {
            let store = test_store();
            store.sweep(NOW).await.unwrap();
            abandon_logins(&store, 200, NOW + 10).await;
            let before = record_keys(&store).len();
            store.sweep(NOW + 100).await.unwrap();
            let cleared = before - record_keys(&store).len();
            assert!(cleared > 0 && cleared <= 3 * 2 * 16, "cleared {cleared} keys in one step");
        });
    }

    #[test]
    fn a_store_that_does_not_answer_is_reported_unavailable() {
        block_on(async {
            let store = test_store();
            store.kv.set_down(true);
            assert!(matches!(ping(&store.kv).await, Err(StoreError::Unavailable(_))));
            assert!(matches!(store.save_login_request(&pending_request(300)).await, Err(StoreError::Unavailable(_))));
        });
    }

    #[test]
    fn a_foreign_value_under_our_key_is_reported_corrupt() {
        block_on(async {
            let store = test_store();
            let request = pending_request(300);
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
