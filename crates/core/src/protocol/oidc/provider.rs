//! The provider's discovery document and signing keys, cached in the key-value store
//! so that any instance can use them without fetching them on every login (HAS does),
//! and kept parsed in the component instance too, so that the logins an instance
//! serves in a row (Spin 4 reuses an instance for up to 128 requests) neither read nor
//! parse them again. Also the provider's health as `/readiness` last saw it.

use std::rc::Rc;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim,
    CoreGrantType, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenResponse,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthType, ClientId, EmptyAdditionalClaims, EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    JsonWebKeySet, LogoutProviderMetadata, ProviderMetadata, RedirectUrl, StandardErrorResponse,
};
use serde::{Deserialize, Serialize};

use crate::base::failure::describe;
use crate::base::failure::{SignInFailure, SignInFailureKind};
use crate::host::outbound;
use crate::protocol::Health;
use crate::protocol::oidc::settings::{ClientCredential, OidcConfig, TokenEndpointAuth};
use crate::protocol::signing_key::SigningKey;
use crate::state::{KeyValue, Record, StateStore, StoreError, UnixTime, cache_key, memo};

/// How long discovery and keys are trusted before they are fetched again. A key
/// rotation in between is caught by the refetch on an unknown `kid`.
const CACHE_SECS: u64 = 3600;

/// How long `/readiness` trusts its last look at a provider.
const HEALTH_SECS: u64 = 5;

/// Where discovery lives, relative to the issuer (OpenID Connect Discovery §4).
const DISCOVERY_PATH: &str = ".well-known/openid-configuration";

/// What discovery says beyond `openidconnect`'s fields: whether the provider puts RFC
/// 9207's `iss` in every authorization answer, which it then must.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IssParameter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorization_response_iss_parameter_supported: Option<bool>,
}

impl AdditionalProviderMetadata for IssParameter {}

/// `openidconnect`'s core types, with our [`SigningKey`] in place of `CoreJsonWebKey`.
type Jwks = JsonWebKeySet<SigningKey>;
type Metadata = ProviderMetadata<
    LogoutProviderMetadata<IssParameter>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    SigningKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;
pub type Client = openidconnect::Client<
    EmptyAdditionalClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    SigningKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    CoreTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;
pub type IdTokenVerifier<'a> = openidconnect::IdTokenVerifier<'a, SigningKey>;

/// Discovery and signing keys, cached so that a login does not fetch them again.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProviderCache {
    metadata: Metadata,
    jwks: Jwks,
    expires_at: UnixTime,
}

impl Record for ProviderCache {
    const KIND: &'static str = "provider_metadata";
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}

/// Whether the provider's discovery answered when `/readiness` last asked: cached
/// briefly and shared by every instance, so frequent probes do not become traffic to
/// the provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProviderHealth {
    reachable: bool,
    #[serde(default)]
    problem: Option<String>,
    expires_at: UnixTime,
}

impl Record for ProviderHealth {
    const KIND: &'static str = "provider_health";
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}

fn cache_of(config: &OidcConfig) -> crate::state::CacheKey {
    cache_key("provider", config.issuer.as_str())
}

fn health_of(config: &OidcConfig) -> crate::state::CacheKey {
    cache_key("provider-health", config.issuer.as_str())
}

/// A provider as a login uses it: the cached discovery and keys, and the client built
/// from them for one configured provider.
struct Loaded {
    cache: ProviderCache,
    client: Client,
}

/// This instance's provider, under its client and issuer, until its cache expires.
fn remembered(config: &OidcConfig, now: UnixTime) -> Option<Rc<Loaded>> {
    memo::recall(&memo_name(config), now)
}

fn remember(config: &OidcConfig, redirect: &RedirectUrl, cache: ProviderCache) -> Rc<Loaded> {
    let expires_at = cache.expires_at;
    memo::keep(memo_name(config), Loaded { client: client(config, redirect, &cache), cache }, expires_at)
}

fn memo_name(config: &OidcConfig) -> String {
    format!("oidc-provider {} {}", config.client_id, config.issuer.as_str())
}

