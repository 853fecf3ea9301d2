//! Identifiers that come from outside: parsed once, then trusted by type.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};

/// 16 random bytes, as HAS makes them: unguessable, so knowing one is the capability to poll it.
const REQUEST_ID_BYTES: usize = 16;
const REQUEST_ID_LEN: usize = 22; // base64url of 16 bytes, unpadded
pub const MAX_USER_ID_BYTES: usize = 256;
const MAX_PROVIDER_ID_BYTES: usize = 64;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(String);

impl RequestId {
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; REQUEST_ID_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Accepts exactly the shape `random` produces.
    pub fn parse(text: &str) -> Result<Self, String> {
        let decodes = text.len() == REQUEST_ID_LEN
            && URL_SAFE_NO_PAD.decode(text).is_ok_and(|bytes| bytes.len() == REQUEST_ID_BYTES);
        if decodes {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!("a request id is {REQUEST_ID_LEN} base64url characters, as returned by /requests/new"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RequestId {
    // The id is a bearer capability for the login's outcome: keep it out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({}…)", &self.0[..4.min(self.0.len())])
    }
}

/// 256 random bits, base64url: for `state`, `nonce`, PKCE verifiers and cookie secrets.
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
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
        let decoded = percent_decode_str(segment)
            .decode_utf8()
            .map_err(|_| "the user id is not valid UTF-8 once percent-decoded".to_owned())?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_request_ids_parse_and_differ() {
        let (a, b) = (RequestId::random().unwrap(), RequestId::random().unwrap());
        assert_ne!(a, b);
        assert_eq!(RequestId::parse(a.as_str()).unwrap(), a);
        assert_eq!(a.as_str().len(), REQUEST_ID_LEN);
    }

    #[test]
    fn request_ids_of_the_wrong_shape_are_refused() {
        for bad in ["", "abc", "AAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAA+/", "AAAAAAAAAAAAAAAAAAAA%2"] {
            assert!(RequestId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(RequestId::parse("AAAAAAAAAAAAAAAAAAAA-w").is_ok());
    }

    #[test]
    fn request_ids_stay_out_of_debug_output() {
        let id = RequestId::random().unwrap();
        assert!(!format!("{id:?}").contains(id.as_str()));
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
