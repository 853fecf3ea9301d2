//! The records every login shares, whatever its protocol: the login request (which the
//! browser carries, sealed) and its outcome (the one record the store keeps for it,
//! holding the identity a protocol verified).
//! Other records are defined by their owners (the sign-in by the login core, provider
//! caches by their protocol, the browser session by the browser module) and sealed
//! through the same [`Record`] envelope.

use serde::{Deserialize, Serialize};

use crate::base::failure::SignInFailureKind;
use crate::base::ids::{LoginId, ProviderId, UserId};
use crate::base::secret::Secret;
use crate::protocol::Identity;
use crate::state::{Record, UnixTime};

/// One login a client asked for: what the browser's login link opens (stored for a
/// short link, or carried sealed), and the client's `request` carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub id: LoginId,
    pub user_id: UserId,
    pub provider_id: Option<ProviderId>,
    pub force_authn: bool,
    /// Shown to the client's user, typed on the confirmation page.
    pub user_code: Secret,
    pub created_at: UnixTime,
    pub requested_by: Requester,
}

/// Who asked for a login, as the broker saw it (not as the requester says): shown on
/// the confirmation page, so that a person can tell a login they did not start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Requester {
    /// The label of the client's token or certificate; `None` if it did not identify itself.
    pub client: Option<String>,
    /// The address Spin reports the request came from (a proxy's, behind one).
    pub address: Option<String>,
}

#[cfg(test)]
impl LoginRequest {
    /// For unit tests: a request for `alice`, made at `now`, expiring 300 s later.
    pub fn example(now: UnixTime) -> Self {
        Self {
            id: crate::login::conformance::login(now + 300).unwrap(),
            user_id: UserId::from_path_segment("alice").unwrap(),
            provider_id: None,
            force_authn: false,
            user_code: Secret::new("BCDF-GHJK".into()),
            created_at: now,
            requested_by: Requester::default(),
        }
    }
}

/// A login's id on its own: what a login link opens to (see `login::handles`).
impl Record for LoginId {
    const KIND: &'static str = "login_id";
    fn expires_at(&self) -> UnixTime {
        self.expires_at()
    }
}

impl Record for LoginRequest {
    const KIND: &'static str = "login_request";
    fn expires_at(&self) -> UnixTime {
        self.id.expires_at()
    }
}

/// How a login ended. Until it ends, the store holds nothing for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LoginOutcome {
    /// The user signed in; the identity waits for the client to take it, once.
    Authenticated { identity: Identity },
    /// The sign-in failed; the client is told at once, not after its timeout.
    Failed { error: SignInFailureKind, error_description: String },
}

/// A login's outcome as stored, until the login expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FinishedLogin {
    pub outcome: LoginOutcome,
    pub expires_at: UnixTime,
}

impl Record for FinishedLogin {
    const KIND: &'static str = "finished_login";
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}
