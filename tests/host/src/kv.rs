//! Key-value backends with Spin 4.0.2's semantics, and a count of every operation.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Serialize;

use crate::runtime_config::StoreBinding;

pub struct KvStore {
    backend: Backend,
    /// Operations the component made; the admin port's own are not counted.
    pub stats: Stats,
}

enum Backend {
    /// Spin's in-memory store serialises its operations; so does this mutex.
    Memory(Mutex<HashMap<String, Vec<u8>>>),
    Redis(ConnectionManager),
}

#[derive(Clone, Copy)]
pub enum Op {
    Get,
    Set,
    Delete,
    Exists,
    GetKeys,
    Increment,
}

/// Operation counts, so tests and benchmarks can tell what a route costs.
#[derive(Default, Serialize)]
pub struct Stats {
    get: AtomicU64,
    set: AtomicU64,
    delete: AtomicU64,
    exists: AtomicU64,
    get_keys: AtomicU64,
    increment: AtomicU64,
}

impl Stats {
    pub fn record(&self, op: Op) {
        let counter = match op {
            Op::Get => &self.get,
            Op::Set => &self.set,
            Op::Delete => &self.delete,
            Op::Exists => &self.exists,
            Op::GetKeys => &self.get_keys,
            Op::Increment => &self.increment,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reset(&self) {
        for counter in [&self.get, &self.set, &self.delete, &self.exists, &self.get_keys, &self.increment] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

type KvResult<T> = Result<T, String>;

impl KvStore {
    pub async fn connect(binding: &StoreBinding) -> anyhow::Result<Self> {
        let backend = match binding {
            StoreBinding::Memory => Backend::Memory(Mutex::default()),
            StoreBinding::Redis { url } => {
                let client = redis::Client::open(url.as_str())?;
                // Fail fast while Redis is down, and reconnect once it is back.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Duration::from_secs(1))
                    .set_response_timeout(Duration::from_secs(2))
                    .set_number_of_retries(1)
                    .set_max_delay(500);
                Backend::Redis(ConnectionManager::new_with_config(client, config).await?)
            }
        };
        Ok(Self { backend, stats: Stats::default() })
    }

    fn memory(map: &Mutex<HashMap<String, Vec<u8>>>) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        map.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub async fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        match &self.backend {
            Backend::Memory(map) => Ok(Self::memory(map).get(key).cloned()),
            Backend::Redis(conn) => conn.clone().get(key).await.map_err(redis_error),
        }
    }

    pub async fn set(&self, key: &str, value: Vec<u8>) -> KvResult<()> {
        match &self.backend {
            Backend::Memory(map) => {
                Self::memory(map).insert(key.to_owned(), value);
                Ok(())
            }
            Backend::Redis(conn) => conn.clone().set(key, value).await.map_err(redis_error),
        }
    }

    pub async fn delete(&self, key: &str) -> KvResult<()> {
        match &self.backend {
            Backend::Memory(map) => {
                Self::memory(map).remove(key);
                Ok(())
            }
            Backend::Redis(conn) => conn.clone().del::<_, ()>(key).await.map_err(redis_error),
        }
    }

    pub async fn exists(&self, key: &str) -> KvResult<bool> {
        match &self.backend {
            Backend::Memory(map) => Ok(Self::memory(map).contains_key(key)),
            Backend::Redis(conn) => conn.clone().exists(key).await.map_err(redis_error),
        }
    }

    /// Every key in the store; on Redis a SCAN of the whole database, as in Spin.
    pub async fn keys(&self) -> KvResult<Vec<String>> {
        match &self.backend {
            Backend::Memory(map) => Ok(Self::memory(map).keys().cloned().collect()),
            Backend::Redis(conn) => {
                let mut conn = conn.clone();
                let (mut keys, mut cursor) = (Vec::new(), 0u64);
                loop {
                    let (next, batch): (u64, Vec<String>) =
                        redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(1000).query_async(&mut conn).await.map_err(redis_error)?;
                    keys.extend(batch);
                    if next == 0 {
                        return Ok(keys);
                    }
                    cursor = next;
                }
            }
        }
    }

    /// `wasi:keyvalue/atomics.increment`: INCRBY on Redis (an ASCII decimal value),
    /// an 8-byte little-endian value in memory.
    pub async fn increment(&self, key: &str, delta: i64) -> KvResult<i64> {
        match &self.backend {
            Backend::Memory(map) => {
                let mut map = Self::memory(map);
                let current = match map.get(key) {
                    None => 0,
                    Some(bytes) => i64::from_le_bytes(
                        bytes.as_slice().try_into().map_err(|_| format!("`{key}` holds a value that is not a counter"))?,
                    ),
                };
                let next = current.checked_add(delta).ok_or("counter overflow")?;
                map.insert(key.to_owned(), next.to_le_bytes().to_vec());
                Ok(next)
            }
            Backend::Redis(conn) => conn.clone().incr(key, delta).await.map_err(redis_error),
        }
    }
}

fn redis_error(error: redis::RedisError) -> String {
    format!("redis: {error}")
}
