//! The records the broker keeps.

use serde::{Deserialize, Serialize};

use super::UnixTime;
use super::envelope::Record;
use crate::ids::{ProviderId, RequestId, UserId};

/// One login a client asked for (HAS's `req-<id>` and `user-<id>` in one record,
/// so that a status poll costs a single read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub id: RequestId,
    pub user_id: UserId,
    pub provider_id: Option<ProviderId>,
    pub force_authn: bool,
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
}

/// The verified identity handed to the client: the provider's claims as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Identity(serde_json::Map<String, serde_json::Value>);

impl Identity {
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
