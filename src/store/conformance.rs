//! One conformance suite for every backend the broker runs on, as Dex's
//! `storage/conformance`: the byte store's semantics (get, set, delete, increment),
//! and what the state layer builds on them (sealed records, expiry, exactly-once
//! claims, reclamation). It runs against the unit-test double (`cargo test`) and,
//! built into a test component (feature `conformance`), against Spin's in-memory and
//! Redis stores under the real `spin up` (`tests/store_conformance.rs`).
//!
//! The clock is an argument: expiry is checked by moving it, never by sleeping.

use super::keys::{BUCKET_SECS, SlotKind};
use super::{Identity, KeyValue, LoginOutcome, LoginRequest, Sealer, StateKey, StateStore, StoreError, UnixTime};
use crate::failure::SignInFailureKind;
use crate::ids::{RequestId, SignInState, SlotId, UserId};
use crate::secret::Secret;

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
    check!(a_saved_record_loads_until_it_expires);
    check!(a_record_moved_to_another_key_does_not_open);
    check!(an_id_with_the_right_slot_but_another_secret_finds_nothing);
    check!(the_identity_is_taken_exactly_once);
    check!(a_sign_in_is_consumed_exactly_once);
    check!(a_login_is_finished_exactly_once);
    check!(abandoned_records_are_swept_after_they_expire);
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
    let key = "lb:v1:conformance:bytes";
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
    let key = "lb:v1:conformance:deleted";
    kv.set(key, b"x").await.map_err(store_error)?;
    kv.delete(key).await.map_err(store_error)?;
    ensure(kv.get(key).await.map_err(store_error)?.is_none(), "a deleted key reads as nothing")?;
    kv.delete(key).await.map_err(|error| format!("deleting a missing key fails: {error}"))
}

async fn counters_add_and_start_from_zero<K: KeyValue>(store: &StateStore<K>, _: UnixTime) -> Checked {
    let kv = store.kv();
    let key = "lb:v1:conformance:counter";
    ensure(kv.increment(key, 0).await.map_err(store_error)? == 0, "a missing counter reads as 0")?;
    ensure(kv.increment(key, 5).await.map_err(store_error)? == 5, "increment returns the new value")?;
    ensure(kv.increment(key, -2).await.map_err(store_error)? == 3, "a negative delta subtracts")?;
    kv.delete(key).await.map_err(store_error)?;
    ensure(kv.increment(key, 1).await.map_err(store_error)? == 1, "a deleted counter starts again from 0")?;
    kv.delete(key).await.map_err(store_error)
}

async fn a_counter_reads_back_with_get<K: KeyValue>(store: &StateStore<K>, _: UnixTime) -> Checked {
    let kv = store.kv();
    let key = "lb:v1:conformance:read-counter";
    ensure(super::read_counter(kv, key).await.map_err(store_error)?.is_none(), "a missing counter reads as nothing")?;
    for value in [1, 12_345_678, 180_000_000_000] {
        let current = kv.increment(key, 0).await.map_err(store_error)?;
        kv.increment(key, value - current).await.map_err(store_error)?;
        ensure(super::read_counter(kv, key).await.map_err(store_error)? == Some(value), &format!("{value} reads back with get"))?;
    }
    kv.delete(key).await.map_err(store_error)
}

/// A pending request in a fresh slot of the bucket its expiry falls in.
async fn pending_request<K: KeyValue>(store: &StateStore<K>, now: UnixTime, ttl: u64) -> Result<LoginRequest, String> {
    let slot = store.allocate(SlotKind::LoginRequest, now + ttl).await.map_err(store_error)?;
    Ok(LoginRequest {
        id: RequestId::from_slot(slot),
        user_id: UserId::from_path_segment("alice").map_err(|e| e.to_string())?,
        provider_id: None,
        force_authn: false,
        user_code: Secret::new("BCDF-GHJK".into()),
        created_at: now,
        expires_at: now + ttl,
        outcome: LoginOutcome::Pending,
    })
}

