//! The state layer: typed, expiring records over Spin's key-value store.
//!
//! Two levels, as in oauth2-proxy's sessions: [`KeyValue`] is the narrow byte store a
//! backend offers; [`StateStore`] adds records, keys, versioned envelopes and expiry on
//! top, written once for every backend. Spin's key-value store has no TTL, so each
//! record carries its expiry and every read enforces it.

mod envelope;
mod keys;
#[cfg(test)]
mod memory;
mod records;
mod spin_kv;

use std::fmt;

pub use records::{Identity, LoginOutcome, LoginRequest, ProviderCache, SignIn};
pub use spin_kv::SpinKeyValue;

use crate::ids::RequestId;
use envelope::Record;

/// Seconds since the Unix epoch; passed in explicitly so expiry is testable.
pub type UnixTime = u64;

pub fn unix_now() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[derive(Debug)]
pub enum StoreError {
    /// The backend did not answer (Redis down, store not configured, …).
    Unavailable(String),
    /// A value exists but is not a record we can read.
    Corrupt { kind: &'static str, reason: String },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(detail) => write!(f, "key-value store unavailable: {detail}"),
            StoreError::Corrupt { kind, reason } => write!(f, "stored {kind} record unreadable: {reason}"),
        }
    }
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

pub struct StateStore<K> {
    kv: K,
}

impl<K: KeyValue> StateStore<K> {
    pub fn new(kv: K) -> Self {
        Self { kv }
    }