pub struct Provider<'a> {
    config: &'a OidcConfig,
    redirect: RedirectUrl,
    loaded: Rc<Loaded>,
}

impl<'a> Provider<'a> {
    /// From this instance's memory, else from the store's cache when it is fresh, else
    /// by [`discover`].
    pub async fn load<K: KeyValue>(
        store: &StateStore<K>,
        config: &'a OidcConfig,
        redirect_uri: &str,
        now: UnixTime,
    ) -> Result<Self, SignInFailure> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|_| SignInFailure::new(SignInFailureKind::ServerError, "svc_base_uri does not make a valid callback URL"))?;
        if let Some(loaded) = remembered(config, now) {
            return Ok(Self { config, redirect, loaded });
        }
        let cache = match store.load_cached(&cache_of(config), now).await? {
            Some(cache) => cache,
            None => discover(store, config, now).await?,
        };
        let loaded = remember(config, &redirect, cache);
        Ok(Self { config, redirect, loaded })
    }

    pub fn client(&self) -> &Client {
        &self.loaded.client
    }

    /// Whether the provider advertises RFC 9207's `iss` (§3): then an answer without it
    /// is refused, so that an answer made to look like another provider's cannot pass.
    pub fn sends_iss(&self) -> bool {
        self.loaded.cache.metadata.additional_metadata().additional_metadata.authorization_response_iss_parameter_supported == Some(true)
    }

    /// A client with a key needs a provider that takes `private_key_jwt`: when discovery
    /// lists the methods its token endpoint takes and this is not one, the sign-in
    /// fails before the person is sent there.
    pub fn takes_credential(&self) -> Result<(), SignInFailure> {
        let listed = self.loaded.cache.metadata.token_endpoint_auth_methods_supported();
        match (&self.config.credential, listed) {
            (ClientCredential::PrivateKeyJwt(_), Some(methods)) if !methods.contains(&CoreClientAuthMethod::PrivateKeyJwt) => {
                Err(SignInFailure::new(
                    SignInFailureKind::TokenError,
                    "the provider's discovery does not list private_key_jwt in token_endpoint_auth_methods_supported, so it would not take the broker's client key: give the broker a client secret for this provider instead",
                ))
            }
            _ => Ok(()),
        }
    }

    /// Where RP-initiated logout sends the browser, when the provider offers it.
    pub fn end_session_endpoint(&self) -> Option<&EndSessionUrl> {
        self.loaded.cache.metadata.additional_metadata().end_session_endpoint.as_ref()
    }

    /// Fetches the signing keys again (after an unknown `kid`) and caches them.
    pub async fn refresh_keys<K: KeyValue>(&mut self, store: &StateStore<K>, now: UnixTime) -> Result<(), SignInFailure> {
        let metadata = &self.loaded.cache.metadata;
        let jwks = Jwks::fetch_async(metadata.jwks_uri(), &outbound::send).await.map_err(|error| unreachable(&error))?;
        let cache = ProviderCache { metadata: metadata.clone(), jwks, expires_at: now + CACHE_SECS };
        store.save_cached(&cache_of(self.config), &cache).await?;
        self.loaded = remember(self.config, &self.redirect, cache);
        Ok(())
    }
}

/// The authorization endpoint's origin, from the caches only.
pub async fn cached_authorization_origin<K: KeyValue>(
    store: &StateStore<K>,
    config: &OidcConfig,
    now: UnixTime,
) -> Result<Option<String>, StoreError> {
    let origin = |cache: &ProviderCache| cache.metadata.authorization_endpoint().url().origin().ascii_serialization();
    if let Some(loaded) = remembered(config, now) {
        return Ok(Some(origin(&loaded.cache)));
    }
    let cached: Option<ProviderCache> = store.load_cached(&cache_of(config), now).await?;
    Ok(cached.as_ref().map(origin))
}

