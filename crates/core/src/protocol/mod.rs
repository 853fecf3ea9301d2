//! The one interface every sign-in protocol implements, as Dex's connectors do:
//! OpenID Connect and SAML 2.0. The login core (`login.rs`) drives a login through
//! it (by way of `protocols.rs`, which picks the implementation a provider speaks) and
//! never looks inside a protocol; a protocol never sees the login request, cookies or
//! pages.

mod identity;
pub mod key_pair;
pub mod oidc;
pub mod registry;
pub mod saml;
pub mod signing_key;

use serde::{Deserialize, Serialize};

pub use identity::Identity;

use crate::base::failure::SignInFailure;
use crate::base::ids::SignInState;
use crate::base::secret::Secret;
use crate::state::{KeyValue, StateStore, StoreError, UnixTime};

/// What a protocol may use while it serves one request: where the broker answers (for
/// its return routes), the store, and the request's clock. Nothing of the login, the
/// settings, cookies or pages.
pub struct ProtocolContext<'a, K> {
    pub base_url: &'a str,
    pub store: &'a StateStore<K>,
    pub now: UnixTime,
}

/// Where a protocol's browser routes are: HAS's paths.
#[derive(Clone, Copy)]
pub struct Routes {
    /// Where the browser starts a login with it (`/oidc/login`).
    pub login: &'static str,
    /// Where the provider's answer arrives (`/oidc/callback`).
    pub answer: &'static str,
    /// Whether the answer arrives as a form another site's page posts (SAML's
    /// HTTP-POST binding), which a `SameSite=Lax` cookie does not ride, rather than by a
    /// top-level redirect.
    pub answer_is_cross_site_post: bool,
}

/// What a protocol is asked to do, and nothing more.
pub trait SignInProtocol {
    /// What the protocol keeps between sending the browser out and taking its answer.
    type State;
    /// The provider's answer, as the protocol's own return route received it.
    type Answer;

    /// Where its browser routes are.
    fn routes(&self) -> Routes;

    /// Who the provider is, for `/status` (an issuer URL, an entity id).
    fn issuer(&self) -> &str;

    /// Whether the provider itself takes an answer once, whatever the store has seen:
    /// OpenID Connect's authorization code is exchanged once, and only with this
    /// sign-in's PKCE verifier. SAML's answer carries everything itself.
    fn answer_is_redeemed_at_provider(&self) -> bool;

    /// Where to send the browser for the sign-in named `start.state`.
    async fn begin<K: KeyValue>(
        &self,
        ctx: &ProtocolContext<'_, K>,
        start: &SignInStart<'_>,
    ) -> Result<Departure<Self::State>, SignInFailure>;

    /// Checks the provider's answer against what `begin` kept; the verified identity.
    async fn finish<K: KeyValue>(
        &self,
        ctx: &ProtocolContext<'_, K>,
        kept: &Self::State,
        answer: &Self::Answer,
    ) -> Result<SignedIn, SignInFailure>;

    /// Where to send the browser to sign out at the provider, if it offers that.
    async fn logout_url<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>, hint: Option<&Secret>) -> Result<Option<String>, SignInFailure>;

    /// Whether the provider can be used now, for `/readiness`.
    async fn health<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>) -> Result<Health, StoreError>;

    /// Origins a confirmation form may lead to (the confirmation page's CSP), read
    /// without contacting the provider: nothing reaches it before the user confirms.
    /// The page needs no store: what a store that does not answer would have added is
    /// left out (the form's next step then fails on that store anyway).
    async fn form_origins<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>) -> String;
}

/// A sign-in about to start.
pub struct SignInStart<'a> {
    /// Names the sign-in: the protocol carries it through the provider and back.
    pub state: &'a SignInState,
    /// The client asked that the user sign in again, even with a live session.
    pub force_authn: bool,
}

pub struct Departure<S> {
    pub url: String,
    pub kept: S,
}

pub struct SignedIn {
    pub identity: Identity,
    /// What logging out at the provider will need (an ID token hint).
    pub logout_hint: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub reachable: bool,
    /// Why a provider that answers cannot be used, for the operator (public facts only).
    pub problem: Option<String>,
}
