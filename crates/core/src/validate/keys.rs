//! The provider's key set for `/oauth/validate`: cached in the store for every instance
//! and kept parsed in this component instance, and fetched again after a token names
//! an unknown `kid` at most once a minute across all instances, so that a stream of
//! made-up `kid`s cannot make the broker hammer the provider.

use std::rc::Rc;

use openidconnect::{JsonWebKeySet, JsonWebKeySetUrl};
use serde::{Deserialize, Serialize};

use super::ValidationError;
use crate::base::failure::describe;
use crate::host::outbound;
use crate::protocol::signing_key::SigningKey;
use crate::state::{CacheKey, KeyValue, Record, StateStore, UnixTime, cache_key, memo};

/// How long a fetched key set is used before it is fetched again (jwks-rsa's default,
/// HAS's library). A rotation in between is caught by the refetch on an unknown `kid`.
const CACHE_SECS: u64 = 600;

pub type Jwks = JsonWebKeySet<SigningKey>;

#[derive(Debug, Serialize, Deserialize)]
pub struct FetchedKeys {
    pub jwks: Jwks,
    fetched_at: UnixTime,
    expires_at: UnixTime,
}

impl Record for FetchedKeys {
    const KIND: &'static str = "oauth_jwks";
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}

/// This instance's key set, under its URL, until it expires.
fn remembered(uri: &JsonWebKeySetUrl, now: UnixTime) -> Option<Rc<FetchedKeys>> {
    memo::recall(&memo_name(uri), now)
}

fn remember(uri: &JsonWebKeySetUrl, keys: FetchedKeys) -> Rc<FetchedKeys> {
    let expires_at = keys.expires_at;
    memo::keep(memo_name(uri), keys, expires_at)
}

fn memo_name(uri: &JsonWebKeySetUrl) -> String {
    format!("oauth-jwks {}", uri.as_str())
}

fn cache_of(uri: &JsonWebKeySetUrl) -> CacheKey {
    cache_key("oauth-jwks", uri.as_str())
}

/// The key set as last fetched: from this instance, else from the store, else from the provider.
pub async fn current<K: KeyValue>(
    store: &StateStore<K>,
    uri: &JsonWebKeySetUrl,
    now: UnixTime,
) -> Result<Rc<FetchedKeys>, ValidationError> {
    if let Some(keys) = remembered(uri, now) {
        return Ok(keys);
    }
    match store.load_cached(&cache_of(uri), now).await? {
        Some(keys) => Ok(remember(uri, keys)),
        None => fetch(store, uri, now).await,
    }
}

/// After a token named a key that `used` lacks: a newer key set, if another instance
/// fetched one or this one may fetch now (once a minute across instances), else `None`.
pub async fn newer_than<K: KeyValue>(
    store: &StateStore<K>,
    uri: &JsonWebKeySetUrl,
    used: &FetchedKeys,
    now: UnixTime,
) -> Result<Option<Rc<FetchedKeys>>, ValidationError> {
    if let Some(stored) = store.load_cached::<FetchedKeys>(&cache_of(uri), now).await?
        && stored.fetched_at > used.fetched_at
    {
        return Ok(Some(remember(uri, stored)));
    }
    if !store.claim_minute(&format!("oauth-jwks {}", uri.as_str()), now).await? {
        return Ok(None);
    }
    fetch(store, uri, now).await.map(Some)
}

async fn fetch<K: KeyValue>(store: &StateStore<K>, uri: &JsonWebKeySetUrl, now: UnixTime) -> Result<Rc<FetchedKeys>, ValidationError> {
    let jwks = Jwks::fetch_async(uri, &outbound::send).await.map_err(|error| ValidationError::KeysUnavailable(describe(&error)))?;
    let keys = FetchedKeys { jwks, fetched_at: now, expires_at: now + CACHE_SECS };
    store.save_cached(&cache_of(uri), &keys).await?;
    Ok(remember(uri, keys))
}
