//! What every handler needs, built once per request: the configuration, the state
//! store and the clock. Plain data, so the login core and the protocols take it as an
//! argument and unit tests build one over the in-memory double.

use std::sync::OnceLock;
use std::time::Duration;

use crate::host::HostKeyValue;
use crate::login::LoginContext;
use crate::protocol::ProtocolContext;
use crate::settings::{Config, ConfigErrors};
use crate::state::{StateStore, UnixTime, unix_now};
use crate::web::error::HttpError;

pub struct Context<K = HostKeyValue> {
    pub config: &'static Config,
    pub store: StateStore<K>,
    /// This request's clock: every expiry decision in it uses this one instant.
    pub now: UnixTime,
}

impl Context {
    /// The configuration (every problem at once) and Spin's `default` store, which is
    /// opened by its first call.
    pub async fn load() -> Result<Self, HttpError> {
        let config = config().await?;
        let store = StateStore::new(crate::host::key_value(), config.sealer.clone()).holding_at_most(config.max_logins_per_ten_seconds);
        Ok(Self { config, store, now: unix_now() })
    }
}

/// The configuration, read once per component instance. Spin 4 reuses an instance for
/// many requests (up to 128 in turn, 16 at once), and each variable read is a host call:
/// reading ~27 of them per request cost more than the request's store calls. A variable
/// changed while the app runs reaches the instances Spin starts after (an idle instance
/// lives 1 s). Invalid configuration is not kept: it is read and reported again.
pub async fn config() -> Result<&'static Config, ConfigErrors> {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config);
    }
    let loaded = Config::load().await?;
    Ok(CONFIG.get_or_init(|| loaded))
}

#[cfg(test)]
impl<K: crate::state::KeyValue> Context<K> {
    pub fn new(config: Config, kv: K, now: UnixTime) -> Self {
        let config: &'static Config = Box::leak(Box::new(config));
        let store = StateStore::new(kv, config.sealer.clone());
        Self { config, store, now }
    }
}

impl<K> Context<K> {
    /// What the login core is given of this request.
    pub fn login(&self) -> LoginContext<'_, K> {
        let config = self.config;
        LoginContext {
            sealer: &config.sealer,
            providers: &config.providers,
            base_url: &config.base_url,
            store: &self.store,
            now: self.now,
            store_replication: Duration::from_secs(config.store_replication_secs),
        }
    }

    /// What a protocol is given of this request.
    pub fn protocol(&self) -> ProtocolContext<'_, K> {
        ProtocolContext { base_url: &self.config.base_url, store: &self.store, now: self.now }
    }
}
