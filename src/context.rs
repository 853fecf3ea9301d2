//! What every handler needs, built once per request: the configuration, the state
//! store and the clock. Plain data, so the login core and the protocols take it as an
//! argument and unit tests build one over the in-memory double.

use crate::config::Config;
use crate::error::HttpError;
use crate::store::{SpinKeyValue, StateStore, UnixTime, unix_now};

pub struct Context<K = SpinKeyValue> {
    pub config: Config,
    pub store: StateStore<K>,
    /// This request's clock: every expiry decision in it uses this one instant.
    pub now: UnixTime,
}

impl Context {
    /// The configuration (every problem at once) and Spin's `default` store.
    pub async fn load() -> Result<Self, HttpError> {
        let config = Config::load().await?;
        let store = StateStore::new(SpinKeyValue::open().await?, config.sealer.clone());
        Ok(Self { config, store, now: unix_now() })
    }
}

#[cfg(test)]
impl<K: crate::store::KeyValue> Context<K> {
    pub fn new(config: Config, kv: K, now: UnixTime) -> Self {
        let store = StateStore::new(kv, config.sealer.clone());
        Self { config, store, now }
    }
}
