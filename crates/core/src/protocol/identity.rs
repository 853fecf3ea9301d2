//! The verified identity a protocol hands back: the claims the client receives.

use serde::{Deserialize, Serialize};

use crate::base::ids::{ProviderId, UserId};

/// The verified identity handed to the client: the provider's claims as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Identity(serde_json::Map<String, serde_json::Value>);

impl Identity {
    pub fn from_claims(claims: serde_json::Map<String, serde_json::Value>) -> Self {
        Self(claims)
    }

    /// The identity as the client receives it: the provider's claims, with which
    /// configured provider asserted them (`providerId`) and whom the client asked to
    /// sign in (`userId`, for the client to compare). Ours win over claims of the
    /// same names: a provider cannot name another provider.
    pub fn asserted_by(self, provider: &ProviderId, requested: &UserId) -> Self {
        let mut identity = self.vouched_by(provider);
        identity.0.insert("userId".into(), requested.as_str().into());
        identity
    }

    /// The identity with which configured provider asserted it (`providerId`), over any
    /// claim of that name.
    pub fn vouched_by(mut self, provider: &ProviderId) -> Self {
        self.0.insert("providerId".into(), provider.as_str().into());
        self
    }
}
