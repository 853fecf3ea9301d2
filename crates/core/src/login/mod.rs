//! The login core, the same for every protocol: one place that owns a login from the
//! client's request to its outcome. It chooses the provider, sends the browser out
//! through the provider's [`Connector`], takes the answer back, and finishes the login
//! exactly once. It knows no protocol, no cookie and no page: the browser module turns
//! its results into HTTP, and a protocol only implements [`crate::protocol`].

pub mod client_auth;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod error;
pub mod handles;
pub mod records;
mod store;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::base::failure::{SignInFailure, SignInFailureKind};
use crate::base::ids::{LoginId, ProviderId, SignInState, UserId, user_code_matches};
use crate::base::log;
use crate::base::secret::Secret;
use crate::login::handles::{LinkToken, login_handle, open_login};
use crate::login::records::{LoginOutcome, LoginRequest};
use crate::protocol::registry::{Choice, Connector, IdentityProvider, KeptState, ProviderAnswer, Providers};
use crate::protocol::{ProtocolContext, SignInStart};
use crate::state::{KeyValue, Record, SealedText, Sealer, StateStore, StoreError, UnixTime, seal_record};

pub use error::LoginError;

/// What the login core works with, for one request: the sealing key, the providers,
/// the store, the clock, and where the broker answers (for the protocols).
pub struct LoginContext<'a, K> {
    pub sealer: &'a Sealer,
    pub providers: &'a Providers,
    pub base_url: &'a str,
    pub store: &'a StateStore<K>,
    pub now: UnixTime,
    /// On a replicated store, the longest a write takes to reach every region; zero
    /// for one store.
    pub store_replication: Duration,
}

// By hand: derived, they would ask `K: Copy` of the store's backend.
impl<K> Clone for LoginContext<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for LoginContext<'_, K> {}

impl<'a, K> LoginContext<'a, K> {
    fn protocol(&self) -> ProtocolContext<'a, K> {
        ProtocolContext { base_url: self.base_url, store: self.store, now: self.now }
    }
}

/// Confirmation attempts allowed per request (the right code included) before the
/// login is stopped.
pub const MAX_CODE_ATTEMPTS: u64 = 5;

/// One browser's sign-in at a provider. The browser carries it, sealed to its `state`
/// (see [`Departure::sealed_sign_in`]), so that any instance can take the provider's
/// answer and only the browser that started the sign-in can bring it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    pub login: LoginId,
    /// Whom the client asked to sign in, for the answer it gets.
    pub user_id: UserId,
    pub provider_id: ProviderId,
    /// What the protocol kept for the answer (OIDC: nonce and PKCE verifier).
    pub kept: KeptState,
    /// When the browser was sent to the provider.
    pub started_at: UnixTime,
}

impl Record for SignIn {
    const KIND: &'static str = "sign_in";
    fn expires_at(&self) -> UnixTime {
        self.login.expires_at()
    }
}

/// What a sign-in is sealed to: its own `state`, so it opens for no other answer.
fn sign_in_binding(state: &SignInState) -> String {
    format!("lb:sign-in:{}", state.as_str())
}

/// A login request that is still waiting for its user, as its login link carries it.
pub struct PendingLogin<'c, K> {
    pub ctx: LoginContext<'c, K>,
    pub request: LoginRequest,
    /// The handle from the login link, for the links and forms of the pages that follow.
    pub handle: String,
}

/// Where the browser goes next, and the sign-in it must bring back.
pub struct Departure {
    pub url: String,
    pub state: SignInState,
    /// The sign-in, sealed to `state`, for the browser to keep.
    pub sealed_sign_in: String,
    /// How long the sign-in lasts, in seconds.
    pub lifetime_secs: u64,
}

/// What a confirmation code did.
pub enum CodeCheck {
    Accepted,
    Wrong {
        attempts_left: u64,
    },
    /// No attempts are left: the login is over, and the client has been told.
    Stopped,
}

