//! OpenID Connect sign-in for a confidential client: authorization code flow with
//! PKCE (S256), `state` and `nonce`, full ID token validation by `openidconnect`, and
//! RFC 9207's `iss`. The [`Oidc`] connector implements the login core's
//! [`SignInProtocol`]; everything OIDC-specific (its state, its provider cache, its
//! checks) lives in this module.

pub mod client_assertion;
mod provider;
pub mod settings;

use std::str::FromStr;

use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreIdToken, CoreIdTokenClaims};
use openidconnect::{
    AuthorizationCode, ClientId, CsrfToken, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::base::failure::describe;
use crate::base::failure::{SignInFailure, SignInFailureKind};
use crate::base::ids::random_token;
use crate::base::parse::CallbackParams;
use crate::base::secret::Secret;
use crate::host::outbound;
use crate::protocol::Identity;
use crate::protocol::ProtocolContext;
use crate::protocol::oidc::settings::{ClientCredential, OidcConfig};
use crate::protocol::signing_key::{LEEWAY_SECS, on_our_clock};
use crate::protocol::{Departure, Health, Routes, SignInProtocol, SignInStart, SignedIn};
use crate::state::{KeyValue, StoreError, UnixTime};
use provider::{IdTokenVerifier, Provider};

/// Where the browser starts an OIDC login, comes back, signs out, and comes back from
/// signing out.
pub const LOGIN_PATH: &str = "/oidc/login";
pub const CALLBACK_PATH: &str = "/oidc/callback";
pub const LOGOUT_PATH: &str = "/oidc/logout";
pub const LOGGED_OUT_PATH: &str = "/oidc/logged_out";
/// The answer comes back by a top-level redirect.
pub const ROUTES: Routes = Routes { login: LOGIN_PATH, answer: CALLBACK_PATH, answer_is_cross_site_post: false };

/// One configured OpenID provider, as a connector.
pub struct Oidc<'a> {
    config: &'a OidcConfig,
}

/// What a sign-in keeps between the redirect and the callback: the `nonce` and the
/// PKCE verifier (256 random bits each), and when a fresh sign-in was demanded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    nonce: Secret,
    pkce_verifier: Secret,
    /// With `forceAuthn` (`prompt=login`): when the browser was sent out. The ID token's
    /// `auth_time` must not be older, or the provider ignored the demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fresh_sign_in_since: Option<UnixTime>,
}

impl<'a> Oidc<'a> {
    pub fn new(config: &'a OidcConfig) -> Self {
        Self { config }
    }

    /// The `redirect_uri` registered at every provider.
    fn callback_url<K>(ctx: &ProtocolContext<'_, K>) -> String {
        format!("{}{CALLBACK_PATH}", ctx.base_url)
    }

    async fn provider<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>) -> Result<Provider<'a>, SignInFailure> {
        Provider::load(ctx.store, self.config, &Self::callback_url(ctx), ctx.now).await
    }
}

