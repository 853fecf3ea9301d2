//! What the client and the browser carry in place of stored state: the client's
//! `request` (what `/requests/status` takes) and the handle in the browser's login
//! link. The `request` is a record sealed under `state_key` (AES-256-GCM); the login
//! link is short ([`LinkToken`]: the request is stored for it), or, when the store
//! could not take it, the login request sealed whole. Any instance opens either. They
//! are distinct on purpose: the login link travels through browser history, proxies,
//! terminals and screenshots, and grants no status; the `request` stays with the client.
//! The `request` also opens the login itself, as HAS's does (the p4d extension builds
//! `/{protocol}/login/{request}` with its `Auth-Protocol` setting): its client holds
//! both handles, so that grants it nothing new.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::base::ids::{LoginId, NONCE_BYTES};
use crate::login::records::LoginRequest;
use crate::state::{Record, SealedText, Sealer, StoreError, UnixTime, seal_record};

/// Associated data of each handle: one never opens as the other.
const REQUEST_HANDLE: &str = "lb:request-handle";
const LOGIN_HANDLE: &str = "lb:login-handle";

/// What the client's `request` carries: the login request, and the client that asked
/// for it when it identified itself (then only that client may claim the login).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestTicket {
    pub login: LoginRequest,
    /// [`crate::login::client_auth::Client::binding`] of the client that made the request.
    pub bound_to: Option<String>,
}

impl Record for RequestTicket {
    const KIND: &'static str = "request_ticket";
    fn expires_at(&self) -> UnixTime {
        self.login.id.expires_at()
    }
}

/// The client's `request`.
pub fn request_handle(sealer: &Sealer, ticket: &RequestTicket) -> Result<String, StoreError> {
    seal_record(sealer, REQUEST_HANDLE, ticket)
}

/// The handle in the browser's login link for `request`.
pub fn login_handle(sealer: &Sealer, request: &LoginRequest) -> Result<String, StoreError> {
    seal_record(sealer, LOGIN_HANDLE, request)
}

/// A short login link, for a person to read in a terminal or a chat: the login's
/// expiry and a 128-bit secret, 20 bytes, 27 characters of base64url. The login's nonce
/// is a hash of the secret, so the store, whose keys name the nonce, never sees the
/// secret, and the link shows no key: nothing a store holds makes a login link.
pub struct LinkToken {
    id: LoginId,
    secret: [u8; SECRET_BYTES],
}

const SECRET_BYTES: usize = 16;
const LINK_BYTES: usize = 4 + SECRET_BYTES;

impl LinkToken {
    /// A link to a new login, which expires at `expires_at`; its request must then be
    /// stored under [`LinkToken::login`].
    pub fn new(expires_at: UnixTime) -> Result<Self, getrandom::Error> {
        let mut secret = [0; SECRET_BYTES];
        getrandom::fill(&mut secret)?;
        Ok(Self::from_parts(expires_at, secret))
    }

    fn from_parts(expires_at: UnixTime, secret: [u8; SECRET_BYTES]) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new().chain_update(b"login-broker login link\0").chain_update(secret).finalize();
        let mut nonce = [0; NONCE_BYTES];
        nonce.copy_from_slice(&digest[..NONCE_BYTES]);
        Self { id: LoginId::from_link(nonce, expires_at), secret }
    }

    /// `None` for anything that is not the shape of a short link (a sealed handle, say).
    pub fn parse(text: &str) -> Option<Self> {
        let bytes: [u8; LINK_BYTES] = URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()?;
        let (expires_at, secret) = bytes.split_at(4);
        Some(Self::from_parts(u32::from_be_bytes(expires_at.try_into().ok()?).into(), secret.try_into().ok()?))
    }

    pub fn as_text(&self) -> String {
        // Expiries fit 32 bits until 2106.
        let expires_at = u32::try_from(self.id.expires_at()).unwrap_or(u32::MAX);
        URL_SAFE_NO_PAD.encode([&expires_at.to_be_bytes()[..], &self.secret].concat())
    }

    pub fn login(&self) -> &LoginId {
        &self.id
    }

    /// What the stored request is sealed to, beside its key.
    pub fn secret(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.secret)
    }
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
    use crate::state::StateKey;

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
    fn a_short_link_names_its_login_in_27_characters_and_nothing_else_parses_as_one() {
        let link = LinkToken::new(NOW + 300).unwrap();
        let text = link.as_text();
        assert_eq!(text.len(), 27, "{text}");
        let parsed = LinkToken::parse(&text).unwrap();
        assert_eq!(parsed.login(), link.login());
        assert_eq!((parsed.login().expires_at(), parsed.secret()), (NOW + 300, link.secret()));
        assert!(parsed.login().entered(), "a short link's login was entered when it was made");
        assert!(
            !text.contains(parsed.login().nonce()) && !parsed.login().nonce().contains(&link.secret()),
            "the store's keys show no link"
        );
        let other = LinkToken::new(NOW + 300).unwrap();
        assert_ne!((other.secret(), other.login().nonce()), (link.secret(), link.login().nonce()), "each link its own");
        let sealer = Sealer::new(StateKey::from_bytes(&[9; 32]), vec![]);
        let sealed = login_handle(&sealer, &LoginRequest::example(NOW)).unwrap();
        for not_a_link in [&sealed[..], &text[..26], "", "not base64 at all!"] {
            assert!(LinkToken::parse(not_a_link).is_none(), "{not_a_link:?}");
        }
    }

    #[test]
    fn text_that_cannot_be_a_handle_is_told_apart() {
        for bad in ["", "short", "AAAA%2F", &"A".repeat(40), "not base64 at all!"] {
            assert!(SealedText::parse(bad).is_none(), "{bad:?}");
        }
        assert!(SealedText::parse(&"A".repeat(120)).is_some(), "well-formed, if unknown");
    }
}
