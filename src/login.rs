//! The login core, the same for every protocol: one place that owns a login from the
//! client's request to its outcome. It chooses the provider, sends the browser out
//! through the provider's [`Connector`], takes the answer back, and finishes the login
//! exactly once. It knows no protocol, no cookie and no page: the browser module turns
//! its results into HTTP, and a protocol only implements [`crate::connector`].

use serde::{Deserialize, Serialize};

use crate::config::{Choice, IdentityProvider};
use crate::connector::SignInStart;
use crate::context::Context;
use crate::error::{HttpError, RESTART};
use crate::failure::{SignInFailure, SignInFailureKind};
use crate::ids::{ProviderId, RequestId, SignInState, digest, random_token, user_code_matches};
use crate::log;
use crate::protocols::{Connector, KeptState, ProviderAnswer};
use crate::secret::Secret;
use crate::store::{KeyValue, LoginOutcome, LoginRequest, Record, SlotKind, UnixTime};

/// Wrong confirmation codes allowed per request before the login is stopped.
pub const MAX_WRONG_CODES: u64 = 5;

/// One browser's sign-in at a provider, stored under its `state` so that any instance
/// can take the provider's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    pub state: SignInState,
    pub request_id: RequestId,
    pub provider_id: ProviderId,
    /// What the protocol kept for the answer (OIDC: nonce and PKCE verifier).
    pub kept: KeptState,
    /// SHA-256 (base64url) of the secret the browser carries: only the browser that
    /// started the sign-in can finish it.
    pub browser_binding_hash: String,
    /// When the browser was sent to the provider.
    pub started_at: UnixTime,
    pub expires_at: UnixTime,
}

impl Record for SignIn {
    const KIND: &'static str = "sign_in";
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}

/// A login request that is still waiting for its user.
pub struct PendingLogin<'c, K> {
    pub ctx: &'c Context<K>,
    pub request: LoginRequest,
}

/// Where the browser goes next, and the secret that binds the sign-in to it.
pub struct Departure {
    pub url: String,
    pub state: SignInState,
    pub browser_secret: Secret,
    /// How long the sign-in (and so its browser binding) lasts, in seconds.
    pub lifetime_secs: u64,
}

/// What a confirmation code did.
pub enum CodeCheck {
    Accepted,
    Wrong {
        attempts_left: u64,
    },
    /// The last attempt was wrong: the login is over, and the client has been told.
    Stopped,
}

impl<'c, K: KeyValue> PendingLogin<'c, K> {
    pub async fn load(ctx: &'c Context<K>, id: &RequestId) -> Result<Self, HttpError> {
        let request = ctx
            .store
            .load_login_request(id, ctx.now)
            .await?
            .ok_or_else(|| HttpError::not_found(format!("This login link is unknown or has expired. {RESTART}")))?;
        if request.outcome != LoginOutcome::Pending {
            return Err(HttpError::conflict(format!("This login has already ended. {RESTART}")));
        }
        Ok(Self { ctx, request })
    }

