//! What every handler needs, built once per request: the configuration, the state
//! store and the clock. Plain data, so the login core and the protocols take it as an
//! argument and unit tests build one over the in-memory double.

use std::sync::OnceLock;
use std::time::Duration;

use crate::host::HostKeyValue;
use crate::login::LoginContext;
use crate::protocol::ProtocolContext;
use crate::settings::{Config, ConfigErrors, Essentials};
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
        let store =
            StateStore::new(crate::host::key_value(), config.essentials.sealer.clone()).holding_at_most(config.max_logins_per_ten_seconds);
        Ok(Self { config, store, now: unix_now() })
    }
}

static CONFIG: OnceLock<Config> = OnceLock::new();
static ESSENTIALS: OnceLock<Essentials> = OnceLock::new();

/// The configuration, read once per component instance. Spin 4 reuses an instance for
/// many requests (up to 128 in turn, 16 at once), and each variable read is a host call
/// that costs Spin a hand-off between threads: reading them per request cost more than
/// the request's store calls. A variable changed while the app runs reaches the
/// instances Spin starts after (an idle instance lives 1 s). Invalid configuration is
/// not kept: it is read and reported again.
pub async fn config() -> Result<&'static Config, ConfigErrors> {
    if let Some(config) = CONFIG.get() {
        return Ok(config);
    }
    let loaded = Config::load().await?;
    Ok(CONFIG.get_or_init(|| loaded))
}

/// What a status call needs, read alone unless this instance has read the whole
/// configuration: the wasi:http 0.2 build reads the configuration for every request.
pub async fn essentials() -> Result<&'static Essentials, ConfigErrors> {
    if let Some(essentials) = loaded_essentials() {
        return Ok(essentials);
    }
    let loaded = Essentials::load().await?;
    Ok(ESSENTIALS.get_or_init(|| loaded))
}

/// The essentials this instance has already read, if it has.
pub fn loaded_essentials() -> Option<&'static Essentials> {
    CONFIG.get().map(|config| &config.essentials).or_else(|| ESSENTIALS.get())
}

#[cfg(test)]
impl<K: crate::state::KeyValue> Context<K> {
    pub fn new(config: Config, kv: K, now: UnixTime) -> Self {
        let config: &'static Config = Box::leak(Box::new(config));
        let store = StateStore::new(kv, config.essentials.sealer.clone());
        Self { config, store, now }
    }
}

impl<K> Context<K> {
    /// What the login core is given of this request.
    pub fn login(&self) -> LoginContext<'_, K> {
        let config = self.config;
        LoginContext {
            sealer: &config.essentials.sealer,
            providers: &config.providers,
            base_url: &config.essentials.base_url,
            store: &self.store,
            now: self.now,
            store_replication: Duration::from_secs(config.essentials.store_replication_secs),
        }
    }

    /// What a protocol is given of this request.
    pub fn protocol(&self) -> ProtocolContext<'_, K> {
        ProtocolContext { base_url: &self.config.essentials.base_url, store: &self.store, now: self.now }
    }
}