impl<'c, K: KeyValue> PendingLogin<'c, K> {
    /// Opens the login link's handle: a short link reads its request from the store
    /// (one read); a sealed handle, or the client's `request`, carries it whole. The
    /// pages that follow carry the request sealed, so that no later step reads it again.
    pub async fn open(ctx: LoginContext<'c, K>, handle: &str) -> Result<Self, LoginError> {
        let unknown = || LoginError::UnknownLink;
        if let Some(link) = LinkToken::parse(handle) {
            let request = ctx.store.load_login_request(link.login(), &link.secret(), ctx.now).await?.ok_or_else(unknown)?;
            let handle = login_handle(ctx.sealer, &request)?;
            return Ok(Self { ctx, request, handle });
        }
        let presented = SealedText::parse(handle).ok_or(LoginError::MalformedLink)?;
        let request = open_login(&presented, ctx.sealer, ctx.now).ok_or_else(unknown)?;
        Ok(Self { ctx, request, handle: handle.to_owned() })
    }

    /// The provider this login goes to: the one its client named, else the default (or
    /// the only one), else the one the user chose on the choice page. `None`: the user
    /// chooses. The browser cannot move a login elsewhere than its client or the
    /// operator settled: with a default, the user is offered no choice.
    pub fn provider(&self, chosen: Option<&ProviderId>) -> Result<Option<&'c IdentityProvider>, LoginError> {
        let providers = &self.ctx.providers;
        let settled = match (&self.request.provider_id, providers.choose(None)) {
            (Some(named), _) => Some(named),
            (None, Choice::Provider(default)) => Some(&default.id),
            (None, Choice::AskTheUser) => None,
            (None, Choice::None) => return Err(LoginError::NoProvider),
        };
        let provider = match (settled, chosen) {
            (Some(settled), Some(chosen)) if settled != chosen => {
                return Err(LoginError::ProviderSettled(settled.clone()));
            }
            (Some(id), _) | (None, Some(id)) => id,
            (None, None) => return Ok(None),
        };
        providers.get(provider).map(Some).ok_or_else(|| LoginError::NoSuchProvider(provider.clone()))
    }

    /// Starts a sign-in at `provider`: a fresh `state`, the protocol's redirect, and
    /// the sign-in sealed for the browser. No store call.
    pub async fn send_to_provider(&self, provider: &IdentityProvider) -> Result<Departure, LoginError> {
        let (ctx, request) = (self.ctx, &self.request);
        let state = SignInState::new().map_err(|_| LoginError::NoRandomness)?;
        let start = SignInStart { state: &state, force_authn: request.force_authn };
        let departure = Connector::of(provider).begin(&ctx.protocol(), &start).await.map_err(LoginError::SignInFailed)?;
        let sign_in = SignIn {
            login: request.id.clone(),
            user_id: request.user_id.clone(),
            provider_id: provider.id.clone(),
            kept: departure.kept,
            started_at: ctx.now,
        };
        let sealed_sign_in = seal_record(ctx.sealer, &sign_in_binding(&state), &sign_in)?;
        log::info("login_started").login(&request.id).provider(&provider.id).emit();
        Ok(Departure { url: departure.url, state, sealed_sign_in, lifetime_secs: request.id.expires_at().saturating_sub(ctx.now) })
    }

    /// Checks the user code typed on the confirmation page. Every attempt is counted
    /// across instances before the code is compared, so concurrent guesses cannot pass
    /// the limit; the last attempt allowed, if wrong, stops the login.
    pub async fn check_user_code(&self, typed: &str, provider: &IdentityProvider) -> Result<CodeCheck, LoginError> {
        let attempts = self.ctx.store.count_code_attempt(&self.request.id, self.ctx.now).await?;
        if attempts > MAX_CODE_ATTEMPTS {
            return Ok(CodeCheck::Stopped);
        }
        if user_code_matches(&self.request.user_code, typed) {
            return Ok(CodeCheck::Accepted);
        }
        if attempts < MAX_CODE_ATTEMPTS {
            return Ok(CodeCheck::Wrong { attempts_left: MAX_CODE_ATTEMPTS - attempts });
        }
        let failure = SignInFailure::new(SignInFailureKind::AccessDenied, "too many wrong confirmation codes");
        if self.ctx.store.claim_finish(&self.request.id, self.ctx.now).await? {
            record_failure(self.ctx, &self.request.id, &provider.id, &failure).await?;
        }
        Ok(CodeCheck::Stopped)
    }
}

