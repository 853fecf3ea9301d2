//! OpenID Connect sign-in for a confidential client: authorization code flow with
//! PKCE (S256), `state` and `nonce`, and full ID token validation by `openidconnect`.
//!
//! Plain functions over the configuration, the state store and the provider; the
//! browser-facing handlers in `login.rs` call them.

mod outbound;
mod provider;

use std::fmt;

use std::str::FromStr;

use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier};
use openidconnect::{
    AuthorizationCode, ClientId, CsrfToken, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, Scope, TokenResponse,
};
use serde_json::{Map, Value};

use crate::config::OidcConfig;
use crate::ids::{ProviderId, random_token};
use crate::store::{Identity, KeyValue, LoginRequest, ProviderHealth, SignIn, SlotKind, StateStore, StoreError, UnixTime};
use provider::Provider;

/// How long `/readiness` trusts its last look at a provider.
const HEALTH_SECS: u64 = 5;

/// Clock skew tolerated between us and the provider, for `exp` and `iat`.
const LEEWAY_SECS: i64 = 60;

/// Why a sign-in failed: a stable code (stored for the client's status call) and a
/// description for people. Never contains a secret.
#[derive(Debug)]
pub struct SignInError {
    pub code: &'static str,
    pub description: String,
}

impl SignInError {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self { code, description: description.into() }
    }

    /// The provider answered the callback with an error (RFC 6749 §4.1.2.1).
    pub fn from_provider(error: &str, description: Option<&str>) -> Self {
        let error: String = error.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
        let detail = description.map(|d| d.chars().filter(|c| !c.is_control()).take(200).collect::<String>());
        Self::new("access_denied", format!("the identity provider refused the sign-in ({error}{})", detail.map(|d| format!(": {d}")).unwrap_or_default()))
    }
}

impl fmt::Display for SignInError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl From<getrandom::Error> for SignInError {
    fn from(_: getrandom::Error) -> Self {
        Self::new("server_error", "the system has no randomness to offer")
    }
}

impl From<StoreError> for SignInError {
    fn from(error: StoreError) -> Self {
        crate::log::error("store_error").detail(&error.to_string()).emit();
        Self::new("temporarily_unavailable", "the state store is not answering; try again shortly")
    }
}

/// Where to send the browser, and the sign-in record and cookie secret that go with it.
pub struct Authorization {
    pub url: String,
    pub sign_in: SignIn,
    /// Goes into the browser's cookie; only its hash is stored.
    pub browser_secret: String,
}

/// Starts a sign-in for `request` at provider `provider_id`: a fresh `state` (128
/// random bits, naming the sign-in's slot), `nonce` and PKCE verifier (256 random
/// bits each), bound to this browser. The sign-in may last as long as the request.
pub async fn authorize<K: KeyValue>(
    store: &StateStore<K>,
    provider_id: &ProviderId,
    config: &OidcConfig,
    redirect_uri: &str,
    request: &LoginRequest,
    now: UnixTime,
) -> Result<Authorization, SignInError> {
    let provider = Provider::load(store, config, redirect_uri, now).await?;
    let state = store.allocate(SlotKind::SignIn, request.expires_at).await?;
    let (nonce, browser_secret) = (random_token()?, random_token()?);
    let verifier = PkceCodeVerifier::new(random_token()?);
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);

    let (state_for_url, nonce_for_url) = (state.as_str().to_owned(), nonce.clone());
    let mut url_request = provider
        .client()
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, move || CsrfToken::new(state_for_url), move || Nonce::new(nonce_for_url))
        .add_scopes(config.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge);
    if request.force_authn || config.force_authn {
        url_request = url_request.add_prompt(CoreAuthPrompt::Login);
    }
    if config.select_account {
        url_request = url_request.add_prompt(CoreAuthPrompt::SelectAccount);
    }
    if let Some(max_age) = config.max_age_secs {
        url_request = url_request.set_max_age(std::time::Duration::from_secs(max_age));
    }
    let (url, _, _) = url_request.url();
    Ok(Authorization {
        url: url.to_string(),
        sign_in: SignIn {
            state,
            request_id: request.id.clone(),
            provider_id: provider_id.clone(),
            nonce,
            pkce_verifier: verifier.into_secret(),
            browser_binding_hash: crate::ids::digest(&browser_secret),
            started_at: now,
            expires_at: request.expires_at,
        },
        browser_secret,
    })
}

