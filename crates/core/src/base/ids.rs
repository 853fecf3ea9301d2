//! Identifiers that come from outside: parsed once, then trusted by type.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::base::clock::UnixTime;
use crate::base::secret::Secret;

pub const MAX_USER_ID_BYTES: usize = 256;
const MAX_PROVIDER_ID_BYTES: usize = 64;

/// 16 random bytes (as HAS's request ids), base64url without padding.
pub const NONCE_BYTES: usize = 16;
const NONCE_LEN: usize = 22;

/// A login's identity inside the broker: 128 random bits and the time the login
/// expires. Nobody outside sees it in the clear: the client's `request` and the
/// browser's login link each carry it sealed (see `handles`), and the store keeps the
/// login's outcome and claims under it (see `store::keys`), grouped by expiry so that
/// they can be reclaimed without listing keys.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginId {
    nonce: String,
    expires_at: UnixTime,
    /// Entered in its bucket's registry when it was made (with its short login link's
    /// record), so that its first stored step does not enter it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    entered: bool,
}

impl LoginId {
    /// The id of a login a short link names: entered in the registry when it was made.
    pub fn from_link(nonce: [u8; NONCE_BYTES], expires_at: UnixTime) -> Self {
        Self { nonce: URL_SAFE_NO_PAD.encode(nonce), expires_at, entered: true }
    }

    pub fn entered(&self) -> bool {
        self.entered
    }

    /// The same login, not entered in the registry when it was made (its first stored
    /// step enters it).
    pub fn not_entered(self) -> Self {
        Self { entered: false, ..self }
    }

    /// Rebuilds an id from its parts as the store's registry keeps them; `None` unless
    /// the nonce has exactly the shape `new` gives it.
    pub fn from_parts(nonce: &str, expires_at: UnixTime) -> Option<Self> {
        let well_formed = nonce.len() == NONCE_LEN && URL_SAFE_NO_PAD.decode(nonce).is_ok_and(|bytes| bytes.len() == NONCE_BYTES);
        well_formed.then(|| Self { nonce: nonce.to_owned(), expires_at, entered: false })
    }

    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    pub fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}

impl fmt::Debug for LoginId {
    // The nonce names the login's records: keep it out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LoginId(expires {})", self.expires_at)
    }
}

/// A sign-in's `state` at the provider: 256 random bits. It names the browser's
/// sign-in cookie, which holds the sign-in itself, sealed to this state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInState(String);

const STATE_LEN: usize = 43; // base64url of 32 bytes, unpadded

impl SignInState {
    pub fn new() -> Result<Self, getrandom::Error> {
        Ok(Self(random_token()?.expose().to_owned()))
    }

    /// Accepts exactly the shape `new` produces.
    pub fn parse(text: &str) -> Option<Self> {
        let decodes = text.len() == STATE_LEN && URL_SAFE_NO_PAD.decode(text).is_ok_and(|bytes| bytes.len() == 32);
        decodes.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 256 random bits, base64url: for `nonce`, PKCE verifiers and cookie secrets.
pub fn random_token() -> Result<Secret, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(Secret::new(URL_SAFE_NO_PAD.encode(bytes)))
}

/// No vowels (no words), no 0/O or 1/I (no misreading): 28 symbols.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ23456789";

/// A short code the client shows its user, who types it on the confirmation page
/// (defeats login phishing: only the person at the client knows it). 8 symbols,
/// about 38 bits, shown as `XXXX-XXXX`; wrong guesses are rate-limited per request.
pub fn user_code() -> Result<Secret, getrandom::Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)?;
    // 252 is the largest multiple of 28 below 256: reject above it to stay uniform.
    let mut symbols = Vec::with_capacity(8);
    let mut pool = bytes.to_vec();
    while symbols.len() < 8 {
        match pool.pop() {
            Some(byte) if byte < 252 => symbols.push(USER_CODE_ALPHABET[usize::from(byte) % USER_CODE_ALPHABET.len()]),
            Some(_) => {}
            None => {
                let mut more = [0u8; 8];
                getrandom::fill(&mut more)?;
                pool.extend_from_slice(&more);
            }
        }
    }
    let text = String::from_utf8_lossy(&symbols).into_owned();
    Ok(Secret::new(format!("{}-{}", &text[..4], &text[4..])))
}

/// Whether what the user typed is `expected`, ignoring case, spaces and dashes.
pub fn user_code_matches(expected: &Secret, typed: &str) -> bool {
    let normalize = |text: &str| -> String { text.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect() };
    bool::from(normalize(expected.expose()).as_bytes().ct_eq(normalize(typed).as_bytes()))
}

