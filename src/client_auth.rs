//! Who may read a login's outcome: clients presenting one of the configured bearer tokens.

use http::{HeaderMap, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::HttpError;

pub struct ClientAuth {
    /// SHA-256 of each accepted token: comparing fixed-size digests in constant time
    /// leaks neither the tokens' contents nor their lengths.
    token_digests: Vec<[u8; 32]>,
    assume_authorized: bool,
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("tokens", &format_args!("[{} redacted]", self.token_digests.len()))
            .field("assume_authorized", &self.assume_authorized)
            .finish()
    }
}

impl ClientAuth {
    pub fn new(tokens: Vec<String>, assume_authorized: bool) -> Self {
        let token_digests = tokens.iter().map(|token| Sha256::digest(token.as_bytes()).into()).collect();
        Self { token_digests, assume_authorized }
    }

    #[cfg(test)]
    pub fn assumes_authorized(&self) -> bool {
        self.assume_authorized
    }

    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), HttpError> {
        if self.assume_authorized {
            return Ok(());
        }
        let Some(presented) = headers.get(header::AUTHORIZATION) else {
            return Err(HttpError::unauthorized(false, "this route needs `Authorization: Bearer <client token>`"));
        };
        let token = presented
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim)
            .unwrap_or_default();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Check every digest, so the time taken does not tell which token nearly matched.
        let matched = self
            .token_digests
            .iter()
            .fold(subtle::Choice::from(0), |found, accepted| found | accepted.ct_eq(&digest));
        if bool::from(matched) && !token.is_empty() {
            Ok(())
        } else {
            Err(HttpError::unauthorized(true, "the client token is not accepted"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderValue, StatusCode};

    const TOKEN: &str = "client-token-0123456789";

    fn headers_with(authorization: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_configured_token_is_accepted() {
        let auth = ClientAuth::new(vec!["another-token-0123456789".into(), TOKEN.into()], false);
        assert!(auth.authorize(&headers_with(Some(&format!("Bearer {TOKEN}")))).is_ok());
    }

    #[test]
    fn missing_wrong_and_malformed_credentials_are_refused() {
        let auth = ClientAuth::new(vec![TOKEN.into()], false);
        for presented in [None, Some("Bearer wrong-token-0123456789"), Some(TOKEN), Some("Basic Zm9vOmJhcg=="), Some("Bearer ")] {
            let error = auth.authorize(&headers_with(presented)).unwrap_err();
            assert_eq!(error.status(), StatusCode::UNAUTHORIZED, "{presented:?}");
        }
    }

    #[test]
    fn no_tokens_means_nobody_unless_clients_are_assumed_authorized() {
        let empty_token = headers_with(Some("Bearer "));
        assert!(ClientAuth::new(vec![], false).authorize(&empty_token).is_err());
        assert!(ClientAuth::new(vec![], true).authorize(&headers_with(None)).is_ok());
    }

    #[test]
    fn debug_output_hides_tokens() {
        let shown = format!("{:?}", ClientAuth::new(vec![TOKEN.into()], false));
        assert!(!shown.contains(TOKEN) && shown.contains("redacted"));
    }
}