impl SignInProtocol for Oidc<'_> {
    type State = Kept;
    type Answer = CallbackParams;

    fn routes(&self) -> Routes {
        ROUTES
    }

    fn answer_is_redeemed_at_provider(&self) -> bool {
        true
    }

    fn issuer(&self) -> &str {
        self.config.issuer.as_str()
    }

    /// The authorization URL: `state` names the sign-in, with a fresh `nonce` and a
    /// PKCE S256 challenge.
    async fn begin<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>, start: &SignInStart<'_>) -> Result<Departure<Kept>, SignInFailure> {
        let (config, provider) = (self.config, self.provider(ctx).await?);
        provider.takes_credential()?;
        let nonce = random_token()?;
        let verifier = PkceCodeVerifier::new(random_token()?.expose().to_owned());
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        let (state_for_url, nonce_for_url) = (start.state.as_str().to_owned(), nonce.expose().to_owned());
        let mut url_request = provider
            .client()
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_for_url),
                move || Nonce::new(nonce_for_url),
            )
            .add_scopes(config.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge);
        let force_authn = start.force_authn || config.force_authn;
        if force_authn {
            url_request = url_request.add_prompt(CoreAuthPrompt::Login);
        }
        if config.select_account {
            url_request = url_request.add_prompt(CoreAuthPrompt::SelectAccount);
        }
        if let Some(max_age) = config.max_age_secs {
            url_request = url_request.set_max_age(std::time::Duration::from_secs(max_age));
        }
        let (url, _, _) = url_request.url();
        let kept = Kept { nonce, pkce_verifier: Secret::new(verifier.into_secret()), fresh_sign_in_since: force_authn.then_some(ctx.now) };
        Ok(Departure { url: url.to_string(), kept })
    }

    /// The callback: RFC 9207's `iss` first (an exact string, required when the
    /// provider advertises it, on error answers too), then the provider's error, or the
    /// code exchange, the ID token's validation and userinfo.
    async fn finish<K: KeyValue>(
        &self,
        ctx: &ProtocolContext<'_, K>,
        kept: &Kept,
        answer: &CallbackParams,
    ) -> Result<SignedIn, SignInFailure> {
        let provider = self.provider(ctx).await?;
        match answer.iss.as_deref() {
            Some(iss) if iss != self.config.issuer.as_str() => {
                return Err(SignInFailure::new(SignInFailureKind::InvalidIssuer, "the sign-in answer came from another issuer"));
            }
            None if provider.sends_iss() => {
                return Err(SignInFailure::new(
                    SignInFailureKind::InvalidIssuer,
                    "the sign-in answer has no `iss`, which this provider puts in every answer (RFC 9207)",
                ));
            }
            _ => {}
        }
        if let Some(error) = &answer.error {
            return Err(SignInFailure::from_provider(error, answer.error_description.as_deref()));
        }
        let Some(code) = &answer.code else {
            return Err(SignInFailure::new(SignInFailureKind::InvalidRequest, "the sign-in answer has no code"));
        };
        self.complete(ctx, provider, kept, code).await
    }

    /// RP-initiated logout: the end-session URL with our client id, the ID token as a
    /// hint, and where to come back to; `None` when the provider offers none.
    async fn logout_url<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>, hint: Option<&Secret>) -> Result<Option<String>, SignInFailure> {
        let provider = self.provider(ctx).await?;
        let Some(endpoint) = provider.end_session_endpoint() else {
            return Ok(None);
        };
        let come_back = PostLogoutRedirectUrl::new(format!("{}{LOGGED_OUT_PATH}", ctx.base_url))
            .map_err(|_| SignInFailure::new(SignInFailureKind::ServerError, "svc_base_uri does not make a valid logout URL"))?;
        let mut request = LogoutRequest::from(endpoint.clone())
            .set_client_id(ClientId::new(self.config.client_id.clone()))
            .set_post_logout_redirect_uri(come_back);
        if let Some(id_token) = hint.and_then(|token| CoreIdToken::from_str(token.expose()).ok()) {
            request = request.set_id_token_hint(&id_token);
        }
        Ok(Some(request.http_get_url().to_string()))
    }

    async fn health<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>) -> Result<Health, StoreError> {
        provider::health(ctx.store, self.config, ctx.now).await
    }

    /// The issuer's origin, and the authorization endpoint's when discovery is cached
    /// (`/readiness` probes and logins keep the cache warm).
    async fn form_origins<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>) -> String {
        let issuer_origin = self.config.issuer.url().origin().ascii_serialization();
        let endpoint_origin = provider::cached_authorization_origin(ctx.store, self.config, ctx.now).await.ok().flatten();
        match endpoint_origin {
            Some(origin) if origin != issuer_origin => format!("{issuer_origin} {origin}"),
            _ => issuer_origin,
        }
    }
}

