//! An in-process [`KeyValue`] for unit tests, with Spin's in-memory semantics
//! (counters are 8-byte little-endian values) and a switch to simulate an outage.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use super::{KeyValue, StoreError};

#[derive(Default)]
pub struct MemoryKeyValue {
    values: RefCell<BTreeMap<String, Vec<u8>>>,
    down: Cell<bool>,
}

impl MemoryKeyValue {
    pub fn keys(&self) -> Vec<String> {
        self.values.borrow().keys().cloned().collect()
    }

    pub fn set_down(&self, down: bool) {
        self.down.set(down);
    }

    fn answer(&self) -> Result<(), StoreError> {
        if self.down.get() { Err(StoreError::Unavailable("simulated outage".into())) } else { Ok(()) }
    }
}

impl KeyValue for MemoryKeyValue {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.answer()?;
        Ok(self.values.borrow().get(key).cloned())
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.answer()?;
        self.values.borrow_mut().insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.answer()?;
        self.values.borrow_mut().remove(key);
        Ok(())
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.answer()?;
        let mut values = self.values.borrow_mut();
        let current = match values.get(key) {
            None => 0,
            Some(bytes) => i64::from_le_bytes(
                bytes.as_slice().try_into().map_err(|_| StoreError::Corrupt { kind: "counter", reason: "not an 8-byte counter".into() })?,
            ),
        };
        // Spin's stores refuse an overflowing increment; so does the double.
        let next =
            current.checked_add(delta).ok_or_else(|| StoreError::Corrupt { kind: "counter", reason: "increment overflows".into() })?;
        values.insert(key.to_owned(), next.to_le_bytes().to_vec());
        Ok(next)
    }
}
