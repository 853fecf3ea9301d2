//! One conformance suite for every backend the broker runs on, as Dex's
//! `storage/conformance`: the byte store's semantics (get, set, delete, increment),
//! and what the state layer and the login core build on them (sealed records, expiry,
//! exactly-once claims, reclamation). It runs against the unit-test double (`cargo
//! test`) and, built into a test component (feature `conformance`), against Spin's
//! in-memory, Redis and SQLite stores under the real `spin up`
//! (`tests/broker/store_conformance.rs`).
//!
//! The clock is an argument: expiry is checked by moving it, never by sleeping.

use crate::base::failure::SignInFailureKind;
use crate::base::ids::LoginId;
use crate::login::records::LoginOutcome;
use crate::protocol::Identity;
use crate::state::keys::{self, BUCKET_SECS};
use crate::state::{KeyValue, Sealer, StateKey, StateStore, StoreError, UnixTime};

/// A check's name and what went wrong, if anything.
pub struct Outcome {
    pub check: &'static str,
    pub failure: Option<String>,
}

/// Runs every check against `kv`, which must start empty of the broker's keys.
/// `now` places the suite's records in time (distinct runs should pass distinct
/// times, so that their buckets do not meet); the suite moves its clock from there.
pub async fn run<K: KeyValue>(kv: K, now: UnixTime) -> Vec<Outcome> {
    let store = StateStore::new(kv, Sealer::new(StateKey::from_bytes(&[7; 32]), vec![]));
    let mut outcomes = Vec::new();
    macro_rules! check {
        ($name:ident) => {
            outcomes.push(Outcome { check: stringify!($name), failure: $name(&store, now).await.err() });
        };
    }
    check!(values_are_stored_byte_for_byte);
    check!(deleting_a_value_removes_it);
    check!(counters_add_and_start_from_zero);
    check!(a_counter_reads_back_with_get);
    check!(an_outcome_loads_until_the_login_expires);
    check!(a_record_moved_to_another_key_does_not_open);
    check!(another_login_in_the_same_bucket_finds_nothing);
    check!(the_identity_is_taken_exactly_once);
    check!(a_login_is_finished_exactly_once);
    check!(code_attempts_are_counted_across_callers);
    check!(abandoned_logins_are_swept_after_they_expire);
    outcomes
}

type Checked = Result<(), String>;

fn ensure(holds: bool, what: &str) -> Checked {
    if holds { Ok(()) } else { Err(what.to_owned()) }
}

fn store_error(error: StoreError) -> String {
    format!("the store failed: {error}")
}

async fn values_are_stored_byte_for_byte<K: KeyValue>(store: &StateStore<K>, _: UnixTime) -> Checked {
    let kv = store.kv();
    let key = "lb:v2:conformance:bytes";
    ensure(kv.get(key).await.map_err(store_error)?.is_none(), "a missing key reads as nothing")?;
    let every_byte: Vec<u8> = (0..=255).collect();
    kv.set(key, &every_byte).await.map_err(store_error)?;
    ensure(kv.get(key).await.map_err(store_error)? == Some(every_byte), "a value reads back byte for byte")?;
    kv.set(key, b"second").await.map_err(store_error)?;
    ensure(kv.get(key).await.map_err(store_error)?.as_deref() == Some(b"second"), "a set overwrites")?;
    kv.delete(key).await.map_err(store_error)
}

async fn deleting_a_value_removes_it<K: KeyValue>(store: &StateStore<K>, _: UnixTime) -> Checked {
    let kv = store.kv();
    let key = "lb:v2:conformance:deleted";
    kv.set(key, b"x").await.map_err(store_error)?;
    kv.delete(key).await.map_err(store_error)?;
    ensure(kv.get(key).await.map_err(store_error)?.is_none(), "a deleted key reads as nothing")?;
    kv.delete(key).await.map_err(|error| format!("deleting a missing key fails: {error}"))
}

