//! [`KeyValue`] over the component's Spin key-value store (label `default`), through
//! `fermyon:spin/key-value` and `wasi:keyvalue` (for `increment`), both synchronous in
//! `wasi:http` 0.2 hosts: a call cannot be raced against a timer, so a store that stops
//! answering holds the request (Spin's Redis client gives up after its own timeout).

use std::cell::OnceCell;

use spin_sdk::key_value::Store;
use spin_sdk::wit::wasi::keyvalue::{atomics, store as wasi_store};

use login_broker_core::state::{KeyValue, StoreError};

use crate::{STORE_LABEL, opened, unavailable};

/// Opened on first use (see `opened`).
#[derive(Default)]
pub struct SpinKeyValue {
    store: OnceCell<Store>,
    bucket: OnceCell<wasi_store::Bucket>,
}

impl SpinKeyValue {
    fn store(&self) -> Result<&Store, StoreError> {
        opened(&self.store, || Store::open(STORE_LABEL))
    }

    fn bucket(&self) -> Result<&wasi_store::Bucket, StoreError> {
        opened(&self.bucket, || wasi_store::open(STORE_LABEL))
    }
}

impl KeyValue for SpinKeyValue {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.store()?.get(key).map_err(unavailable)
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.store()?.set(key, value).map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store()?.delete(key).map_err(unavailable)
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        atomics::increment(self.bucket()?, key, delta).map_err(unavailable)
    }
}
