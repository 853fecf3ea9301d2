//! Which protocol each configured provider speaks, and the dispatch to it: the only
//! place that names every implementation of [`SignInProtocol`], and the web layer's
//! only way to a protocol (its routes, its answers, SAML's own routes). Adding a
//! protocol adds a variant to each of the three enums here, and its routes.

use serde::{Deserialize, Serialize};

use crate::base::failure::SignInFailure;
use crate::base::ids::ProviderId;
use crate::base::secret::Secret;
use crate::protocol::Identity;
use crate::protocol::ProtocolContext;
use crate::protocol::oidc::settings::OidcConfig;
use crate::protocol::oidc::{self, Oidc};
use crate::protocol::saml::settings::SamlConfig;
use crate::protocol::saml::{self, Saml};
use crate::protocol::{Departure, Health, SignInProtocol, SignInStart, SignedIn};

pub use crate::protocol::Routes;
use crate::state::{KeyValue, StoreError};

pub use saml::PostedAnswer;
pub use saml::logout::{LoggedOut, MAX_MESSAGE_BYTES as MAX_SAML_LOGOUT_BYTES, Received as ReceivedLogout};

pub const OIDC_ROUTES: Routes = oidc::ROUTES;
pub const SAML_ROUTES: Routes = saml::ROUTES;
/// Every protocol's routes.
pub const ROUTES: [Routes; 2] = [OIDC_ROUTES, SAML_ROUTES];
/// Where a browser signs out (HAS's `/oidc/logout`, whatever the protocol it signed in with).
pub const LOGOUT_PATH: &str = oidc::LOGOUT_PATH;

/// The largest form a SAML answer comes in, and the largest answer in it: what the web
/// layer reads at most, and refuses unread beyond.
pub const MAX_SAML_FORM_BYTES: usize = saml::MAX_ANSWER_FORM_BYTES;
pub const MAX_SAML_RESPONSE_BYTES: usize = saml::MAX_RESPONSE_BYTES;

/// The identity provider a logout message names as its `Issuer`, or why it names none.
pub fn logout_issuer(received: &ReceivedLogout) -> Result<String, String> {
    saml::logout::issuer(received).map_err(|refusal| refusal.0)
}

/// A form's `SAMLResponse`, decoded, or why not (HAS's `/saml/validate`).
pub fn posted_saml_response(form: &[u8]) -> Result<String, &'static str> {
    saml::posted_response(form)
}

/// A configured provider that speaks SAML, for SAML's own routes: the service
/// provider's metadata, `/saml/validate`, and single logout.
pub struct SamlProvider<'a> {
    pub provider: &'a IdentityProvider,
    saml: Saml<'a>,
}

impl SamlProvider<'_> {
    /// The broker's service-provider metadata, for this identity provider's administrator.
    pub fn sp_metadata<K>(&self, ctx: &ProtocolContext<'_, K>) -> String {
        self.saml.sp_metadata(ctx)
    }

    /// Another service provider's answer, checked as HAS checks it, accepted once.
    pub async fn validate<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>, response: &str) -> Result<Identity, SignInFailure> {
        self.saml.validate(ctx, response).await
    }

    /// A logout message this identity provider sent, checked, and what to answer.
    pub async fn single_logout<K: KeyValue>(
        &self,
        ctx: &ProtocolContext<'_, K>,
        received: &ReceivedLogout,
    ) -> Result<LoggedOut, SignInFailure> {
        self.saml.single_logout(ctx, received).await
    }
}

/// The configured identity providers, in the order the operator listed them.
#[derive(Debug, Default)]
pub struct Providers(Vec<IdentityProvider>);

#[derive(Debug)]
pub struct IdentityProvider {
    pub id: ProviderId,
    /// The id HAS gives this entry, when it is not `id` (see [`has_ids`]): clients
    /// moved from HAS may name the provider by it.
    pub has_id: Option<ProviderId>,
    /// Shown on the provider-choice page.
    pub label: String,
    pub is_default: bool,
    pub protocol: Protocol,
}