/// A sign-in that finished its login, with what the browser keeps for signing out.
pub struct Completed {
    pub provider_id: ProviderId,
    pub logout_hint: Option<Secret>,
}

/// Takes a provider's answer for the sign-in named `state`, which this browser must
/// present (`sealed_sign_in`, from its cookie): claims the login's end, exactly once
/// across instances, lets the sign-in's protocol verify the answer, and stores the
/// outcome for the client.
pub async fn take_answer<K: KeyValue>(
    ctx: LoginContext<'_, K>,
    state: &SignInState,
    sealed_sign_in: Option<&str>,
    answer: &ProviderAnswer<'_>,
) -> Result<Completed, LoginError> {
    let sealed = sealed_sign_in.and_then(SealedText::parse);
    // Opened before anything is claimed, so a forged answer cannot spend the real user's login.
    let sign_in: SignIn =
        sealed.and_then(|sealed| sealed.open(ctx.sealer, &sign_in_binding(state), ctx.now)).ok_or(LoginError::SignInLost)?;
    let Some(provider) = ctx.providers.get(&sign_in.provider_id) else {
        return Err(LoginError::ProviderGone);
    };
    // On a replicated store, an answer the provider does not take once itself (SAML's)
    // first waits out the replication: a replay of an answer that finished this login
    // in another region then finds it ended, below, like a replay in this one.
    if !ctx.store_replication.is_zero() && !Connector::of(provider).answer_is_redeemed_at_provider() {
        crate::host::sleep(ctx.store_replication).await;
    }
    // A login that has ended is refused before anything is written (a replayed answer
    // leaves no trace); the claim settles the races this read cannot see. The read also
    // shows the store answers before the claim's `increment`, which cannot be bounded
    // in time (see `store::spin_kv`).
    if ctx.store.load_outcome(&sign_in.login, ctx.now).await?.is_some() || !ctx.store.claim_finish(&sign_in.login, ctx.now).await? {
        return Err(LoginError::Ended);
    }
    let result = Connector::of(provider).finish(&ctx.protocol(), &sign_in.kept, answer).await;
    let at_provider_secs = ctx.now.saturating_sub(sign_in.started_at);
    match result {
        Ok(signed_in) => {
            let identity = signed_in.identity.asserted_by(&provider.id, &sign_in.user_id);
            ctx.store.save_outcome(&sign_in.login, LoginOutcome::Authenticated { identity }).await?;
            log::info("login_finished")
                .login(&sign_in.login)
                .provider(&provider.id)
                .outcome("ok")
                .field("at_provider_secs", at_provider_secs)
                .emit();
            Ok(Completed { provider_id: provider.id.clone(), logout_hint: signed_in.logout_hint })
        }
        Err(failure) => {
            // On a replicated store, a provider that refuses to redeem its answer may be
            // refusing a replay of one that finished this login in another region, whose
            // outcome is on its way here: a failure written now would overwrite it there.
            let maybe_replayed = !ctx.store_replication.is_zero()
                && Connector::of(provider).answer_is_redeemed_at_provider()
                && failure.kind == SignInFailureKind::TokenError;
            if !maybe_replayed {
                record_failure(ctx, &sign_in.login, &provider.id, &failure).await?;
            }
            Err(LoginError::SignInFailed(failure))
        }
    }
}

