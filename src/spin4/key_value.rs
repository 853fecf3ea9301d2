//! [`KeyValue`] over the component's Spin key-value store (label `default`), bound by
//! `runtime-config.toml` to memory or to Redis.
//!
//! Every call is bounded in time. With Redis down, Spin 4.0.2's Redis client neither
//! answers nor fails (nothing within 150 s), and after Redis is back it waits up to
//! ~90 s more before it reconnects; an unbounded call would hang the request, and the
//! load balancer's health check with it. So each asynchronous call races a timer and
//! the request answers 503 instead. `increment` (from `wasi:keyvalue`) is synchronous
//! and cannot be raced: it is made only right after another call of this request has
//! answered, and otherwise after a bounded probe, so that a dead store is noticed by a
//! call that can time out. A store that dies in that instant can still hold one request.
//!
//! The edge build (feature `edge`) imports no `wasi:keyvalue` at all: Akamai Functions'
//! replicated store offers no atomic increment, so there `increment` reads, adds and
//! writes back, every call bounded.

use std::cell::{Cell, OnceCell};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

#[cfg(not(feature = "edge"))]
use spin_sdk::experimental::wasi::keyvalue::{atomics, store as wasi_store};
use spin_sdk::key_value::Store;

use login_broker_core::base::timeout::race;
#[cfg(not(feature = "edge"))]
use login_broker_core::state::LIVENESS_KEY;
use login_broker_core::state::{KeyValue, StoreError};

#[cfg(not(feature = "edge"))]
use crate::opened;
use crate::{STORE_LABEL, unavailable};

/// How long one key-value call may take before the request gives up on the store.
/// Redis answers in well under a millisecond on a healthy network.
const CALL_TIMEOUT: Duration = Duration::from_millis(1500);

/// A timer older than this is replaced before the next call, so that every call has
/// between 0.75 and 1.5 s. One timer serves all the calls of a short request: each
/// timer is a host task, and one per call cost a third of a request's throughput.
const RENEW_TIMER_AFTER: Duration = Duration::from_millis(750);

/// How recent an answer must be for `increment` to go ahead without a probe.
#[cfg(not(feature = "edge"))]
const FRESH_ANSWER: Duration = Duration::from_millis(500);

/// Opened on first use: a request that needs no store (a new login request) does not
/// pay for opening it.
#[derive(Default)]
pub struct SpinKeyValue {
    store: OnceCell<Store>,
    /// `increment` exists only in the `wasi:keyvalue` interface.
    #[cfg(not(feature = "edge"))]
    bucket: OnceCell<wasi_store::Bucket>,
    /// When the store last answered a call of this request.
    #[cfg(not(feature = "edge"))]
    last_answer: Cell<Option<Instant>>,
    timer: Cell<Option<Timer>>,
}

struct Timer {
    started: Instant,
    fires: Pin<Box<dyn Future<Output = ()>>>,
}

impl SpinKeyValue {
    async fn store(&self) -> Result<&Store, StoreError> {
        if let Some(store) = self.store.get() {
            return Ok(store);
        }
        let store = self.bounded(Store::open(STORE_LABEL)).await?;
        Ok(self.store.get_or_init(|| store))
    }

    #[cfg(not(feature = "edge"))]
    fn bucket(&self) -> Result<&wasi_store::Bucket, StoreError> {
        opened(&self.bucket, || wasi_store::open(STORE_LABEL))
    }

    /// `call`'s answer, or [`StoreError::Unavailable`] once the timer fires (the call
    /// is then dropped, which cancels it).
    async fn bounded<T, E: std::fmt::Debug>(&self, call: impl Future<Output = Result<T, E>>) -> Result<T, StoreError> {
        let mut timer = match self.timer.take() {
            Some(timer) if timer.started.elapsed() < RENEW_TIMER_AFTER => timer,
            _ => Timer { started: Instant::now(), fires: Box::pin(spin_sdk::time::sleep(CALL_TIMEOUT)) },
        };
        let answer = race(call, timer.fires.as_mut()).await;
        let Some(answer) = answer else {
            return Err(StoreError::Unavailable(format!("no answer within {} ms", CALL_TIMEOUT.as_millis())));
        };
        self.timer.set(Some(timer));
        #[cfg(not(feature = "edge"))]
        self.last_answer.set(Some(Instant::now()));
        answer.map_err(unavailable)
    }
}

impl KeyValue for SpinKeyValue {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let store = self.store().await?;
        self.bounded(store.get(key)).await
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let store = self.store().await?;
        self.bounded(store.set(key, value)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let store = self.store().await?;
        self.bounded(store.delete(key)).await
    }

    #[cfg(not(feature = "edge"))]
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        if self.last_answer.get().is_none_or(|at| at.elapsed() > FRESH_ANSWER) {
            let store = self.store().await?;
            self.bounded(store.exists(LIVENESS_KEY)).await?;
        }
        let value = atomics::increment(self.bucket()?, key, delta).map_err(unavailable)?;
        self.last_answer.set(Some(Instant::now()));
        Ok(value)
    }

    /// Read, add, write back: not atomic. Two calls racing (in one region, or in two
    /// before a write has crossed) can read the same value; SECURITY.md, *Consistency
    /// at the edge*, says what each counter still guarantees.
    #[cfg(feature = "edge")]
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let current = login_broker_core::state::read_counter(self, key).await?.unwrap_or(0);
        let next =
            current.checked_add(delta).ok_or_else(|| StoreError::Corrupt { kind: "counter", reason: "increment overflows".into() })?;
        self.set(key, next.to_string().as_bytes()).await?;
        Ok(next)
    }
}
