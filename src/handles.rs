//! What the client and the browser carry in place of stored state: the client's
//! `request` (what `/requests/status` takes) and the handle in the browser's login
//! link. Each is a record sealed under `state_key` (AES-256-GCM) for its one use, so a
//! login request costs the store nothing until someone acts on it, and any instance
//! can open either. They are distinct on purpose: the login link travels through
//! browser history, proxies and screenshots, and grants no status; the `request`
//! stays with the client. The `request` also opens the login itself, as HAS's does
//! (the p4d extension builds `/{protocol}/login/{request}` with its `Auth-Protocol`
//! setting): its client holds both handles, so that grants it nothing new.

use serde::{Deserialize, Serialize};

use crate::error::HttpError;
use crate::store::{LoginRequest, Record, SealedText, Sealer, UnixTime, seal_record};

/// Associated data of each handle: one never opens as the other.
const REQUEST_HANDLE: &str = "lb:request-handle";
const LOGIN_HANDLE: &str = "lb:login-handle";

/// What the client's `request` carries: the login request, and the client that asked
/// for it when it identified itself (then only that client may claim the login).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestTicket {
    pub login: LoginRequest,
    /// [`crate::client_auth::Client::binding`] of the client that made the request.
    pub bound_to: Option<String>,
}

impl Record for RequestTicket {
    const KIND: &'static str = "request_ticket";
    fn expires_at(&self) -> UnixTime {
        self.login.id.expires_at()
    }
}

/// The client's `request`.
pub fn request_handle(sealer: &Sealer, ticket: &RequestTicket) -> Result<String, HttpError> {
    Ok(seal_record(sealer, REQUEST_HANDLE, ticket)?)
}

/// The handle in the browser's login link for `request`.
pub fn login_handle(sealer: &Sealer, request: &LoginRequest) -> Result<String, HttpError> {
    Ok(seal_record(sealer, LOGIN_HANDLE, request)?)
}

/// What a client's `request` names; `None` if it was not made here or expired.
pub fn open_request(presented: &SealedText, sealer: &Sealer, now: UnixTime) -> Option<RequestTicket> {
    presented.open(sealer, REQUEST_HANDLE, now)
}

/// The login request a login link, or a client's `request`, carries; `None` if it was
/// not made here or expired.
pub fn open_login(presented: &SealedText, sealer: &Sealer, now: UnixTime) -> Option<LoginRequest> {
    presented.open(sealer, LOGIN_HANDLE, now).or_else(|| open_request(presented, sealer, now).map(|ticket| ticket.login))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StateKey;

    const NOW: UnixTime = 1_800_000_000;

    #[test]
    fn each_handle_opens_only_as_itself_here_and_until_the_login_expires() {
        let sealer = Sealer::new(StateKey::from_bytes(&[9; 32]), vec![]);
        let request = LoginRequest::example(NOW);
        let ticket = RequestTicket { login: request.clone(), bound_to: Some("token:build".into()) };
        let (status, login) = (request_handle(&sealer, &ticket).unwrap(), login_handle(&sealer, &request).unwrap());
        let (status, login) = (SealedText::parse(&status).unwrap(), SealedText::parse(&login).unwrap());
        assert_eq!(open_request(&status, &sealer, NOW), Some(ticket));
        assert_eq!(open_login(&login, &sealer, NOW), Some(request.clone()));
        assert!(open_request(&login, &sealer, NOW).is_none(), "a login link grants no status");
        assert_eq!(open_login(&status, &sealer, NOW), Some(request.clone()), "the client's request leads to the login (HAS's URLs)");
        assert!(open_request(&status, &sealer, NOW + 300).is_none(), "not after the login expires");
        let elsewhere = Sealer::new(StateKey::from_bytes(&[8; 32]), vec![]);
        assert!(open_request(&status, &elsewhere, NOW).is_none(), "not under another broker's key");
    }

    #[test]
    fn text_that_cannot_be_a_handle_is_told_apart() {
        for bad in ["", "short", "AAAA%2F", &"A".repeat(40), "not base64 at all!"] {
            assert!(SealedText::parse(bad).is_none(), "{bad:?}");
        }
        assert!(SealedText::parse(&"A".repeat(120)).is_some(), "well-formed, if unknown");
    }
}