fn authenticated() -> LoginOutcome {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), "alice-sub".into());
    LoginOutcome::Authenticated { identity: Identity::from_claims(claims) }
}

async fn a_saved_record_loads_until_it_expires<K: KeyValue>(store: &StateStore<K>, now: UnixTime) -> Checked {
    let request = pending_request(store, now, 300).await?;
    store.save_login_request(&request).await.map_err(store_error)?;
    let at = |time| store.load_login_request(&request.id, time);
    ensure(at(now + 299).await.map_err(store_error)? == Some(request.clone()), "a record loads back until its expiry")?;
    ensure(at(now + 300).await.map_err(store_error)?.is_none(), "a record is gone at its expiry")
}

async fn a_record_moved_to_another_key_does_not_open<K: KeyValue>(store: &StateStore<K>, now: UnixTime) -> Checked {
    let (first, second) = (pending_request(store, now, 300).await?, pending_request(store, now, 300).await?);
    store.save_login_request(&first).await.map_err(store_error)?;
    let kv = store.kv();
    let sealed = kv.get(&super::keys::login_request(&first.id)).await.map_err(store_error)?.ok_or("the record was not written")?;
    kv.set(&super::keys::login_request(&second.id), &sealed).await.map_err(store_error)?;
    let moved = store.load_login_request(&second.id, now).await;
    ensure(matches!(moved, Err(StoreError::Corrupt { .. })), "a sealed value opens only under its own key")
}

async fn an_id_with_the_right_slot_but_another_secret_finds_nothing<K: KeyValue>(store: &StateStore<K>, now: UnixTime) -> Checked {
    let request = pending_request(store, now, 300).await?;
    store.save_login_request(&request).await.map_err(store_error)?;
    let slot = request.id.slot();
    let forged = RequestId::from_slot(SlotId::new(slot.bucket(), slot.index()).map_err(|e| e.to_string())?);
    ensure(store.load_login_request(&forged, now).await.map_err(store_error)?.is_none(), "the random part of an id is checked")
}

async fn the_identity_is_taken_exactly_once<K: KeyValue>(store: &StateStore<K>, now: UnixTime) -> Checked {
    let mut request = pending_request(store, now, 300).await?;
    request.outcome = authenticated();
    store.save_login_request(&request).await.map_err(store_error)?;
    // Both callers read the finished record before either took it.
    let load = || store.load_login_request(&request.id, now);
    let (first_read, second_read) =
        (load().await.map_err(store_error)?.ok_or("no record")?, load().await.map_err(store_error)?.ok_or("no record")?);
    let first = store.take_identity(&first_read).await.map_err(store_error)?;
    let second = store.take_identity(&second_read).await.map_err(store_error)?;
    ensure(first.is_some() && second.is_none(), "one caller gets the identity, the other nothing")?;
    ensure(load().await.map_err(store_error)?.is_none(), "a taken identity's record is gone")
}

async fn a_sign_in_is_consumed_exactly_once<K: KeyValue>(store: &StateStore<K>, now: UnixTime) -> Checked {
    let state = SignInState::from_slot(store.allocate(SlotKind::SignIn, now + 60).await.map_err(store_error)?);
    let record = pending_request(store, now, 60).await?;
    store.save_sign_in(&state, &record).await.map_err(store_error)?;
    let loaded: Option<LoginRequest> = store.load_sign_in(&state, now).await.map_err(store_error)?;
    ensure(loaded == Some(record), "a sign-in loads back")?;
    ensure(store.consume_sign_in(&state).await.map_err(store_error)?, "the first consumer wins")?;
    ensure(!store.consume_sign_in(&state).await.map_err(store_error)?, "the second consumer loses")?;
    let after: Option<LoginRequest> = store.load_sign_in(&state, now).await.map_err(store_error)?;
    ensure(after.is_none(), "a consumed sign-in is gone")
}

