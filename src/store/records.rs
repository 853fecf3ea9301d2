//! The records every login shares, whatever its protocol: the login request and its
//! outcome. Other records are defined by their owners (the sign-in by the login core,
//! provider caches by their protocol, the browser session by the browser module) and
//! stored through the same [`Record`] envelope.

use serde::{Deserialize, Serialize};

use super::UnixTime;
use super::envelope::Record;
use crate::failure::SignInFailureKind;
use crate::ids::{ProviderId, RequestId, UserId};
use crate::secret::Secret;

/// One login a client asked for (HAS's `req-<id>` and `user-<id>` in one record,
/// so that a status poll costs a single read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub id: RequestId,
    pub user_id: UserId,
    pub provider_id: Option<ProviderId>,
    pub force_authn: bool,
    /// Shown to the client's user, typed on the confirmation page.
    pub user_code: Secret,
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
    Failed { error: SignInFailureKind, error_description: String },
}

/// The verified identity handed to the client: the provider's claims as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Identity(serde_json::Map<String, serde_json::Value>);

impl Identity {
    pub fn from_claims(claims: serde_json::Map<String, serde_json::Value>) -> Self {
        Self(claims)
    }
}

impl Record for LoginRequest {
    const KIND: &'static str = "login_request";
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}
