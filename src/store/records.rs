//! The records the broker keeps.

use serde::{Deserialize, Serialize};

use super::UnixTime;
use super::envelope::Record;
use crate::ids::{ProviderId, RequestId, SlotId, UserId};

/// One login a client asked for (HAS's `req-<id>` and `user-<id>` in one record,
/// so that a status poll costs a single read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub id: RequestId,
    pub user_id: UserId,
    pub provider_id: Option<ProviderId>,
    pub force_authn: bool,
    /// Shown to the client's user, typed on the confirmation page.
    pub user_code: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub outcome: LoginOutcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LoginOutcome {
    /// The user has not finished signing in yet.
    Pending,
    /// The user signed in; the identity waits for the client to take it, once.
    Authenticated { identity: Identity },
    /// The sign-in failed; the client is told at once, not after its timeout.
    Failed { error: String, error_description: String },
}

/// The verified identity handed to the client: the provider's claims as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Identity(serde_json::Map<String, serde_json::Value>);

impl Identity {
    pub fn from_claims(claims: serde_json::Map<String, serde_json::Value>) -> Self {
        Self(claims)
    }

    #[cfg(test)]
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(serde_json::Value::as_str)
    }
}

impl Record for LoginRequest {
    const KIND: &'static str = "login_request";
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}

/// One browser's sign-in at the provider, keyed by its `state`: what the callback
/// needs to finish it on any instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    pub state: SlotId,
    pub request_id: RequestId,
    pub provider_id: ProviderId,
    pub nonce: String,
    pub pkce_verifier: String,
    /// SHA-256 (base64url) of the secret in the browser's cookie: only the browser that
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

/// The provider's discovery document and signing keys, cached so that a login does
/// not fetch them again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderCache {
    pub metadata: openidconnect::ProviderMetadataWithLogout,
    pub jwks: openidconnect::core::CoreJsonWebKeySet,
    pub expires_at: UnixTime,
}

impl Record for ProviderCache {
    const KIND: &'static str = "provider_metadata";
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}

/// Whether a provider's discovery answered when `/readiness` last asked: cached
/// briefly, so frequent probes do not become traffic to the provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderHealth {
    pub reachable: bool,
    /// Why an answering provider cannot be used, for people (an issuer mismatch).
    #[serde(default)]
    pub problem: Option<String>,
    pub expires_at: UnixTime,
}

impl Record for ProviderHealth {
    const KIND: &'static str = "provider_health";
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}

/// What a browser keeps after signing in, sealed into its own cookie (no store
/// round trip): which provider to sign out of, and the ID token to hint with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BrowserSession {
    pub provider_id: ProviderId,
    pub id_token: Option<String>,
    pub expires_at: UnixTime,
}

impl Record for BrowserSession {
    const KIND: &'static str = "browser_session";
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}