async fn a_login_is_finished_exactly_once<K: KeyValue>(store: &StateStore<K>, now: UnixTime) -> Checked {
    let request = pending_request(store, now, 300).await?;
    store.save_login_request(&request).await.map_err(store_error)?;
    let failed = LoginOutcome::Failed { error: SignInFailureKind::AccessDenied, error_description: "no".into() };
    ensure(
        store.finish_login_request(&request.id, failed.clone(), now).await.map_err(store_error)?,
        "the first finisher records its outcome",
    )?;
    ensure(
        !store.finish_login_request(&request.id, authenticated(), now).await.map_err(store_error)?,
        "a second finisher changes nothing",
    )?;
    let outcome = store.load_login_request(&request.id, now).await.map_err(store_error)?.map(|request| request.outcome);
    ensure(outcome == Some(failed), "the first outcome stays")?;

    // A finish that lands after the client took the identity does not bring it back.
    let request = pending_request(store, now, 300).await?;
    store.save_login_request(&request).await.map_err(store_error)?;
    ensure(store.finish_login_request(&request.id, authenticated(), now).await.map_err(store_error)?, "a login finishes")?;
    let finished = store.load_login_request(&request.id, now).await.map_err(store_error)?.ok_or("no record")?;
    ensure(store.take_identity(&finished).await.map_err(store_error)?.is_some(), "the client takes the identity")?;
    ensure(!store.finish_login_request(&request.id, authenticated(), now).await.map_err(store_error)?, "a late finisher changes nothing")?;
    ensure(store.load_login_request(&request.id, now).await.map_err(store_error)?.is_none(), "no record comes back")
}

/// Logins abandoned at every stage (pending, signing in, finished but never taken,
/// taken) leave nothing behind once they have expired and the sweep has come by.
async fn abandoned_records_are_swept_after_they_expire<K: KeyValue>(store: &StateStore<K>, now: UnixTime) -> Checked {
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
    let mut requests = Vec::new();
    let mut sign_ins = Vec::new();
    for n in 0..40 {
        let mut request = pending_request(store, start, 100).await?;
        if n % 4 >= 2 {
            request.outcome = authenticated();
        }
        store.save_login_request(&request).await.map_err(store_error)?;
        if n % 4 == 3 {
            store.take_identity(&request).await.map_err(store_error)?;
        }
        if n % 2 == 1 {
            let state = SignInState::from_slot(store.allocate(SlotKind::SignIn, expires_at).await.map_err(store_error)?);
            store.save_sign_in(&state, &request).await.map_err(store_error)?;
            if n % 4 == 3 {
                store.consume_sign_in(&state).await.map_err(store_error)?;
            }
            sign_ins.push(state);
        }
        requests.push(request);
    }
    let kv = store.kv();
    let present = |key: String| async move { kv.get(&key).await.map(|value| value.is_some()) };
    // Nothing is reclaimed before it expires...
    sweep_through(start, expires_at - 1).await.map_err(store_error)?;
    let first = &requests[0];
    ensure(present(super::keys::login_request(&first.id)).await.map_err(store_error)?, "a live record is not swept")?;
    // ...and everything is, soon after.
    sweep_through(expires_at, expires_at + 30 * BUCKET_SECS).await.map_err(store_error)?;
    for request in &requests {
        for key in SlotKind::LoginRequest.keys(request.id.slot().bucket().into(), request.id.slot().index().into()) {
            ensure(!present(key.clone()).await.map_err(store_error)?, &format!("{key} was swept"))?;
        }
    }
    for state in &sign_ins {
        for key in SlotKind::SignIn.keys(state.slot().bucket().into(), state.slot().index().into()) {
            ensure(!present(key.clone()).await.map_err(store_error)?, &format!("{key} was swept"))?;
        }
    }
    Ok(())
}