    /// The provider this login goes to: the one its client named, else the one chosen
    /// on the choice page, else the default. `None`: the user chooses.
    pub fn provider(&self, chosen: Option<&ProviderId>) -> Result<Option<&'c IdentityProvider>, HttpError> {
        let providers = &self.ctx.config.providers;
        let named = match (&self.request.provider_id, chosen) {
            (Some(named), Some(chosen)) if named != chosen => {
                return Err(HttpError::invalid_request(format!("This login is for provider `{}`. {RESTART}", named.as_str())));
            }
            (Some(named), _) | (None, Some(named)) => Some(named),
            (None, None) => None,
        };
        if let Some(named) = named {
            let provider = providers.get(named);
            return provider
                .map(Some)
                .ok_or_else(|| HttpError::not_found(format!("There is no identity provider `{}` here. {RESTART}", named.as_str())));
        }
        match providers.choose(None) {
            Choice::Provider(provider) => Ok(Some(provider)),
            Choice::AskTheUser => Ok(None),
            Choice::None => Err(HttpError::not_configured()),
        }
    }

    /// Starts a sign-in at `provider`: a fresh `state` in its own slot, the
    /// protocol's redirect, and a secret for the browser whose hash the record keeps.
    pub async fn send_to_provider(&self, provider: &IdentityProvider) -> Result<Departure, HttpError> {
        let (ctx, request) = (self.ctx, &self.request);
        let state = SignInState::from_slot(ctx.store.allocate(SlotKind::SignIn, request.expires_at).await?);
        let start = SignInStart { state: &state, force_authn: request.force_authn };
        let departure = Connector::of(provider).begin(ctx, &start).await.map_err(|failure| HttpError::sign_in_failed(&failure))?;
        let browser_secret = random_token().map_err(|_| HttpError::no_randomness())?;
        let sign_in = SignIn {
            state: state.clone(),
            request_id: request.id.clone(),
            provider_id: provider.id.clone(),
            kept: departure.kept,
            browser_binding_hash: digest(browser_secret.expose()),
            started_at: ctx.now,
            expires_at: request.expires_at,
        };
        ctx.store.save_sign_in(&state, &sign_in).await?;
        log::info("login_started").request(&request.id).provider(&provider.id).emit();
        Ok(Departure { url: departure.url, state, browser_secret, lifetime_secs: request.expires_at.saturating_sub(ctx.now) })
    }

    /// Checks the user code typed on the confirmation page. Wrong codes are counted
    /// across instances; the last one allowed stops the login.
    pub async fn check_user_code(&self, typed: &str, provider: &IdentityProvider) -> Result<CodeCheck, HttpError> {
        if user_code_matches(&self.request.user_code, typed) {
            return Ok(CodeCheck::Accepted);
        }
        let wrong = self.ctx.store.count_wrong_code(&self.request.id).await?;
        if wrong < MAX_WRONG_CODES {
            return Ok(CodeCheck::Wrong { attempts_left: MAX_WRONG_CODES - wrong });
        }
        let failure = SignInFailure::new(SignInFailureKind::AccessDenied, "too many wrong confirmation codes");
        record_failure(self.ctx, &self.request.id, &provider.id, &failure).await?;
        Ok(CodeCheck::Stopped)
    }
}

/// A sign-in that finished its login, with what the browser keeps for signing out.
pub struct Completed {
    pub provider_id: ProviderId,
    pub logout_hint: Option<Secret>,
}

/// Takes a provider's answer for the sign-in named `state`: checks that this browser
/// started it (`presented` is given the hash the record keeps), consumes it once,
/// lets its protocol verify the answer, and finishes the login, exactly once.
pub async fn take_answer<K: KeyValue>(
    ctx: &Context<K>,
    state: &SignInState,
    presented: impl FnOnce(&str) -> bool,
    answer: &ProviderAnswer<'_>,
) -> Result<Completed, HttpError> {
    let used_or_expired = || HttpError::invalid_request(format!("This sign-in has expired or was already used. {RESTART}"));
    let sign_in: SignIn = ctx
        .store
        .load_sign_in(state, ctx.now)
        .await?
        .filter(|sign_in: &SignIn| sign_in.state.matches(state))
        .ok_or_else(used_or_expired)?;
    // Checked before consuming, so a forged answer cannot spend the real user's state.
    if !presented(&sign_in.browser_binding_hash) {
        return Err(HttpError::invalid_request(format!("This sign-in was started in another browser, or its cookie was lost. {RESTART}")));
    }
    if !ctx.store.consume_sign_in(state).await? {
        return Err(used_or_expired());
    }
    let Some(provider) = ctx.config.providers.get(&sign_in.provider_id) else {
        return Err(HttpError::not_found(format!("The identity provider of this sign-in is no longer configured. {RESTART}")));
    };
    let result = Connector::of(provider).finish(ctx, &sign_in.kept, answer).await;
    let at_provider_secs = ctx.now.saturating_sub(sign_in.started_at);
    match result {
        Ok(signed_in) => {
            let outcome = LoginOutcome::Authenticated { identity: signed_in.identity };
            if !ctx.store.finish_login_request(&sign_in.request_id, outcome, ctx.now).await? {
                return Err(HttpError::conflict(format!("This login has already ended or expired. {RESTART}")));
            }
            log::info("login_finished")
                .request(&sign_in.request_id)
                .provider(&provider.id)
                .outcome("ok")
                .field("at_provider_secs", at_provider_secs)
                .emit();
            Ok(Completed { provider_id: provider.id.clone(), logout_hint: signed_in.logout_hint })
        }
        Err(failure) => {
            record_failure(ctx, &sign_in.request_id, &provider.id, &failure).await?;
            Err(HttpError::sign_in_failed(&failure))
        }
    }
}