/// A finished sign-in: the identity for the client, and the ID token the browser
/// keeps for signing out.
pub struct SignedIn {
    pub identity: Identity,
    pub id_token: String,
}

/// Finishes a consumed sign-in: exchanges the code, validates the ID token, reads
/// userinfo, and returns the identity for the client.
pub async fn complete<K: KeyValue>(
    store: &StateStore<K>,
    config: &OidcConfig,
    redirect_uri: &str,
    sign_in: &SignIn,
    code: &str,
    now: UnixTime,
) -> Result<SignedIn, SignInError> {
    let mut provider = Provider::load(store, config, redirect_uri, now).await?;
    let tokens = provider
        .client()
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|_| SignInError::new("server_error", "the provider has no token endpoint"))?
        .set_pkce_verifier(PkceCodeVerifier::new(sign_in.pkce_verifier.clone()))
        .request_async(&outbound::send)
        .await
        .map_err(|error| SignInError::new("token_error", format!("the provider did not exchange the code: {}", describe(&error))))?;
    let id_token = tokens.id_token().ok_or_else(|| SignInError::new("invalid_id_token", "the provider's answer has no ID token"))?;
    let nonce = Nonce::new(sign_in.nonce.clone());

    let verified = id_token.claims(&verifier(&provider, config, now), &nonce);
    let claims = match verified {
        Err(error) if names_unknown_key(&error) => {
            // The provider rotated its keys since we cached them: fetch once more.
            provider.refresh_keys(store, now).await?;
            id_token.claims(&verifier(&provider, config, now), &nonce).map_err(invalid_id_token)?.clone()
        }
        other => other.map_err(invalid_id_token)?.clone(),
    };
    // OpenID Connect Core §3.1.3.7 step 5, which `openidconnect` leaves to the client.
    if claims.authorized_party().is_some_and(|azp| azp.as_str() != config.client_id) {
        return Err(SignInError::new("invalid_id_token", "the ID token was refused: its azp names another client"));
    }

    let userinfo = match provider.client().user_info(tokens.access_token().clone(), Some(claims.subject().clone())) {
        Ok(request) => Some(
            request
                .request_async::<openidconnect::EmptyAdditionalClaims, _, openidconnect::core::CoreGenderClaim>(&outbound::send)
                .await
                .map_err(|error| SignInError::new("userinfo_error", format!("the provider's userinfo failed: {}", describe(&error))))?,
        ),
        Err(_) => None, // the provider has no userinfo endpoint
    };
    Ok(SignedIn { identity: identity(&claims, userinfo.as_ref().map(to_object).unwrap_or_default()), id_token: id_token.to_string() })
}

/// Where a confirmed login's form submission may end up, for the confirmation page's
/// CSP: the issuer's origin, and the authorization endpoint's when discovery is cached.
/// Read from the cache only, so that no provider is contacted before the user
/// confirms; `/readiness` probes and logins keep the cache warm.
pub async fn authorization_origins<K: KeyValue>(store: &StateStore<K>, config: &OidcConfig, now: UnixTime) -> Result<String, StoreError> {
    let issuer_origin = config.issuer.url().origin().ascii_serialization();
    let cached = store.load_provider_cache(config.issuer.as_str(), now).await?;
    let endpoint_origin = cached.map(|cache| cache.metadata.authorization_endpoint().url().origin().ascii_serialization());
    Ok(match endpoint_origin {
        Some(origin) if origin != issuer_origin => format!("{issuer_origin} {origin}"),
        _ => issuer_origin,
    })
}

