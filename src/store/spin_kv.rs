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

use std::cell::{Cell, OnceCell};
use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use spin_sdk::experimental::wasi::keyvalue::{atomics, store as wasi_store};
use spin_sdk::key_value::Store;

use super::{KeyValue, StoreError, keys};

const STORE_LABEL: &str = "default";

/// How long one key-value call may take before the request gives up on the store.
/// Redis answers in well under a millisecond on a healthy network.
const CALL_TIMEOUT: Duration = Duration::from_millis(1500);

/// How recent an answer must be for `increment` to go ahead without a probe.
const FRESH_ANSWER: Duration = Duration::from_millis(500);

pub struct SpinKeyValue {
    store: Store,
    /// `increment` exists only in the `wasi:keyvalue` interface; opened on first use.
    bucket: OnceCell<wasi_store::Bucket>,
    /// When the store last answered a call of this request.
    last_answer: Cell<Option<Instant>>,
}

impl SpinKeyValue {
    pub async fn open() -> Result<Self, StoreError> {
        let store = within_timeout(Store::open(STORE_LABEL)).await?;
        Ok(Self { store, bucket: OnceCell::new(), last_answer: Cell::new(None) })
    }

    fn bucket(&self) -> Result<&wasi_store::Bucket, StoreError> {
        if let Some(bucket) = self.bucket.get() {
            return Ok(bucket);
        }
        let bucket = wasi_store::open(STORE_LABEL).map_err(unavailable)?;
        Ok(self.bucket.get_or_init(|| bucket))
    }

    async fn bounded<T>(&self, call: impl Future<Output = Result<T, spin_sdk::key_value::Error>>) -> Result<T, StoreError> {
        let answer = within_timeout(call).await?;
        self.last_answer.set(Some(Instant::now()));
        Ok(answer)
    }
}

/// `call`'s answer, or [`StoreError::Unavailable`] once [`CALL_TIMEOUT`] has passed
/// (the call is then dropped, which cancels it).
async fn within_timeout<T, E: std::fmt::Debug>(call: impl Future<Output = Result<T, E>>) -> Result<T, StoreError> {
    let (mut call, mut timer) = (pin!(call), pin!(spin_sdk::time::sleep(CALL_TIMEOUT)));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(answer) = call.as_mut().poll(cx) {
            return Poll::Ready(answer.map_err(unavailable));
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(StoreError::Unavailable(format!("no answer within {} ms", CALL_TIMEOUT.as_millis())))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

fn unavailable(error: impl std::fmt::Debug) -> StoreError {
    StoreError::Unavailable(format!("{error:?}"))
}

impl KeyValue for SpinKeyValue {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.bounded(self.store.get(key)).await
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.bounded(self.store.set(key, value)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.bounded(self.store.delete(key)).await
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        if self.last_answer.get().is_none_or(|at| at.elapsed() > FRESH_ANSWER) {
            self.bounded(self.store.exists(keys::LIVENESS)).await?;
        }
        let value = atomics::increment(self.bucket()?, key, delta).map_err(unavailable)?;
        self.last_answer.set(Some(Instant::now()));
        Ok(value)
    }
}