/// Records a failed login for its client (told at once, not at its timeout), exactly once.
async fn record_failure<K: KeyValue>(
    ctx: &Context<K>,
    id: &RequestId,
    provider: &ProviderId,
    failure: &SignInFailure,
) -> Result<(), HttpError> {
    let outcome = LoginOutcome::Failed { error: failure.kind, error_description: failure.description.clone() };
    ctx.store.finish_login_request(id, outcome, ctx.now).await?;
    log::warn("login_finished").request(id).provider(provider).outcome(failure.kind.code()).detail(&failure.description).emit();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::ids::{SlotId, UserId};
    use crate::store::MemoryKeyValue;
    use futures::executor::block_on;

    const NOW: UnixTime = 1_800_000_000;

    fn context() -> Context<MemoryKeyValue> {
        let config = Config::parse(|name| {
            Some(match name {
                "svc_base_uri" => "http://127.0.0.1:3000".into(),
                "login_timeout" => "60".into(),
                "cache_ttl" => "300".into(),
                "instance_id" => "none".into(),
                "state_key" => "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into(),
                "oidc_issuer_uri" | "oidc_provider_origin" => "https://idp.example.com".into(),
                "oidc_client_id" | "oidc_client_secret" => "broker".into(),
                "oidc_code_challenge_method" => "S256".into(),
                "oidc_token_signing_algo" => "RS256".into(),
                "oidc_token_endpoint_auth_method" => "client_secret_basic".into(),
                "assume_client_authorized" | "oidc_select_account" | "prompt_for_authorization" | "status_enabled" => "false".into(),
                "user_code_required" => "true".into(),
                _ => String::new(),
            })
        })
        .unwrap();
        Context::new(config, MemoryKeyValue::default(), NOW)
    }

    async fn pending<'c>(ctx: &'c Context<MemoryKeyValue>, provider_id: Option<&str>) -> PendingLogin<'c, MemoryKeyValue> {
        let request = LoginRequest {
            id: RequestId::from_slot(SlotId::new(7, 9).unwrap()),
            user_id: UserId::from_path_segment("alice").unwrap(),
            provider_id: provider_id.map(|id| ProviderId::parse(id).unwrap()),
            force_authn: false,
            user_code: Secret::new("BCDF-GHJK".into()),
            created_at: NOW,
            expires_at: NOW + 300,
            outcome: LoginOutcome::Pending,
        };
        ctx.store.save_login_request(&request).await.unwrap();
        PendingLogin::load(ctx, &request.id).await.unwrap()
    }

    #[test]
    fn the_provider_a_client_named_cannot_be_swapped_by_the_browser() {
        block_on(async {
            let ctx = context();
            let pending = pending(&ctx, Some("oidc")).await;
            let other = ProviderId::parse("other").unwrap();
            assert!(pending.provider(Some(&other)).is_err());
            assert_eq!(pending.provider(None).unwrap().map(|p| p.id.as_str()), Some("oidc"));
        });
    }

    #[test]
    fn wrong_codes_stop_the_login_once_and_for_all() {
        block_on(async {
            let ctx = context();
            let pending = pending(&ctx, None).await;
            let provider = pending.provider(None).unwrap().unwrap();
            assert!(matches!(pending.check_user_code("bcdf ghjk", provider).await.unwrap(), CodeCheck::Accepted));
            for left in (1..MAX_WRONG_CODES).rev() {
                assert!(
                    matches!(pending.check_user_code("WRONG-CODE", provider).await.unwrap(), CodeCheck::Wrong { attempts_left } if attempts_left == left)
                );
            }
            assert!(matches!(pending.check_user_code("WRONG-CODE", provider).await.unwrap(), CodeCheck::Stopped));
            let stored = ctx.store.load_login_request(&pending.request.id, NOW).await.unwrap().unwrap();
            assert!(matches!(stored.outcome, LoginOutcome::Failed { error: SignInFailureKind::AccessDenied, .. }));
            assert!(PendingLogin::load(&ctx, &pending.request.id).await.is_err(), "an ended login cannot be continued");
        });
    }
}
