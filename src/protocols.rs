//! Which protocol each configured provider speaks, and the dispatch to it: the only
//! place that names every implementation of [`SignInProtocol`]. Adding a protocol adds
//! a variant to each of the three enums here.

use serde::{Deserialize, Serialize};

use crate::config::{IdentityProvider, Protocol};
use crate::connector::{Departure, Health, SignInProtocol, SignInStart, SignedIn};
use crate::context::Context;
use crate::failure::SignInFailure;
use crate::oidc::{self, Oidc};
use crate::saml::{self, Saml};
use crate::secret::Secret;
use crate::store::{KeyValue, StoreError};

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
    Oidc(&'a crate::parse::CallbackParams),
    Saml(&'a saml::PostedAnswer),
}

impl<'a> Connector<'a> {
    pub fn of(provider: &'a IdentityProvider) -> Self {
        match &provider.protocol {
            Protocol::Oidc(config) => Connector::Oidc(Oidc::new(config)),
            Protocol::Saml(config) => Connector::Saml(Saml::new(config)),
        }
    }

    pub fn login_path(&self) -> &'static str {
        match self {
            Connector::Oidc(oidc) => oidc.login_path(),
            Connector::Saml(saml) => saml.login_path(),
        }
    }

    pub fn return_path(&self) -> &'static str {
        match self {
            Connector::Oidc(oidc) => oidc.return_path(),
            Connector::Saml(saml) => saml.return_path(),
        }
    }

    pub fn answer_is_cross_site_post(&self) -> bool {
        match self {
            Connector::Oidc(oidc) => oidc.answer_is_cross_site_post(),
            Connector::Saml(saml) => saml.answer_is_cross_site_post(),
        }
    }

    pub fn issuer(&self) -> &str {
        match self {
            Connector::Oidc(oidc) => oidc.issuer(),
            Connector::Saml(saml) => saml.issuer(),
        }
    }

    pub async fn begin<K: KeyValue>(&self, ctx: &Context<K>, start: &SignInStart<'_>) -> Result<Departure<KeptState>, SignInFailure> {
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
        ctx: &Context<K>,
        kept: &KeptState,
        answer: &ProviderAnswer<'_>,
    ) -> Result<SignedIn, SignInFailure> {
        match (self, kept, answer) {
            (Connector::Oidc(oidc), KeptState::Oidc(kept), ProviderAnswer::Oidc(answer)) => oidc.finish(ctx, kept, answer).await,
            (Connector::Saml(saml), KeptState::Saml(kept), ProviderAnswer::Saml(answer)) => saml.finish(ctx, kept, answer).await,
            _ => Err(SignInFailure::new(
                crate::failure::SignInFailureKind::InvalidRequest,
                "the answer arrived by another protocol than the sign-in's",
            )),
        }
    }

    pub async fn logout_url<K: KeyValue>(&self, ctx: &Context<K>, hint: Option<&Secret>) -> Result<Option<String>, SignInFailure> {
        match self {
            Connector::Oidc(oidc) => oidc.logout_url(ctx, hint).await,
            Connector::Saml(saml) => saml.logout_url(ctx, hint).await,
        }
    }

    pub async fn health<K: KeyValue>(&self, ctx: &Context<K>) -> Result<Health, StoreError> {
        match self {
            Connector::Oidc(oidc) => oidc.health(ctx).await,
            Connector::Saml(saml) => saml.health(ctx).await,
        }
    }

    pub async fn form_origins<K: KeyValue>(&self, ctx: &Context<K>) -> String {
        match self {
            Connector::Oidc(oidc) => oidc.form_origins(ctx).await,
            Connector::Saml(saml) => saml.form_origins(ctx).await,
        }
    }
}
