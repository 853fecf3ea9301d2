//! The provider's discovery document and signing keys, cached in the key-value store
//! so that any instance can use them without fetching them on every login (HAS does).

use openidconnect::core::{CoreClient, CoreJsonWebKeySet};
use openidconnect::{AuthType, ClientId, EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet, ProviderMetadataWithLogout, RedirectUrl};

use super::{SignInError, describe, outbound};
use crate::config::{OidcConfig, TokenEndpointAuth};
use crate::store::{KeyValue, ProviderCache, StateStore, UnixTime};

/// How long discovery and keys are trusted before they are fetched again. A key
/// rotation in between is caught by the refetch on an unknown `kid`.
const CACHE_SECS: u64 = 3600;

type Client = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

pub struct Provider<'a> {
    config: &'a OidcConfig,
    redirect: RedirectUrl,
    cache: ProviderCache,
    client: Client,
}

impl<'a> Provider<'a> {
    /// From the cache when it is fresh, else by [`discover`].
    pub async fn load<K: KeyValue>(store: &StateStore<K>, config: &'a OidcConfig, redirect_uri: &str, now: UnixTime) -> Result<Self, SignInError> {
        let issuer = config.issuer.as_str();
        let cache = match store.load_provider_cache(issuer, now).await? {
            Some(cache) => cache,
            None => discover(store, config, now).await?,
        };
        let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| SignInError::new("server_error", "svc_base_uri does not make a valid callback URL"))?;
        let client = client(config, &redirect, &cache);
        Ok(Self { config, redirect, cache, client })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Where RP-initiated logout sends the browser, when the provider offers it.
    pub fn end_session_endpoint(&self) -> Option<&EndSessionUrl> {
        self.cache.metadata.additional_metadata().end_session_endpoint.as_ref()
    }

    /// Fetches the signing keys again (after an unknown `kid`) and caches them.
    pub async fn refresh_keys<K: KeyValue>(&mut self, store: &StateStore<K>, now: UnixTime) -> Result<(), SignInError> {
        let jwks = CoreJsonWebKeySet::fetch_async(self.cache.metadata.jwks_uri(), &outbound::send)
            .await
            .map_err(|error| unreachable(&error))?;
        self.cache.jwks = jwks;
        self.cache.expires_at = now + CACHE_SECS;
        store.save_provider_cache(self.config.issuer.as_str(), &self.cache).await?;
        self.client = client(self.config, &self.redirect, &self.cache);
        Ok(())
    }
}

/// Fetches discovery and keys and caches them for every instance. The document must
/// name the configured issuer exactly (OpenID Connect Discovery §4.3: the same string,
/// trailing `/` and all), else the sign-in fails with `issuer_mismatch` naming both.
pub async fn discover<K: KeyValue>(store: &StateStore<K>, config: &OidcConfig, now: UnixTime) -> Result<ProviderCache, SignInError> {
    let url = config.issuer.join(DISCOVERY_PATH).map_err(|error| unreachable(&error))?;
    let request = http::Request::get(url.as_str()).header(http::header::ACCEPT, "application/json").body(Vec::new());
    let response = outbound::send(request.map_err(|error| unreachable(&error))?).await.map_err(|error| unreachable(&error))?;
    if response.status() != http::StatusCode::OK {
        let reason = format!("discovery at {url} answered {}", response.status());
        return Err(SignInError::new("provider_unavailable", format!("the identity provider could not be read: {reason}")));
    }
    let metadata: ProviderMetadataWithLogout = serde_json::from_slice(response.body()).map_err(|error| unreachable(&error))?;
    if metadata.issuer().as_str() != config.issuer.as_str() {
        return Err(SignInError::new(
            ISSUER_MISMATCH,
            format!(
                "the provider's discovery names its issuer `{}`, but the broker is configured with `{}`; they must be the same string",
                metadata.issuer().as_str(),
                config.issuer.as_str()
            ),
        ));
    }
    let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &outbound::send).await.map_err(|error| unreachable(&error))?;
    let cache = ProviderCache { metadata: metadata.set_jwks(jwks.clone()), jwks, expires_at: now + CACHE_SECS };
    store.save_provider_cache(config.issuer.as_str(), &cache).await?;
    Ok(cache)
}

/// The failure code of a provider whose discovery names another issuer.
pub const ISSUER_MISMATCH: &str = "issuer_mismatch";

/// Where discovery lives, relative to the issuer (OpenID Connect Discovery §4).
const DISCOVERY_PATH: &str = ".well-known/openid-configuration";

fn client(config: &OidcConfig, redirect: &RedirectUrl, cache: &ProviderCache) -> Client {
    CoreClient::from_provider_metadata(
        cache.metadata.clone().set_jwks(cache.jwks.clone()),
        ClientId::new(config.client_id.clone()),
        Some(config.client_secret.clone()),
    )
    .set_redirect_uri(redirect.clone())
    .set_auth_type(match config.token_auth {
        TokenEndpointAuth::Basic => AuthType::BasicAuth,
        TokenEndpointAuth::Post => AuthType::RequestBody,
    })
}

fn unreachable(error: &dyn std::error::Error) -> SignInError {
    SignInError::new("provider_unavailable", format!("the identity provider could not be read: {}", describe(error)))
}