    /// One cheap round trip, to tell whether the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.kv.get(keys::LIVENESS).await.map(drop)
    }

    pub async fn save_login_request(&self, request: &LoginRequest) -> Result<(), StoreError> {
        self.save(&keys::login_request(&request.id), request).await
    }

    pub async fn load_login_request(&self, id: &RequestId, now: UnixTime) -> Result<Option<LoginRequest>, StoreError> {
        self.load(&keys::login_request(id), now).await
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
            eprintln!("{}", serde_json::json!({"event": "claimed_record_not_deleted", "detail": error.to_string()}));
        }
        Ok(Some(identity.clone()))
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

    pub async fn load_sign_in(&self, state: &str, now: UnixTime) -> Result<Option<SignIn>, StoreError> {
        self.load(&keys::sign_in(state), now).await
    }

    /// Consumes a sign-in: true for exactly one caller, even when two callbacks with
    /// the same state reach two instances at once (same `increment` claim as
    /// [`Self::take_identity`]). The record is deleted after a successful claim.
    pub async fn consume_sign_in(&self, state: &str) -> Result<bool, StoreError> {
        if self.kv.increment(&keys::sign_in_claim(state), 1).await? != 1 {
            return Ok(false);
        }
        if let Err(error) = self.kv.delete(&keys::sign_in(state)).await {
            eprintln!("{}", serde_json::json!({"event": "consumed_sign_in_not_deleted", "detail": error.to_string()}));
        }
        Ok(true)
    }

    pub async fn save_provider_cache(&self, issuer: &str, cache: &ProviderCache) -> Result<(), StoreError> {
        self.save(&keys::provider_cache(issuer), cache).await
    }

    pub async fn load_provider_cache(&self, issuer: &str, now: UnixTime) -> Result<Option<ProviderCache>, StoreError> {
        self.load(&keys::provider_cache(issuer), now).await
    }

    async fn save<R: Record>(&self, key: &str, record: &R) -> Result<(), StoreError> {
        self.kv.set(key, &envelope::seal(record)).await
    }

    async fn load<R: Record>(&self, key: &str, now: UnixTime) -> Result<Option<R>, StoreError> {
        match self.kv.get(key).await? {
            Some(bytes) => envelope::open(&bytes, now),
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

    fn pending_request(ttl: u64) -> LoginRequest {
        LoginRequest {
            id: RequestId::random().unwrap(),
            user_id: UserId::from_path_segment("alice").unwrap(),
            provider_id: None,
            force_authn: false,
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
            let store = StateStore::new(MemoryKeyValue::default());
            let request = pending_request(300);
            store.save_login_request(&request).await.unwrap();
            assert_eq!(store.load_login_request(&request.id, NOW + 299).await.unwrap(), Some(request.clone()));
            assert_eq!(store.load_login_request(&request.id, NOW + 300).await.unwrap(), None);
        });
    }

    #[test]
    fn an_unknown_request_loads_as_none() {
        block_on(async {
            let store = StateStore::new(MemoryKeyValue::default());
            assert_eq!(store.load_login_request(&RequestId::random().unwrap(), NOW).await.unwrap(), None);
        });
    }

    #[test]
    fn keys_are_namespaced_and_versioned() {
        block_on(async {
            let store = StateStore::new(MemoryKeyValue::default());
            let request = pending_request(300);
            store.save_login_request(&request).await.unwrap();
            assert_eq!(store.kv.keys(), vec![format!("lb:v1:req:{}", request.id.as_str())]);
        });
    }

    #[test]
    fn the_identity_is_taken_once_only() {
        block_on(async {
            let store = StateStore::new(MemoryKeyValue::default());
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
            let store = StateStore::new(MemoryKeyValue::default());
            let request = pending_request(300);
            store.save_login_request(&request).await.unwrap();
            assert_eq!(store.take_identity(&request).await.unwrap(), None);
            assert!(store.load_login_request(&request.id, NOW).await.unwrap().is_some());
        });
    }

    fn sign_in(state: &str) -> SignIn {
        SignIn {
            state: state.into(),
            request_id: RequestId::random().unwrap(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            browser_binding_hash: "h".into(),
            expires_at: NOW + 60,
        }
    }

    #[test]
    fn a_sign_in_is_consumed_once_only() {
        block_on(async {
            let store = StateStore::new(MemoryKeyValue::default());
            let saved = sign_in("s1");
            store.save_sign_in(&saved).await.unwrap();
            assert_eq!(store.load_sign_in("s1", NOW).await.unwrap(), Some(saved));
            assert!(store.consume_sign_in("s1").await.unwrap());
            assert!(!store.consume_sign_in("s1").await.unwrap());
            assert_eq!(store.load_sign_in("s1", NOW).await.unwrap(), None);
        });
    }

    #[test]
    fn a_finished_login_is_never_overwritten() {
        block_on(async {
            let store = StateStore::new(MemoryKeyValue::default());
            let request = pending_request(300);
            store.save_login_request(&request).await.unwrap();
            let failed = LoginOutcome::Failed { error: "access_denied".into(), error_description: "no".into() };
            assert!(store.finish_login_request(&request.id, failed.clone(), NOW).await.unwrap());
            let authenticated = finished(request.clone()).outcome;
            assert!(!store.finish_login_request(&request.id, authenticated, NOW).await.unwrap());
            assert_eq!(store.load_login_request(&request.id, NOW).await.unwrap().unwrap().outcome, failed);
            assert!(!store.finish_login_request(&RequestId::random().unwrap(), failed, NOW).await.unwrap());
        });
    }

    #[test]
    fn a_store_that_does_not_answer_is_reported_unavailable() {
        block_on(async {
            let store = StateStore::new(MemoryKeyValue::default());
            store.kv.set_down(true);
            assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));
            assert!(matches!(store.save_login_request(&pending_request(300)).await, Err(StoreError::Unavailable(_))));
        });
    }

    #[test]
    fn a_foreign_value_under_our_key_is_reported_corrupt() {
        block_on(async {
            let store = StateStore::new(MemoryKeyValue::default());
            let request = pending_request(300);
            store.kv.set(&keys::login_request(&request.id), b"not json").await.unwrap();
            let error = store.load_login_request(&request.id, NOW).await.unwrap_err();
            assert!(matches!(error, StoreError::Corrupt { kind: "login_request", .. }));
        });
    }
}