/// How the broker talks to a provider.
#[derive(Debug)]
pub enum Protocol {
    Oidc(OidcConfig),
    Saml(SamlConfig),
}

impl Protocol {
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Oidc(_) => "oidc",
            Protocol::Saml(_) => "saml",
        }
    }
}

/// Which provider a login goes to.
#[derive(Debug, PartialEq)]
pub enum Choice<'a> {
    Provider(&'a IdentityProvider),
    /// Several providers and no default: the user picks one.
    AskTheUser,
    /// No provider is configured.
    None,
}

impl Providers {
    pub fn new(list: Vec<IdentityProvider>) -> Self {
        Self(list)
    }

    pub fn into_list(self) -> Vec<IdentityProvider> {
        self.0
    }

    /// Every login at every provider asks the user to sign in again (HAS's `FORCE_AUTHN`).
    pub fn force_authn(&mut self) {
        self.0.iter_mut().for_each(IdentityProvider::force_authn);
    }

    pub fn iter(&self) -> impl Iterator<Item = &IdentityProvider> {
        self.0.iter()
    }

    /// The provider of id `id`, else the one HAS would have called so.
    pub fn get(&self, id: &ProviderId) -> Option<&IdentityProvider> {
        self.0.iter().find(|provider| &provider.id == id).or_else(|| self.0.iter().find(|provider| provider.has_id.as_ref() == Some(id)))
    }

    /// The provider a login named, else the default, else the only one.
    pub fn choose(&self, named: Option<&ProviderId>) -> Choice<'_> {
        if let Some(provider) = named.and_then(|id| self.get(id)) {
            return Choice::Provider(provider);
        }
        match (self.0.iter().find(|provider| provider.is_default), self.0.as_slice()) {
            (Some(provider), _) | (None, [provider]) => Choice::Provider(provider),
            (None, []) => Choice::None,
            (None, _) => Choice::AskTheUser,
        }
    }

    /// The SAML provider `named`, else the default one if it speaks SAML, else the first
    /// that does.
    pub fn saml(&self, named: Option<&ProviderId>) -> Option<SamlProvider<'_>> {
        let speaks_saml = |provider: &&IdentityProvider| matches!(provider.protocol, Protocol::Saml(_));
        let provider = match named {
            Some(id) => self.get(id),
            None => self.0.iter().filter(speaks_saml).find(|provider| provider.is_default).or_else(|| self.0.iter().find(speaks_saml)),
        }?;
        match &provider.protocol {
            Protocol::Saml(config) => Some(SamlProvider { provider, saml: Saml::new(config) }),
            Protocol::Oidc(_) => None,
        }
    }

    /// The SAML provider whose identity provider is `entity_id` (the `Issuer` of a
    /// message it sent); the first, when several trust the same one.
    pub async fn saml_issued_by<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>, entity_id: &str) -> Option<SamlProvider<'_>> {
        for provider in &self.0 {
            if let Protocol::Saml(config) = &provider.protocol {
                let saml = Saml::new(config);
                if saml.idp_entity_id(ctx).await.is_ok_and(|known| known == entity_id) {
                    return Some(SamlProvider { provider, saml });
                }
            }
        }
        None
    }

    /// Ids of every provider, for messages.
    pub fn ids(&self) -> String {
        let ids: Vec<&str> = self.0.iter().map(|provider| provider.id.as_str()).collect();
        if ids.is_empty() { "none".into() } else { ids.join(", ") }
    }
}

impl IdentityProvider {
    /// Every login at this provider asks the user to sign in again (HAS's `FORCE_AUTHN`).
    fn force_authn(&mut self) {
        match &mut self.protocol {
            Protocol::Oidc(config) => config.force_authn = true,
            Protocol::Saml(config) => config.force_authn = true,
        }
    }
}

