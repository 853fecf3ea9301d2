//! Identifiers that come from outside: parsed once, then trusted by type.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::secret::Secret;

pub const MAX_USER_ID_BYTES: usize = 256;
const MAX_PROVIDER_ID_BYTES: usize = 64;

/// Bucket and index, then 16 random bytes (HAS's request ids are 16 random bytes).
const SLOT_ID_BYTES: usize = 4 + 4 + 16;
const SLOT_ID_LEN: usize = 32; // base64url of 24 bytes, unpadded

/// An unguessable id that also says where its record lives: the expiry bucket and the
/// index allocated in it, so that expired records can be found and removed without
/// listing keys (see `store::sweep`). Knowing one is the capability to use its record.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SlotId(String);

/// Handles that name a slot of one kind of record. Distinct types, so that a sign-in's
/// `state` cannot be passed where a request id is expected, or the reverse.
macro_rules! slot_handle {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(SlotId);

        impl $name {
            pub fn from_slot(slot: SlotId) -> Self {
                Self(slot)
            }

            pub fn parse(text: &str) -> Option<Self> {
                SlotId::parse(text).map(Self)
            }

            pub fn slot(&self) -> &SlotId {
                &self.0
            }

            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            /// Constant-time equality with the handle stored in the slot.
            pub fn matches(&self, other: &Self) -> bool {
                self.0.matches(&other.0)
            }
        }
    };
}

slot_handle!(
    /// The id a client polls (HAS's `request`): a slot in the login-request buckets.
    RequestId
);

slot_handle!(
    /// A sign-in's `state` at the provider: a slot in the sign-in buckets.
    SignInState
);

impl SlotId {
    pub fn new(bucket: u32, index: u32) -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; SLOT_ID_BYTES];
        bytes[..4].copy_from_slice(&bucket.to_be_bytes());
        bytes[4..8].copy_from_slice(&index.to_be_bytes());
        getrandom::fill(&mut bytes[8..])?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Accepts exactly the shape `new` produces.
    pub fn parse(text: &str) -> Option<Self> {
        let decodes = text.len() == SLOT_ID_LEN && URL_SAFE_NO_PAD.decode(text).is_ok_and(|bytes| bytes.len() == SLOT_ID_BYTES);
        decodes.then(|| Self(text.to_owned()))
    }

    fn bytes(&self) -> [u8; SLOT_ID_BYTES] {
        let mut bytes = [0u8; SLOT_ID_BYTES];
        // Every SlotId was made by `new` or checked by `parse`.
        if let Ok(decoded) = URL_SAFE_NO_PAD.decode(&self.0) {
            bytes.copy_from_slice(&decoded[..SLOT_ID_BYTES]);
        }
        bytes
    }

    pub fn bucket(&self) -> u32 {
        let bytes = self.bytes();
        u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }

    pub fn index(&self) -> u32 {
        let bytes = self.bytes();
        u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]])
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time equality: a presented id is compared with the one stored in its slot.
    pub fn matches(&self, other: &SlotId) -> bool {
        bool::from(self.0.as_bytes().ct_eq(other.0.as_bytes()))
    }
}

impl fmt::Debug for SlotId {
    // The id is a bearer capability: keep its random part out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SlotId({}:{})", self.bucket(), self.index())
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
    fn slot_ids_carry_their_slot_and_differ() {
        let (a, b) = (SlotId::new(180_000_000, 7).unwrap(), SlotId::new(180_000_000, 7).unwrap());
        assert_ne!(a, b, "the random part differs");
        assert_eq!((a.bucket(), a.index()), (180_000_000, 7));
        assert_eq!(SlotId::parse(a.as_str()).unwrap(), a);
        assert!(a.matches(&a.clone()) && !a.matches(&b));
    }

    #[test]
    fn slot_ids_of_the_wrong_shape_are_refused() {
        let good = SlotId::new(1, 1).unwrap();
        let long = format!("{}A", good.as_str());
        for bad in ["", "abc", &good.as_str()[1..], long.as_str(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+/", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%2"] {
            assert!(SlotId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn slot_ids_keep_their_secret_out_of_debug_output() {
        let id = SlotId::new(3, 4).unwrap();
        assert_eq!(format!("{id:?}"), "SlotId(3:4)");
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
        for bad in ["", "%0A", "bob%00", "%FF", "x%7F", too_long.as_str()] {
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
