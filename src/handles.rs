//! What the client and the browser carry in place of stored state: the client's
//! `request` (what `/requests/status` takes) and the handle in the browser's login
//! link. Each is a record sealed under `state_key` (AES-256-GCM) for its one use, so a
//! login request costs the store nothing until someone acts on it, and any instance
//! can open either. They are distinct on purpose: the login link travels through
//! browser history, proxies and screenshots, and grants no status; the `request`
//! stays with the client.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::HttpError;
use crate::ids::LoginId;
use crate::store::{LoginRequest, Record, Sealer, UnixTime, open_record, seal_record};

/// Associated data of each handle: one never opens as the other.
const REQUEST_HANDLE: &str = "lb:request-handle";
const LOGIN_HANDLE: &str = "lb:login-handle";

/// Shorter than any sealed record (header, tag and envelope): not worth opening.
const MIN_SEALED_BYTES: usize = 64;

/// A handle that was presented, decoded but not yet opened.
pub struct Presented(Vec<u8>);

impl Presented {
    /// `None` when `text` cannot be a handle of ours at all (a malformed link or id).
    pub fn parse(text: &str) -> Option<Self> {
        URL_SAFE_NO_PAD.decode(text).ok().filter(|bytes| bytes.len() >= MIN_SEALED_BYTES).map(Self)
    }

    /// The login a client's `request` names; `None` if it was not made here or expired.
    pub fn open_request(&self, sealer: &Sealer, now: UnixTime) -> Option<LoginId> {
        open_record(sealer, REQUEST_HANDLE, &self.0, now)
    }

    /// The login request a login link carries; `None` if it was not made here or expired.
    pub fn open_login(&self, sealer: &Sealer, now: UnixTime) -> Option<LoginRequest> {
        open_record(sealer, LOGIN_HANDLE, &self.0, now)
    }
}

/// The client's `request` for `id`.
pub fn request_handle(sealer: &Sealer, id: &LoginId) -> Result<String, HttpError> {
    seal(sealer, REQUEST_HANDLE, id)
}

/// The handle in the browser's login link for `request`.
pub fn login_handle(sealer: &Sealer, request: &LoginRequest) -> Result<String, HttpError> {
    seal(sealer, LOGIN_HANDLE, request)
}

fn seal<R: Record>(sealer: &Sealer, associated_data: &str, record: &R) -> Result<String, HttpError> {
    Ok(URL_SAFE_NO_PAD.encode(seal_record(sealer, associated_data, record)?))
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
        let (status, login) = (request_handle(&sealer, &request.id).unwrap(), login_handle(&sealer, &request).unwrap());
        let (status, login) = (Presented::parse(&status).unwrap(), Presented::parse(&login).unwrap());
        assert_eq!(status.open_request(&sealer, NOW), Some(request.id.clone()));
        assert_eq!(login.open_login(&sealer, NOW), Some(request.clone()));
        assert!(login.open_request(&sealer, NOW).is_none(), "a login link grants no status");
        assert!(status.open_login(&sealer, NOW).is_none());
        assert!(status.open_request(&sealer, NOW + 300).is_none(), "not after the login expires");
        let elsewhere = Sealer::new(StateKey::from_bytes(&[8; 32]), vec![]);
        assert!(status.open_request(&elsewhere, NOW).is_none(), "not under another broker's key");
    }

    #[test]
    fn text_that_cannot_be_a_handle_is_told_apart() {
        for bad in ["", "short", "AAAA%2F", &"A".repeat(40), "not base64 at all!"] {
            assert!(Presented::parse(bad).is_none(), "{bad:?}");
        }
        assert!(Presented::parse(&"A".repeat(120)).is_some(), "well-formed, if unknown");
    }
}