impl PartialEq for IdentityProvider {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

/// The protocol a configured provider speaks.
pub enum Connector<'a> {
    Oidc(Oidc<'a>),
    Saml(Saml<'a>),
}

/// What a protocol kept for a sign-in, stored in the sign-in record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum KeptState {
    Oidc(oidc::Kept),
    Saml(saml::Kept),
}

/// A provider's answer, as a protocol's return route parsed it.
pub enum ProviderAnswer<'a> {
    Oidc(&'a crate::base::parse::CallbackParams),
    Saml(&'a saml::PostedAnswer),
}

impl<'a> Connector<'a> {
    pub fn of(provider: &'a IdentityProvider) -> Self {
        match &provider.protocol {
            Protocol::Oidc(config) => Connector::Oidc(Oidc::new(config)),
            Protocol::Saml(config) => Connector::Saml(Saml::new(config)),
        }
    }

    pub fn routes(&self) -> Routes {
        match self {
            Connector::Oidc(oidc) => oidc.routes(),
            Connector::Saml(saml) => saml.routes(),
        }
    }

    pub fn answer_is_redeemed_at_provider(&self) -> bool {
        match self {
            Connector::Oidc(oidc) => oidc.answer_is_redeemed_at_provider(),
            Connector::Saml(saml) => saml.answer_is_redeemed_at_provider(),
        }
    }

    pub fn issuer(&self) -> &str {
        match self {
            Connector::Oidc(oidc) => oidc.issuer(),
            Connector::Saml(saml) => saml.issuer(),
        }
    }

    pub async fn begin<K: KeyValue>(
        &self,
        ctx: &ProtocolContext<'_, K>,
        start: &SignInStart<'_>,
    ) -> Result<Departure<KeptState>, SignInFailure> {
        match self {
            Connector::Oidc(oidc) => {
                let departure = oidc.begin(ctx, start).await?;
                Ok(Departure { url: departure.url, kept: KeptState::Oidc(departure.kept) })
            }
            Connector::Saml(saml) => {
                let departure = saml.begin(ctx, start).await?;
                Ok(Departure { url: departure.url, kept: KeptState::Saml(departure.kept) })
            }
        }
    }

    pub async fn finish<K: KeyValue>(
        &self,
        ctx: &ProtocolContext<'_, K>,
        kept: &KeptState,
        answer: &ProviderAnswer<'_>,
    ) -> Result<SignedIn, SignInFailure> {
        match (self, kept, answer) {
            (Connector::Oidc(oidc), KeptState::Oidc(kept), ProviderAnswer::Oidc(answer)) => oidc.finish(ctx, kept, answer).await,
            (Connector::Saml(saml), KeptState::Saml(kept), ProviderAnswer::Saml(answer)) => saml.finish(ctx, kept, answer).await,
            _ => Err(SignInFailure::new(
                crate::base::failure::SignInFailureKind::InvalidRequest,
                "the answer arrived by another protocol than the sign-in's",
            )),
        }
    }

    pub async fn logout_url<K: KeyValue>(
        &self,
        ctx: &ProtocolContext<'_, K>,
        hint: Option<&Secret>,
    ) -> Result<Option<String>, SignInFailure> {
        match self {
            Connector::Oidc(oidc) => oidc.logout_url(ctx, hint).await,
            Connector::Saml(saml) => saml.logout_url(ctx, hint).await,
        }
    }

    pub async fn health<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>) -> Result<Health, StoreError> {
        match self {
            Connector::Oidc(oidc) => oidc.health(ctx).await,
            Connector::Saml(saml) => saml.health(ctx).await,
        }
    }

    pub async fn form_origins<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>) -> String {
        match self {
            Connector::Oidc(oidc) => oidc.form_origins(ctx).await,
            Connector::Saml(saml) => saml.form_origins(ctx).await,
        }
    }
}