async fn counters_add_and_start_from_zero<K: KeyValue>(store: &StateStore<K>, _: UnixTime) -> Checked {
    let kv = store.kv();
    let key = "lb:v2:conformance:counter";
    ensure(kv.increment(key, 0).await.map_err(store_error)? == 0, "a missing counter reads as 0")?;
    ensure(kv.increment(key, 5).await.map_err(store_error)? == 5, "increment returns the new value")?;
    ensure(kv.increment(key, -2).await.map_err(store_error)? == 3, "a negative delta subtracts")?;
    kv.delete(key).await.map_err(store_error)?;
    ensure(kv.increment(key, 1).await.map_err(store_error)? == 1, "a deleted counter starts again from 0")?;
    kv.delete(key).await.map_err(store_error)
}

async fn a_counter_reads_back_with_get<K: KeyValue>(store: &StateStore<K>, _: UnixTime) -> Checked {
    let kv = store.kv();
    let key = "lb:v2:conformance:read-counter";
    ensure(crate::state::read_counter(kv, key).await.map_err(store_error)?.is_none(), "a missing counter reads as nothing")?;
    for value in [1, 12_345_678, 180_000_000_000] {
        let current = kv.increment(key, 0).await.map_err(store_error)?;
        kv.increment(key, value - current).await.map_err(store_error)?;
        ensure(crate::state::read_counter(kv, key).await.map_err(store_error)? == Some(value), &format!("{value} reads back with get"))?;
    }
    kv.delete(key).await.map_err(store_error)
}

/// A new login's id, as no link names it (the product's come from its short link).
pub fn login(expires_at: UnixTime) -> Result<LoginId, String> {
    use base64::Engine;
    let mut nonce = [0u8; crate::base::ids::NONCE_BYTES];
    getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
    let nonce = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(nonce);
    LoginId::from_parts(&nonce, expires_at).ok_or_else(|| "a nonce of the wrong shape".to_owned())
}

fn authenticated() -> LoginOutcome {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), "alice-sub".into());
    LoginOutcome::Authenticated { identity: Identity::from_claims(claims) }
}

/// Ends `id` as its one finisher does: the claim, then the outcome.
async fn finish<K: KeyValue>(store: &StateStore<K>, id: &LoginId, outcome: LoginOutcome, now: UnixTime) -> Checked {
    ensure(store.claim_finish(id, now).await.map_err(store_error)?, "a fresh login's finish is claimed")?;
    store.save_outcome(id, outcome).await.map_err(store_error)
}

async fn an_outcome_loads_until_the_login_expires<K: KeyValue>(store: &StateStore<K>, now: UnixTime) -> Checked {
    let id = login(now + 300)?;
    ensure(store.load_outcome(&id, now).await.map_err(store_error)?.is_none(), "a pending login has no outcome")?;
    finish(store, &id, authenticated(), now).await?;
    let at = |time| store.load_outcome(&id, time);
    ensure(at(now + 299).await.map_err(store_error)? == Some(authenticated()), "an outcome loads back until its expiry")?;
    ensure(at(now + 300).await.map_err(store_error)?.is_none(), "an outcome is gone at its expiry")
}

async fn a_record_moved_to_another_key_does_not_open<K: KeyValue>(store: &StateStore<K>, now: UnixTime) -> Checked {
    let (first, second) = (login(now + 300)?, login(now + 300)?);
    finish(store, &first, authenticated(), now).await?;
    let kv = store.kv();
    let sealed = kv.get(&keys::outcome(&first)).await.map_err(store_error)?.ok_or("the outcome was not written")?;
    kv.set(&keys::outcome(&second), &sealed).await.map_err(store_error)?;
    let moved = store.load_outcome(&second, now).await;
    ensure(matches!(moved, Err(StoreError::Corrupt { .. })), "a sealed value opens only under its own key")
}

async fn another_login_in_the_same_bucket_finds_nothing<K: KeyValue>(store: &StateStore<K>, now: UnixTime) -> Checked {
    let (finished, other) = (login(now + 300)?, login(now + 300)?);
    finish(store, &finished, authenticated(), now).await?;
    ensure(store.load_outcome(&other, now).await.map_err(store_error)?.is_none(), "outcomes are per login, not per bucket")
}

