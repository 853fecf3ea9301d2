//! [`KeyValue`] over the component's Spin key-value store (label `default`), bound by
//! `runtime-config.toml` to memory or to Redis.

use std::cell::OnceCell;

use spin_sdk::experimental::wasi::keyvalue::{atomics, store as wasi_store};
use spin_sdk::key_value::Store;

use super::{KeyValue, StoreError};

const STORE_LABEL: &str = "default";

pub struct SpinKeyValue {
    store: Store,
    /// `increment` exists only in the `wasi:keyvalue` interface; opened on first use.
    bucket: OnceCell<wasi_store::Bucket>,
}

impl SpinKeyValue {
    pub async fn open() -> Result<Self, StoreError> {
        let store = Store::open(STORE_LABEL).await.map_err(unavailable)?;
        Ok(Self { store, bucket: OnceCell::new() })
    }

    fn bucket(&self) -> Result<&wasi_store::Bucket, StoreError> {
        if let Some(bucket) = self.bucket.get() {
            return Ok(bucket);
        }
        let bucket = wasi_store::open(STORE_LABEL).map_err(unavailable)?;
        Ok(self.bucket.get_or_init(|| bucket))
    }
}

fn unavailable(error: impl std::fmt::Debug) -> StoreError {
    StoreError::Unavailable(format!("{error:?}"))
}

impl KeyValue for SpinKeyValue {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(key).await.map_err(unavailable)
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.store.set(key, value).await.map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store.delete(key).await.map_err(unavailable)
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        atomics::increment(self.bucket()?, key, delta).map_err(unavailable)
    }
}