/// Stores a failed login for its client (told at once, not at its timeout); the
/// caller has claimed the login's end.
async fn record_failure<K: KeyValue>(
    ctx: LoginContext<'_, K>,
    id: &LoginId,
    provider: &ProviderId,
    failure: &SignInFailure,
) -> Result<(), StoreError> {
    let outcome = LoginOutcome::Failed { error: failure.kind, error_description: failure.description.clone() };
    ctx.store.save_outcome(id, outcome).await?;
    log::warn("login_finished").login(id).provider(provider).outcome(failure.kind.code()).detail(&failure.description).emit();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Config;
    use crate::state::MemoryKeyValue;
    use crate::web::context::Context;
    use futures::executor::block_on;

    const NOW: UnixTime = 1_800_000_000;

    fn context() -> Context<MemoryKeyValue> {
        let config = Config::for_tests(&[
            ("oidc_issuer_uri", "https://idp.example.com"),
            ("oidc_provider_origin", "https://idp.example.com"),
            ("oidc_client_id", "broker"),
            ("oidc_client_secret", "broker"),
            ("oidc_token_signing_algo", "RS256"),
            ("user_code_required", "true"),
        ]);
        Context::new(config, MemoryKeyValue::default(), NOW)
    }

    async fn pending<'a>(ctx: &'a Context<MemoryKeyValue>, provider_id: Option<&str>) -> PendingLogin<'a, MemoryKeyValue> {
        let request = LoginRequest { provider_id: provider_id.map(|id| ProviderId::parse(id).unwrap()), ..LoginRequest::example(NOW) };
        let handle = crate::login::handles::login_handle(&ctx.config.essentials.sealer, &request).unwrap();
        PendingLogin::open(ctx.login(), &handle).await.unwrap()
    }

    #[test]
    fn the_provider_a_client_named_cannot_be_swapped_by_the_browser() {
        let ctx = context();
        let pending = block_on(pending(&ctx, Some("oidc")));
        let other = ProviderId::parse("other").unwrap();
        assert!(pending.provider(Some(&other)).is_err());
        assert_eq!(pending.provider(None).unwrap().map(|p| p.id.as_str()), Some("oidc"));
    }

    #[test]
    fn every_attempt_counts_and_the_last_wrong_one_stops_the_login_for_good() {
        block_on(async {
            let ctx = context();
            let pending = pending(&ctx, None).await;
            let provider = pending.provider(None).unwrap().unwrap();
            assert!(matches!(pending.check_user_code("bcdf ghjk", provider).await.unwrap(), CodeCheck::Accepted));
            for left in (1..MAX_CODE_ATTEMPTS - 1).rev() {
                assert!(
                    matches!(pending.check_user_code("WRONG-CODE", provider).await.unwrap(), CodeCheck::Wrong { attempts_left } if attempts_left == left)
                );
            }
            assert!(matches!(pending.check_user_code("WRONG-CODE", provider).await.unwrap(), CodeCheck::Stopped));
            let outcome = ctx.store.load_outcome(&pending.request.id, NOW).await.unwrap();
            assert!(matches!(outcome, Some(LoginOutcome::Failed { error: SignInFailureKind::AccessDenied, .. })));
            assert!(matches!(pending.check_user_code("bcdf ghjk", provider).await.unwrap(), CodeCheck::Stopped), "not even the right code");
        });
    }

    #[test]
    fn a_login_link_that_is_malformed_or_not_ours_is_refused() {
        let ctx = context();
        let refusal = |handle: &str| block_on(PendingLogin::open(ctx.login(), handle)).err();
        assert!(matches!(refusal("short"), Some(LoginError::MalformedLink)));
        assert!(matches!(refusal(&"A".repeat(120)), Some(LoginError::UnknownLink)));
        assert!(matches!(refusal(&"A".repeat(27)), Some(LoginError::UnknownLink)), "a short link nobody made");
    }

    #[test]
    fn a_short_link_opens_its_stored_request_with_its_secret_only() {
        block_on(async {
            let ctx = context();
            let link = LinkToken::new(NOW + 300).unwrap();
            let request = LoginRequest { id: link.login().clone(), ..LoginRequest::example(NOW) };
            ctx.store.save_login_request(&request, &link.secret(), NOW).await.unwrap();
            let pending = PendingLogin::open(ctx.login(), &link.as_text()).await.unwrap();
            assert_eq!(pending.request, request);
            let sealed = SealedText::parse(&pending.handle).unwrap();
            assert_eq!(
                open_login(&sealed, &ctx.config.essentials.sealer, NOW),
                Some(request.clone()),
                "the pages after it carry it sealed"
            );
            let guessed = LinkToken::new(NOW + 300).unwrap();
            assert!(PendingLogin::open(ctx.login(), &guessed.as_text()).await.is_err(), "another link opens nothing");
        });
    }
}