async fn the_identity_is_taken_exactly_once<K: KeyValue>(store: &StateStore<K>, now: UnixTime) -> Checked {
    let id = login(now + 300)?;
    finish(store, &id, authenticated(), now).await?;
    // Both callers read the outcome before either took it.
    let load = || store.load_outcome(&id, now);
    let (first_read, second_read) =
        (load().await.map_err(store_error)?.ok_or("no outcome")?, load().await.map_err(store_error)?.ok_or("no outcome")?);
    let first = store.take_identity(&id, first_read).await.map_err(store_error)?;
    let second = store.take_identity(&id, second_read).await.map_err(store_error)?;
    ensure(first.is_some() && second.is_none(), "one caller gets the identity, the other nothing")?;
    let later = load().await.map_err(store_error)?.ok_or("no outcome")?;
    ensure(store.take_identity(&id, later).await.map_err(store_error)?.is_none(), "nobody takes it again")
}

async fn a_login_is_finished_exactly_once<K: KeyValue>(store: &StateStore<K>, now: UnixTime) -> Checked {
    let id = login(now + 300)?;
    let failed = LoginOutcome::Failed { error: SignInFailureKind::AccessDenied, error_description: "no".into() };
    finish(store, &id, failed.clone(), now).await?;
    ensure(!store.claim_finish(&id, now).await.map_err(store_error)?, "a second finisher is refused")?;
    ensure(store.load_outcome(&id, now).await.map_err(store_error)? == Some(failed), "the first outcome stays")?;

    // A finish that lands after the client took the identity is refused too.
    let id = login(now + 300)?;
    finish(store, &id, authenticated(), now).await?;
    let outcome = store.load_outcome(&id, now).await.map_err(store_error)?.ok_or("no outcome")?;
    ensure(store.take_identity(&id, outcome).await.map_err(store_error)?.is_some(), "the client takes the identity")?;
    ensure(!store.claim_finish(&id, now).await.map_err(store_error)?, "a late finisher is refused")
}

async fn code_attempts_are_counted_across_callers<K: KeyValue>(store: &StateStore<K>, now: UnixTime) -> Checked {
    let id = login(now + 300)?;
    for expected in 1..=3 {
        ensure(store.count_code_attempt(&id, now).await.map_err(store_error)? == expected, &format!("attempt {expected} is counted"))?;
    }
    Ok(())
}

/// Logins abandoned at every stage (wrong codes, finished but never taken, taken)
/// leave nothing behind once they have expired and the sweep has come by.
async fn abandoned_logins_are_swept_after_they_expire<K: KeyValue>(store: &StateStore<K>, now: UnixTime) -> Checked {
    // Start the sweep cursor, and sweep away what the other checks left.
    let sweep_through = |from: UnixTime, to: UnixTime| async move {
        let mut time = from;
        while time <= to {
            store.sweep(time).await?;
            time += BUCKET_SECS / 2;
        }
        Ok::<(), StoreError>(())
    };
    sweep_through(now, now + 600).await.map_err(store_error)?;
    let start = now + 600;
    let expires_at = start + 100;
    let mut logins = Vec::new();
    for n in 0..40 {
        let id = login(expires_at)?;
        if n % 3 == 0 {
            store.count_code_attempt(&id, now).await.map_err(store_error)?;
        }
        if n % 3 >= 1 {
            finish(store, &id, authenticated(), now).await?;
        }
        if n % 3 == 2 {
            let outcome = store.load_outcome(&id, start).await.map_err(store_error)?.ok_or("no outcome")?;
            store.take_identity(&id, outcome).await.map_err(store_error)?;
        }
        logins.push(id);
    }
    let kv = store.kv();
    let present = |key: String| async move { kv.get(&key).await.map(|value| value.is_some()) };
    // Nothing is reclaimed before it expires...
    sweep_through(start, expires_at - 1).await.map_err(store_error)?;
    ensure(present(keys::outcome(&logins[1])).await.map_err(store_error)?, "a live outcome is not swept")?;
    // ...and everything is, soon after, registry included.
    sweep_through(expires_at, expires_at + 30 * BUCKET_SECS).await.map_err(store_error)?;
    let bucket = expires_at / BUCKET_SECS;
    let registry = (1..=logins.len() as u64 * 2).map(|index| keys::registry(bucket, index));
    for key in logins.iter().flat_map(keys::login_keys).chain(registry) {
        ensure(!present(key.clone()).await.map_err(store_error)?, &format!("{key} was swept"))?;
    }
    Ok(())
}