/// SHA-256, base64url: how a secret is stored when only equality must be checked.
pub fn digest(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// The label the client gives the user (HAS: any string the client chooses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// Takes the raw (percent-encoded) path segment.
    pub fn from_path_segment(segment: &str) -> Result<Self, String> {
        let decoded =
            percent_decode_str(segment).decode_utf8().map_err(|_| "the user id is not valid UTF-8 once percent-decoded".to_owned())?;
        if decoded.is_empty() {
            return Err("the user id is empty".into());
        }
        if decoded.len() > MAX_USER_ID_BYTES {
            return Err(format!("the user id is longer than {MAX_USER_ID_BYTES} bytes"));
        }
        if decoded.chars().any(char::is_control) {
            return Err("the user id contains control characters".into());
        }
        // Pages show the user id to the person signing in: characters that reorder or
        // hide text (bidirectional overrides, zero-width spaces) or break lines would let
        // a requester make the page say something else.
        if decoded.chars().any(|c| {
            matches!(c.general_category(), GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator)
        }) {
            return Err(
                "the user id contains invisible formatting characters (bidirectional controls, zero-width characters) or line breaks"
                    .into(),
            );
        }
        Ok(Self(decoded.into_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Names one of the configured identity providers (HAS's `providerId`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderId(String);

impl ProviderId {
    pub fn parse(text: &str) -> Result<Self, String> {
        let well_formed = !text.is_empty()
            && text.len() <= MAX_PROVIDER_ID_BYTES
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if well_formed {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!("providerId is 1 to {MAX_PROVIDER_ID_BYTES} letters, digits, '-', '_' or '.'"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_ids_differ_and_keep_their_nonce_out_of_debug_output() {
        let (a, b) = (crate::login::conformance::login(1_800_000_000).unwrap(), crate::login::conformance::login(1_800_000_000).unwrap());
        assert_ne!(a, b, "the random part differs");
        assert_eq!(LoginId::from_parts(a.nonce(), a.expires_at()), Some(a.clone()));
        assert_eq!(format!("{a:?}"), "LoginId(expires 1800000000)");
        for bad in ["", "abc", &a.nonce()[1..], "AAAAAAAAAAAAAAAAAAAA+/", "AAAAAAAAAAAAAAAAAAAA%2"] {
            assert!(LoginId::from_parts(bad, 1).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn sign_in_states_are_random_and_parsed_strictly() {
        let state = SignInState::new().unwrap();
        assert_ne!(state, SignInState::new().unwrap());
        assert_eq!(SignInState::parse(state.as_str()), Some(state.clone()));
        let long = format!("{}A", state.as_str());
        for bad in ["", "abc", &state.as_str()[1..], long.as_str()] {
            assert!(SignInState::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn user_codes_are_short_unambiguous_and_typed_loosely() {
        let code = user_code().unwrap();
        let code = code.expose();
        assert_eq!(code.len(), 9);
        assert!(code.chars().all(|c| c == '-' || USER_CODE_ALPHABET.contains(&(c as u8))), "{code}");
        assert_ne!(code, user_code().unwrap().expose());
        let expected = Secret::new(code.to_owned());
        assert!(user_code_matches(&expected, &code.to_lowercase().replace('-', " ")));
        assert!(!user_code_matches(&expected, "BCDF-GHJK") || code == "BCDF-GHJK");
        assert!(!user_code_matches(&expected, ""));
    }

    #[test]
    fn user_ids_are_percent_decoded() {
        assert_eq!(UserId::from_path_segment("j%C3%B6rg%40example.com").unwrap().as_str(), "jörg@example.com");
    }

    #[test]
    fn empty_long_control_and_non_utf8_user_ids_are_refused() {
        let too_long = "a".repeat(MAX_USER_ID_BYTES + 1);
        // U+202E right-to-left override, U+200B zero-width space, U+2028 line separator, U+FEFF.
        for bad in
            ["", "%0A", "bob%00", "%FF", "x%7F", too_long.as_str(), "alice%E2%80%AEtxt", "al%E2%80%8Bice", "a%E2%80%A8b", "%EF%BB%BFa"]
        {
            assert!(UserId::from_path_segment(bad).is_err(), "{bad:?}");
        }
        assert!(UserId::from_path_segment(&"a".repeat(MAX_USER_ID_BYTES)).is_ok());
    }

    #[test]
    fn provider_ids_are_plain_names() {
        assert!(ProviderId::parse("okta-1").is_ok());
        for bad in ["", "a b", "<x>", &"p".repeat(65)] {
            assert!(ProviderId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
