//! Who may read a login's outcome: clients presenting one of the configured bearer
//! tokens, or (HAS's proxy mode) a TLS client certificate that a TLS-terminating proxy
//! forwards in a header, accepted by SHA-256 fingerprint or by subject CN pattern, within
//! its validity dates, in exactly one header, and (with `client_cert_proxy_secret`) only
//! beside the secret that only the proxy sends.

use http::{HeaderMap, HeaderName, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::base::parse::{forwarded_certificate, glob_matches};
use crate::state::UnixTime;

/// Where the proxy puts `client_cert_proxy_secret`.
pub const PROXY_SECRET_HEADER: &str = "x-login-broker-proxy-secret";

/// A client the broker recognised, and by what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// For the person confirming a login: the token's label, or the certificate's subject.
    pub label: String,
    /// What a status call must present to claim a request this client made: the same
    /// token (by label), or the same certificate (by fingerprint).
    pub binding: String,
}

/// One accepted bearer token. Only its SHA-256 is kept: comparing fixed-size digests
/// in constant time leaks neither the tokens' contents nor their lengths.
pub struct ClientToken {
    pub label: String,
    pub digest: [u8; 32],
}

impl ClientToken {
    pub fn new(label: String, token: &str) -> Self {
        Self { label, digest: Sha256::digest(token.as_bytes()).into() }
    }
}

/// A client that may not read login outcomes. The reasons are for the operator's log;
/// the caller learns only which of HAS's answers applies.
#[derive(Debug)]
pub struct Refusal {
    /// Whether a bearer token was presented (RFC 6750: it decides the challenge).
    pub token_was_sent: bool,
    pub reason: &'static str,
    /// Why a forwarded certificate was not accepted, when one was presented.
    pub certificate: Option<CertificateRefusal>,
}

/// Why a forwarded certificate was not accepted, as HAS tells them apart (its p4d
/// extension reads 403 as "certificate not accepted").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateRefusal {
    /// It did not come from the proxy (more than one copy, or without the proxy's
    /// secret): as good as no certificate (401).
    NotFromTheProxy(&'static str),
    /// It cannot be read as a certificate (400).
    Unreadable(&'static str),
    /// A certificate, but not one the broker accepts (403).
    NotPermitted(&'static str),
}

impl CertificateRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotFromTheProxy(reason) | Self::Unreadable(reason) | Self::NotPermitted(reason) => reason,
        }
    }
}

pub struct ClientAuth {
    tokens: Vec<ClientToken>,
    assume_authorized: bool,
    /// Whether `/requests/new` needs credentials too (`require_client_for_new_requests`),
    /// so that every request is bound to the client that made it.
    creators_must_identify: bool,
    certificates: Option<CertificateRule>,
}

/// Which forwarded client certificates are accepted.
#[derive(Debug)]
pub struct CertificateRule {
    /// Where the proxy puts the certificate (see [`forwarded_certificate`] for its forms).
    pub header: HeaderName,
    /// Consulted only when there are no `common_names`, as HAS does. With neither, any
    /// certificate the proxy forwards (with its secret) is accepted, as HAS accepts any:
    /// the proxy checked it against the CA.
    pub fingerprints: Vec<[u8; 32]>,
    /// Patterns for the subject's common name; `*` matches any run of characters.
    pub common_names: Vec<String>,
    /// SHA-256 of `client_cert_proxy_secret`, which must accompany a certificate.
    pub proxy_secret_digest: Option<[u8; 32]>,
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("tokens", &format_args!("[{} redacted]", self.tokens.len()))
            .field("assume_authorized", &self.assume_authorized)
            .field("creators_must_identify", &self.creators_must_identify)
            .field("certificates", &self.certificates)
            .finish()
    }
}

impl ClientAuth {
    pub fn new(tokens: Vec<ClientToken>, assume_authorized: bool, certificates: Option<CertificateRule>) -> Self {
        Self { tokens, assume_authorized, creators_must_identify: false, certificates }
    }