/// RP-initiated logout: the provider's end-session URL with our client id, the ID
/// token as a hint, and where to come back to; `None` when the provider offers none.
pub async fn logout_url<K: KeyValue>(
    store: &StateStore<K>,
    config: &OidcConfig,
    redirect_uri: &str,
    id_token: Option<&str>,
    post_logout_redirect_uri: &str,
    now: UnixTime,
) -> Result<Option<String>, SignInError> {
    let provider = Provider::load(store, config, redirect_uri, now).await?;
    let Some(endpoint) = provider.end_session_endpoint() else {
        return Ok(None);
    };
    let come_back = PostLogoutRedirectUrl::new(post_logout_redirect_uri.to_owned())
        .map_err(|_| SignInError::new("server_error", "svc_base_uri does not make a valid logout URL"))?;
    let mut request = LogoutRequest::from(endpoint.clone()).set_client_id(ClientId::new(config.client_id.clone())).set_post_logout_redirect_uri(come_back);
    if let Some(id_token) = id_token.and_then(|token| CoreIdToken::from_str(token).ok()) {
        request = request.set_id_token_hint(&id_token);
    }
    Ok(Some(request.http_get_url().to_string()))
}

/// How `/readiness` finds a provider: its discovery answers and names the configured
/// issuer, or why not. A fresh look refreshes the cached discovery and keys too.
pub async fn health<K: KeyValue>(store: &StateStore<K>, provider_id: &ProviderId, config: &OidcConfig, now: UnixTime) -> Result<ProviderHealth, StoreError> {
    let issuer = config.issuer.as_str();
    if let Some(health) = store.load_provider_health(issuer, now).await? {
        return Ok(health);
    }
    let (reachable, problem) = match provider::discover(store, config, now).await {
        Ok(_) => (true, None),
        Err(failure) => {
            crate::log::warn("provider_not_ready").provider(provider_id).outcome(failure.code).detail(&failure.description).emit();
            // An issuer mismatch names two public strings: the operator needs to see them.
            let mismatch = failure.code == provider::ISSUER_MISMATCH;
            (mismatch, mismatch.then_some(failure.description))
        }
    };
    let health = ProviderHealth { reachable, problem, expires_at: now + HEALTH_SECS };
    store.save_provider_health(issuer, &health).await?;
    Ok(health)
}

fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(300).collect()
}

fn names_unknown_key(error: &openidconnect::ClaimsVerificationError) -> bool {
    matches!(
        error,
        openidconnect::ClaimsVerificationError::SignatureVerification(openidconnect::SignatureVerificationError::NoMatchingKey)
    )
}

fn invalid_id_token(error: openidconnect::ClaimsVerificationError) -> SignInError {
    SignInError::new("invalid_id_token", format!("the ID token was refused: {}", describe(&error)))
}

/// One verifier with the allow-list and our clock: signature against the provider's
/// keys, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce` (and `auth_time` under `max_age`).
fn verifier<'a>(provider: &'a Provider<'_>, config: &'a OidcConfig, now: UnixTime) -> CoreIdTokenVerifier<'a> {
    let now = chrono::DateTime::from_timestamp(now as i64, 0).unwrap_or_default();
    let leeway = chrono::Duration::seconds(LEEWAY_SECS);
    let max_age = config.max_age_secs;
    provider
        .client()
        .id_token_verifier()
        .set_allowed_algs(config.signing_algs.clone())
        .set_time_fn(move || now - leeway)
        .set_issue_time_verifier_fn(move |issued| {
            if issued > now + leeway { Err(format!("issued in the future ({issued})")) } else { Ok(()) }
        })
        .set_auth_time_verifier_fn(move |auth_time| match (max_age, auth_time) {
            (None, _) => Ok(()),
            (Some(_), None) => Err("no auth_time although max_age was requested".into()),
            (Some(max_age), Some(at)) if now - at > chrono::Duration::seconds(max_age as i64) + leeway => {
                Err(format!("the user signed in at {at}, longer ago than max_age"))
            }
            (Some(_), Some(_)) => Ok(()),
        })
}

fn to_object(value: &impl serde::Serialize) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The ID token's claims, completed by userinfo (the ID token wins where both speak),
/// without the values that only served the validation.
fn identity(claims: &CoreIdTokenClaims, userinfo: Map<String, Value>) -> Identity {
    let mut merged = to_object(claims);
    for internal in ["nonce", "at_hash", "c_hash"] {
        merged.remove(internal);
    }
    for (name, value) in userinfo {
        merged.entry(name).or_insert(value);
    }
    Identity::from_claims(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_are_described_without_control_characters() {
        let error = SignInError::from_provider("access_denied\n", Some("user\r\ncancelled"));
        assert_eq!(error.code, "access_denied");
        assert!(error.description.contains("access_denied: usercancelled"), "{}", error.description);
    }
}
