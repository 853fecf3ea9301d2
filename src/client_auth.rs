//! Who may read a login's outcome: clients presenting one of the configured bearer
//! tokens, or (HAS's proxy mode) a TLS client certificate that a TLS-terminating proxy
//! forwards in a header, accepted by SHA-256 fingerprint or by subject CN pattern.

use http::{HeaderMap, HeaderName, header};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode};

use crate::error::HttpError;

pub struct ClientAuth {
    /// SHA-256 of each accepted token: comparing fixed-size digests in constant time
    /// leaks neither the tokens' contents nor their lengths.
    token_digests: Vec<[u8; 32]>,
    assume_authorized: bool,
    certificates: Option<CertificateRule>,
}

/// Which forwarded client certificates are accepted.
#[derive(Debug)]
pub struct CertificateRule {
    /// Where the proxy puts the certificate: PEM, URL-encoded (nginx's `$ssl_client_escaped_cert`).
    pub header: HeaderName,
    pub fingerprints: Vec<[u8; 32]>,
    /// Patterns for the subject's common name; `*` matches any run of characters.
    pub common_names: Vec<String>,
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("tokens", &format_args!("[{} redacted]", self.token_digests.len()))
            .field("assume_authorized", &self.assume_authorized)
            .field("certificates", &self.certificates)
            .finish()
    }
}

impl ClientAuth {
    pub fn new(tokens: Vec<String>, assume_authorized: bool, certificates: Option<CertificateRule>) -> Self {
        let token_digests = tokens.iter().map(|token| Sha256::digest(token.as_bytes()).into()).collect();
        Self { token_digests, assume_authorized, certificates }
    }

    #[cfg(test)]
    pub fn assumes_authorized(&self) -> bool {
        self.assume_authorized
    }

    /// The reason for a refusal goes to the log; the caller learns only that it was refused.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), HttpError> {
        if self.assume_authorized {
            return Ok(());
        }
        let by_certificate = match (&self.certificates, self.certificates.as_ref().and_then(|rule| headers.get(&rule.header))) {
            (Some(rule), Some(forwarded)) => match rule.accepts(forwarded.to_str().unwrap_or_default()) {
                Ok(()) => return Ok(()),
                Err(reason) => Some(reason),
            },
            _ => None,
        };
        let refused = |token_was_sent: bool, reason: &str| {
            eprintln!("{}", serde_json::json!({"event": "client_refused", "reason": reason, "certificate": by_certificate}));
            HttpError::unauthorized(token_was_sent, "the client is not authorized for this route")
        };
        let Some(presented) = headers.get(header::AUTHORIZATION) else {
            return Err(refused(false, "no bearer token"));
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
            Err(refused(true, "bearer token not accepted"))
        }
    }
}

impl CertificateRule {
    fn accepts(&self, forwarded: &str) -> Result<(), &'static str> {
        let pem = percent_decode_str(forwarded).decode_utf8().map_err(|_| "forwarded certificate is not UTF-8")?;
        let certificate = Certificate::from_pem(pem.trim().as_bytes()).map_err(|_| "forwarded certificate is not a PEM X.509 certificate")?;
        let der = certificate.to_der().map_err(|_| "forwarded certificate does not re-encode")?;
        let fingerprint: [u8; 32] = Sha256::digest(&der).into();
        let known = self.fingerprints.iter().fold(subtle::Choice::from(0), |found, accepted| found | accepted.ct_eq(&fingerprint));
        if bool::from(known) {
            return Ok(());
        }
        match common_name(&certificate) {
            Some(name) if self.common_names.iter().any(|pattern| glob_matches(pattern, &name)) => Ok(()),
            Some(_) => Err("certificate fingerprint and common name are not accepted"),
            None => Err("certificate fingerprint not accepted and no common name"),
        }
    }
}

fn common_name(certificate: &Certificate) -> Option<String> {
    use x509_cert::der::asn1::{PrintableStringRef, Utf8StringRef};
    let common_name = const_oid::db::rfc4519::CN;
    certificate.tbs_certificate.subject.0.iter().flat_map(|rdn| rdn.0.iter()).find(|atv| atv.oid == common_name).and_then(|atv| {
        Utf8StringRef::try_from(&atv.value)
            .map(|s| s.as_str().to_owned())
            .or_else(|_| PrintableStringRef::try_from(&atv.value).map(|s| s.as_str().to_owned()))
            .ok()
    })
}