    /// Refuses new requests from clients that do not identify themselves.
    pub fn requiring_creators_to_identify(self) -> Self {
        Self { creators_must_identify: true, ..self }
    }

    #[cfg(test)]
    pub fn assumes_authorized(&self) -> bool {
        self.assume_authorized
    }

    /// A status call's client: who it is, or `None` when every client is assumed
    /// authorized (`assume_client_authorized`).
    pub fn authorize(&self, headers: &HeaderMap, now: UnixTime) -> Result<Option<Client>, Refusal> {
        if self.assume_authorized { Ok(None) } else { self.recognise(headers, now).map(Some) }
    }

    /// The client that creates a request, if it presented credentials (HAS's clients
    /// need not, unless `require_client_for_new_requests`): `None` when it presented
    /// none, or when every client is assumed authorized; refused when what it
    /// presented is not accepted.
    pub fn identify(&self, headers: &HeaderMap, now: UnixTime) -> Result<Option<Client>, Refusal> {
        let presents_certificate = self.certificates.as_ref().is_some_and(|rule| headers.contains_key(&rule.header));
        let anonymous = !(presents_certificate || headers.contains_key(header::AUTHORIZATION));
        if self.assume_authorized || (anonymous && !self.creators_must_identify) {
            return Ok(None);
        }
        self.recognise(headers, now).map(Some)
    }

    fn recognise(&self, headers: &HeaderMap, now: UnixTime) -> Result<Client, Refusal> {
        let by_certificate = match &self.certificates {
            Some(rule) if headers.contains_key(&rule.header) => match rule.accepts(headers, now) {
                Ok(client) => return Ok(client),
                Err(reason) => Some(reason),
            },
            _ => None,
        };
        let refused = |token_was_sent: bool, reason: &'static str| Refusal { token_was_sent, reason, certificate: by_certificate };
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
        // Compare with every digest, so the time taken does not tell which token nearly matched.
        let mut matched = None;
        for accepted in &self.tokens {
            if bool::from(accepted.digest.ct_eq(&digest)) {
                matched = Some(accepted);
            }
        }
        match matched {
            Some(accepted) if !token.is_empty() => {
                Ok(Client { label: accepted.label.clone(), binding: format!("token:{}", accepted.label) })
            }
            _ => Err(refused(true, "bearer token not accepted")),
        }
    }
}