/// How `/readiness` finds the provider: its discovery answers and names the configured
/// issuer, or why not. A fresh look refreshes the cached discovery and keys too.
pub async fn health<K: KeyValue>(store: &StateStore<K>, config: &OidcConfig, now: UnixTime) -> Result<Health, StoreError> {
    if let Some(health) = store.load_cached::<ProviderHealth>(&health_of(config), now).await? {
        return Ok(Health { reachable: health.reachable, problem: health.problem });
    }
    let (reachable, problem) = match discover(store, config, now).await {
        Ok(_) => (true, None),
        Err(failure) => {
            crate::base::log::warn("provider_not_ready")
                .field("issuer", config.issuer.as_str())
                .outcome(failure.kind.code())
                .detail(&failure.description)
                .emit();
            // An issuer mismatch names two public strings: the operator needs to see them.
            let mismatch = failure.kind == SignInFailureKind::IssuerMismatch;
            (mismatch, mismatch.then_some(failure.description))
        }
    };
    let health = ProviderHealth { reachable, problem, expires_at: now + HEALTH_SECS };
    store.save_cached(&health_of(config), &health).await?;
    Ok(Health { reachable: health.reachable, problem: health.problem })
}

/// Fetches discovery and keys and caches them for every instance. The document must
/// name the configured issuer exactly (OpenID Connect Discovery §4.3: the same string,
/// trailing `/` and all), else the sign-in fails with `issuer_mismatch` naming both.
async fn discover<K: KeyValue>(store: &StateStore<K>, config: &OidcConfig, now: UnixTime) -> Result<ProviderCache, SignInFailure> {
    let url = config.issuer.join(DISCOVERY_PATH).map_err(|error| unreachable(&error))?;
    let request = http::Request::get(url.as_str()).header(http::header::ACCEPT, "application/json").body(Vec::new());
    let response = outbound::send(request.map_err(|error| unreachable(&error))?).await.map_err(|error| unreachable(&error))?;
    if response.status() != http::StatusCode::OK {
        let reason = format!("discovery at {url} answered {}", response.status());
        return Err(SignInFailure::new(
            SignInFailureKind::ProviderUnavailable,
            format!("the identity provider could not be read: {reason}"),
        ));
    }
    let metadata: Metadata = serde_json::from_slice(response.body()).map_err(|error| unreachable(&error))?;
    if metadata.issuer().as_str() != config.issuer.as_str() {
        let (published, configured) = (metadata.issuer().as_str(), config.issuer.as_str());
        return Err(SignInFailure::new(
            SignInFailureKind::IssuerMismatch,
            format!(
                "the provider's discovery names its issuer `{published}`, but the broker is configured with `{configured}`; they must be the same string"
            ),
        ));
    }
    let jwks = Jwks::fetch_async(metadata.jwks_uri(), &outbound::send).await.map_err(|error| unreachable(&error))?;
    let cache = ProviderCache { metadata: metadata.set_jwks(jwks.clone()), jwks, expires_at: now + CACHE_SECS };
    store.save_cached(&cache_of(config), &cache).await?;
    Ok(cache)
}

/// With a key, the client has no secret: `oauth2` then puts `client_id` in the form
/// and sends no `Authorization` header, and the assertion joins the form.
fn client(config: &OidcConfig, redirect: &RedirectUrl, cache: &ProviderCache) -> Client {
    let (secret, auth_type) = match &config.credential {
        ClientCredential::Secret(secret, TokenEndpointAuth::Basic) => (Some(secret.clone()), AuthType::BasicAuth),
        ClientCredential::Secret(secret, TokenEndpointAuth::Post) => (Some(secret.clone()), AuthType::RequestBody),
        ClientCredential::PrivateKeyJwt(_) => (None, AuthType::RequestBody),
    };
    Client::from_provider_metadata(cache.metadata.clone().set_jwks(cache.jwks.clone()), ClientId::new(config.client_id.clone()), secret)
        .set_redirect_uri(redirect.clone())
        .set_auth_type(auth_type)
}

fn unreachable(error: &dyn std::error::Error) -> SignInFailure {
    SignInFailure::new(SignInFailureKind::ProviderUnavailable, format!("the identity provider could not be read: {}", describe(error)))
}