/// `*` matches any run of characters (HAS's `CLIENT_CERT_CN` patterns); all else is literal.
fn glob_matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => {
            text.starts_with(prefix) && (prefix.len()..=text.len()).any(|i| text.is_char_boundary(i) && glob_matches(rest, &text[i..]))
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
        let auth = ClientAuth::new(vec!["another-token-0123456789".into(), TOKEN.into()], false, None);
        assert!(auth.authorize(&headers_with(Some(&format!("Bearer {TOKEN}")))).is_ok());
    }

    #[test]
    fn missing_wrong_and_malformed_credentials_are_refused() {
        let auth = ClientAuth::new(vec![TOKEN.into()], false, None);
        for presented in [None, Some("Bearer wrong-token-0123456789"), Some(TOKEN), Some("Basic Zm9vOmJhcg=="), Some("Bearer ")] {
            let error = auth.authorize(&headers_with(presented)).unwrap_err();
            assert_eq!(error.status(), StatusCode::UNAUTHORIZED, "{presented:?}");
        }
    }

    #[test]
    fn no_tokens_means_nobody_unless_clients_are_assumed_authorized() {
        let empty_token = headers_with(Some("Bearer "));
        assert!(ClientAuth::new(vec![], false, None).authorize(&empty_token).is_err());
        assert!(ClientAuth::new(vec![], true, None).authorize(&headers_with(None)).is_ok());
    }

    #[test]
    fn debug_output_hides_tokens() {
        let shown = format!("{:?}", ClientAuth::new(vec![TOKEN.into()], false, None));
        assert!(!shown.contains(TOKEN) && shown.contains("redacted"));
    }

    #[test]
    fn common_name_patterns_match_like_globs() {
        assert!(glob_matches("build-*", "build-server-1"));
        assert!(glob_matches("*.ci.example.com", "runner.ci.example.com"));
        assert!(glob_matches("a*b*c", "axxbyyc"));
        assert!(glob_matches("exact", "exact"));
        for (pattern, text) in [("build-*", "xbuild-1"), ("*.example.com", "example.com.evil"), ("exact", "exact2"), ("a*b", "a")] {
            assert!(!glob_matches(pattern, text), "{pattern} ~ {text}");
        }
    }

    const CERTIFICATE: &str = include_str!("../tests/fixtures/build-server-2.pem");

    fn forwarded(pem: &str) -> HeaderMap {
        let escaped: String = percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string();
        let mut headers = HeaderMap::new();
        headers.insert("x-client-cert", http::HeaderValue::from_str(&escaped).unwrap());
        headers
    }

    fn rule(fingerprints: Vec<[u8; 32]>, common_names: &[&str]) -> ClientAuth {
        let rule = CertificateRule {
            header: HeaderName::from_static("x-client-cert"),
            fingerprints,
            common_names: common_names.iter().map(|n| n.to_string()).collect(),
        };
        ClientAuth::new(vec![], false, Some(rule))
    }

    #[test]
    fn a_forwarded_certificate_is_accepted_by_fingerprint_or_common_name() {
        let der = Certificate::from_pem(CERTIFICATE.as_bytes()).unwrap().to_der().unwrap();
        let fingerprint: [u8; 32] = Sha256::digest(&der).into();
        assert!(rule(vec![fingerprint], &[]).authorize(&forwarded(CERTIFICATE)).is_ok());
        assert!(rule(vec![], &["build-server-*"]).authorize(&forwarded(CERTIFICATE)).is_ok());
        assert!(rule(vec![[0; 32]], &["deploy-*"]).authorize(&forwarded(CERTIFICATE)).is_err());
        assert!(rule(vec![fingerprint], &["*"]).authorize(&forwarded("not a certificate")).is_err());
        assert!(rule(vec![fingerprint], &["*"]).authorize(&HeaderMap::new()).is_err());
    }
}