impl CertificateRule {
    fn accepts(&self, headers: &HeaderMap, now: UnixTime) -> Result<Client, CertificateRefusal> {
        use CertificateRefusal::{NotFromTheProxy, NotPermitted, Unreadable};
        // A second copy could come from the client, ahead of or behind the proxy's.
        let mut copies = headers.get_all(&self.header).iter();
        let (Some(forwarded), None) = (copies.next(), copies.next()) else {
            return Err(NotFromTheProxy("more than one forwarded certificate header"));
        };
        if let Some(expected) = &self.proxy_secret_digest {
            let presented = headers.get(PROXY_SECRET_HEADER).map(|value| Sha256::digest(value.as_bytes()));
            if !presented.is_some_and(|digest| bool::from(digest.as_slice().ct_eq(expected))) {
                return Err(NotFromTheProxy("forwarded certificate without the proxy's secret"));
            }
        }
        let certificate = forwarded_certificate(forwarded.to_str().unwrap_or_default()).map_err(Unreadable)?;
        if now < certificate.valid_from || now >= certificate.valid_until {
            return Err(NotPermitted("forwarded certificate is expired or not yet valid"));
        }
        // HAS's order: the common name when patterns are set (fingerprints are then not
        // consulted), else the fingerprint, else any certificate.
        let permitted = if !self.common_names.is_empty() {
            certificate.common_name.as_ref().is_some_and(|name| self.common_names.iter().any(|pattern| glob_matches(pattern, name)))
        } else {
            let known = self.fingerprints.iter().fold(subtle::Choice::from(0), |found, fp| found | fp.ct_eq(&certificate.fingerprint));
            self.fingerprints.is_empty() || bool::from(known)
        };
        if !permitted {
            return Err(NotPermitted(match (self.common_names.is_empty(), &certificate.common_name) {
                (false, Some(_)) => "certificate common name is not accepted",
                (false, None) => "certificate has no common name",
                (true, _) => "certificate fingerprint is not accepted",
            }));
        }
        let fingerprint: String = certificate.fingerprint.iter().map(|byte| format!("{byte:02x}")).collect();
        let label = match &certificate.common_name {
            Some(name) => format!("certificate CN={name}"),
            None => format!("certificate SHA-256 {}…", &fingerprint[..16]),
        };
        Ok(Client { label, binding: format!("certificate:{fingerprint}") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const TOKEN: &str = "client-token-0123456789";
    /// Within the test certificates' validity (2026-11-29 to 2036-11-26).
    const NOW: UnixTime = 1_800_000_000;

    fn headers_with(authorization: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn tokens(tokens: &[(&str, &str)]) -> Vec<ClientToken> {
        tokens.iter().map(|(label, token)| ClientToken::new(label.to_string(), token)).collect()
    }

    #[test]
    fn a_configured_token_is_accepted_and_named_by_its_label() {
        let auth = ClientAuth::new(tokens(&[("ci", "another-token-0123456789"), ("build", TOKEN)]), false, None);
        let client = auth.authorize(&headers_with(Some(&format!("Bearer {TOKEN}"))), NOW).unwrap().unwrap();
        assert_eq!((client.label.as_str(), client.binding.as_str()), ("build", "token:build"));
    }

    #[test]
    fn missing_wrong_and_malformed_credentials_are_refused() {
        let auth = ClientAuth::new(tokens(&[("build", TOKEN)]), false, None);
        for presented in [None, Some("Bearer wrong-token-0123456789"), Some(TOKEN), Some("Basic Zm9vOmJhcg=="), Some("Bearer ")] {
            let refusal = auth.authorize(&headers_with(presented), NOW).unwrap_err();
            assert_eq!(refusal.token_was_sent, presented.is_some(), "{presented:?}");
        }
    }

    #[test]
    fn a_creator_may_stay_anonymous_but_not_present_what_is_not_accepted() {
        let auth = ClientAuth::new(tokens(&[("build", TOKEN)]), false, None);
        assert_eq!(auth.identify(&headers_with(None), NOW).unwrap(), None);
        assert_eq!(auth.identify(&headers_with(Some(&format!("Bearer {TOKEN}"))), NOW).unwrap().unwrap().label, "build");
        assert!(auth.identify(&headers_with(Some("Bearer wrong-token-0123456789")), NOW).is_err());
        let strict = ClientAuth::new(tokens(&[("build", TOKEN)]), false, None).requiring_creators_to_identify();
        assert!(strict.identify(&headers_with(None), NOW).is_err());
        assert!(strict.identify(&headers_with(Some(&format!("Bearer {TOKEN}"))), NOW).is_ok());
        let anyone = ClientAuth::new(vec![], true, None);
        assert_eq!(anyone.identify(&headers_with(Some("Bearer whatever")), NOW).unwrap(), None, "nobody is told apart");
    }

    #[test]
    fn no_tokens_means_nobody_unless_clients_are_assumed_authorized() {
        let empty_token = headers_with(Some("Bearer "));
        assert!(ClientAuth::new(vec![], false, None).authorize(&empty_token, NOW).is_err());
        assert_eq!(ClientAuth::new(vec![], true, None).authorize(&headers_with(None), NOW).unwrap(), None);
    }

    #[test]
    fn debug_output_hides_tokens() {
        let shown = format!("{:?}", ClientAuth::new(tokens(&[("build", TOKEN)]), false, None));
        assert!(!shown.contains(TOKEN) && shown.contains("redacted"));
    }

    const CERTIFICATE: &str = include_str!("../../../../tests/fixtures/build-server-2.pem");

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
            proxy_secret_digest: None,
        };
        ClientAuth::new(vec![], false, Some(rule))
    }

    #[test]
    fn a_forwarded_certificate_is_accepted_by_fingerprint_or_common_name() {
        let fingerprint = forwarded_certificate(CERTIFICATE).unwrap().fingerprint;
        let client = rule(vec![fingerprint], &[]).authorize(&forwarded(CERTIFICATE), NOW).unwrap().unwrap();
        assert_eq!(client.label, "certificate CN=build-server-2");
        assert!(client.binding.starts_with("certificate:") && client.binding.len() == "certificate:".len() + 64);
        assert_eq!(rule(vec![], &["build-server-*"]).authorize(&forwarded(CERTIFICATE), NOW).unwrap(), Some(client));
        assert!(rule(vec![[0; 32]], &["deploy-*"]).authorize(&forwarded(CERTIFICATE), NOW).is_err());
        // HAS's precedence: with patterns set, the fingerprint is not consulted.
        assert!(rule(vec![fingerprint], &["deploy-*"]).authorize(&forwarded(CERTIFICATE), NOW).is_err());
        assert!(rule(vec![fingerprint], &["*"]).authorize(&forwarded("not a certificate"), NOW).is_err());
        assert!(rule(vec![fingerprint], &["*"]).authorize(&HeaderMap::new(), NOW).is_err());
        assert!(rule(vec![fingerprint], &[]).authorize(&forwarded(CERTIFICATE), 4_102_444_800).is_err(), "in 2100, it has expired");
        let mut twice = forwarded(CERTIFICATE);
        twice.append("x-client-cert", twice["x-client-cert"].clone());
        assert!(rule(vec![fingerprint], &[]).authorize(&twice, NOW).is_err(), "two copies of the header");
    }

    fn refusal(auth: &ClientAuth, headers: &HeaderMap) -> Option<CertificateRefusal> {
        auth.authorize(headers, NOW).unwrap_err().certificate
    }

    #[test]
    fn refusals_are_told_apart_as_has_tells_them() {
        let accepts = rule(vec![], &["build-server-*"]);
        assert!(matches!(refusal(&accepts, &forwarded("not a certificate")), Some(CertificateRefusal::Unreadable(_))));
        assert!(matches!(refusal(&rule(vec![], &["deploy-*"]), &forwarded(CERTIFICATE)), Some(CertificateRefusal::NotPermitted(_))));
        let mut twice = forwarded(CERTIFICATE);
        twice.append("x-client-cert", twice["x-client-cert"].clone());
        assert!(matches!(refusal(&accepts, &twice), Some(CertificateRefusal::NotFromTheProxy(_))));
        assert_eq!(refusal(&accepts, &HeaderMap::new()), None, "no certificate at all");
    }

    #[test]
    fn every_form_a_proxy_forwards_in_is_read() {
        let body: String = CERTIFICATE.lines().filter(|line| !line.starts_with("-----")).collect();
        // Each raw, and URL-encoded (so also PEM with its line breaks, which no header can carry raw).
        let forms = [CERTIFICATE.trim().replace('\n', " "), CERTIFICATE.trim().replace('\n', "\t"), body.clone(), format!("{body},{body}")];
        let expected = forwarded_certificate(CERTIFICATE).unwrap().fingerprint;
        for form in forms {
            let mut headers = HeaderMap::new();
            headers.insert("x-client-cert", http::HeaderValue::from_str(&form).unwrap());
            let client = rule(vec![expected], &[]).authorize(&headers, NOW);
            assert!(client.is_ok(), "{form:?}");
            assert_eq!(rule(vec![expected], &[]).authorize(&forwarded(&form), NOW).unwrap(), client.unwrap(), "URL-encoded too");
        }
        assert!(rule(vec![expected], &[]).authorize(&forwarded(CERTIFICATE), NOW).is_ok());
    }

    #[test]
    fn with_nothing_to_match_any_certificate_from_the_proxy_is_accepted() {
        let client = rule(vec![], &[]).authorize(&forwarded(CERTIFICATE), NOW).unwrap().unwrap();
        assert_eq!(client.label, "certificate CN=build-server-2");
        assert!(rule(vec![], &[]).authorize(&forwarded(CERTIFICATE), 4_102_444_800).is_err(), "within its dates only");
    }
}