impl Oidc<'_> {
    async fn complete<K: KeyValue>(
        &self,
        ctx: &ProtocolContext<'_, K>,
        mut provider: Provider<'_>,
        kept: &Kept,
        code: &str,
    ) -> Result<SignedIn, SignInFailure> {
        let config = self.config;
        let no_token_endpoint = || SignInFailure::new(SignInFailureKind::ServerError, "the provider has no token endpoint");
        let mut exchange = provider
            .client()
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| no_token_endpoint())?
            .set_pkce_verifier(PkceCodeVerifier::new(kept.pkce_verifier.expose().to_owned()));
        if let ClientCredential::PrivateKeyJwt(key) = &config.credential {
            // The audience is the token endpoint (OpenID Connect Core §9), as Entra ID requires.
            let token_endpoint = provider.client().token_uri().ok_or_else(no_token_endpoint)?;
            let assertion = key.assertion(&config.client_id, token_endpoint.as_str(), ctx.now)?;
            exchange = exchange
                .add_extra_param("client_assertion_type", client_assertion::JWT_BEARER)
                .add_extra_param("client_assertion", assertion.expose().to_owned());
        }
        let tokens = exchange.request_async(&outbound::send).await.map_err(|error| {
            SignInFailure::new(SignInFailureKind::TokenError, format!("the provider did not exchange the code: {}", describe(&error)))
        })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| SignInFailure::new(SignInFailureKind::InvalidIdToken, "the provider's answer has no ID token"))?;
        let nonce = Nonce::new(kept.nonce.expose().to_owned());

        let verified = id_token.claims(&verifier(&provider, config, kept, ctx.now), &nonce);
        let claims = match verified {
            Err(error) if names_unknown_key(&error) => {
                // The provider rotated its keys since we cached them: fetch once more.
                provider.refresh_keys(ctx.store, ctx.now).await?;
                id_token.claims(&verifier(&provider, config, kept, ctx.now), &nonce).map_err(invalid_id_token)?.clone()
            }
            other => other.map_err(invalid_id_token)?.clone(),
        };
        // OpenID Connect Core §3.1.3.7 step 5, which `openidconnect` leaves to the client.
        if claims.authorized_party().is_some_and(|azp| azp.as_str() != config.client_id) {
            return Err(SignInFailure::new(SignInFailureKind::InvalidIdToken, "the ID token was refused: its azp names another client"));
        }

        let userinfo = match provider.client().user_info(tokens.access_token().clone(), Some(claims.subject().clone())) {
            Ok(request) => Some(
                request
                    .request_async::<openidconnect::EmptyAdditionalClaims, _, openidconnect::core::CoreGenderClaim>(&outbound::send)
                    .await
                    .map_err(|error| {
                        SignInFailure::new(
                            SignInFailureKind::UserinfoError,
                            format!("the provider's userinfo failed: {}", describe(&error)),
                        )
                    })?,
            ),
            Err(_) => None, // the provider has no userinfo endpoint
        };
        let identity = identity(&claims, userinfo.as_ref().map(to_object).unwrap_or_default(), config.verified_email_only);
        Ok(SignedIn { identity, logout_hint: Some(Secret::new(id_token.to_string())) })
    }
}

fn names_unknown_key(error: &openidconnect::ClaimsVerificationError) -> bool {
    matches!(error, openidconnect::ClaimsVerificationError::SignatureVerification(openidconnect::SignatureVerificationError::NoMatchingKey))
}

fn invalid_id_token(error: openidconnect::ClaimsVerificationError) -> SignInFailure {
    SignInFailure::new(SignInFailureKind::InvalidIdToken, format!("the ID token was refused: {}", describe(&error)))
}

/// One verifier with the allow-list and our clock: signature against the provider's
/// keys, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, and `auth_time` under `max_age` or
/// after a forced fresh sign-in.
fn verifier<'a>(provider: &'a Provider<'_>, config: &'a OidcConfig, kept: &Kept, now: UnixTime) -> IdTokenVerifier<'a> {
    let at = |time: UnixTime| chrono::DateTime::from_timestamp(time as i64, 0).unwrap_or_default();
    let (now, fresh_since) = (at(now), kept.fresh_sign_in_since.map(at));
    let leeway = chrono::Duration::seconds(LEEWAY_SECS);
    let max_age = config.max_age_secs;
    on_our_clock(provider.client().id_token_verifier().set_allowed_algs(config.signing_algs.clone()), now).set_auth_time_verifier_fn(
        move |auth_time| match (max_age, auth_time) {
            _ if fresh_since.is_some() && auth_time.is_none() => Err("no auth_time although the login demanded a fresh sign-in".into()),
            (_, Some(at)) if fresh_since.is_some_and(|since| at < since - leeway) => {
                Err(format!("the user signed in at {at}, before this login demanded a fresh sign-in"))
            }
            (None, _) => Ok(()),
            (Some(_), None) => Err("no auth_time although max_age was requested".into()),
            (Some(max_age), Some(at)) if now - at > chrono::Duration::seconds(max_age as i64) + leeway => {
                Err(format!("the user signed in at {at}, longer ago than max_age"))
            }
            (Some(_), Some(_)) => Ok(()),
        },
    )
}

fn to_object(value: &impl serde::Serialize) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The ID token's claims, completed by userinfo (the ID token wins where both speak),
/// without the values that only served the validation, and with `verified_email_only`
/// without an `email` the provider does not say it verified.
fn identity(claims: &CoreIdTokenClaims, userinfo: Map<String, Value>, verified_email_only: bool) -> Identity {
    let mut merged = to_object(claims);
    for internal in ["nonce", "at_hash", "c_hash"] {
        merged.remove(internal);
    }
    for (name, value) in userinfo {
        merged.entry(name).or_insert(value);
    }
    if verified_email_only && merged.get("email_verified") != Some(&Value::Bool(true)) {
        merged.remove("email");
    }
    Identity::from_claims(merged)
}
